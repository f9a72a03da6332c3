"""Connections for the fetch stage: URLs as requests sends them, proxies from the environment, TLS trust."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import requests

from monitor.errors import FetchError, MonitorError
from monitor.transport import Transport, origin, prepared_url, proxy_for, tls_context


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("http://example.org", "http://example.org/"),
        ("HTTP://Example.ORG/Policy?x=1#top", "http://example.org/Policy?x=1#top"),
        ("https://example.org/a b/c", "https://example.org/a%20b/c"),
        ("https://bücher.example/recht", "https://xn--bcher-kva.example/recht"),
    ],
)
def test_urls_are_sent_as_requests_would_send_them(url: str, sent: str) -> None:
    assert prepared_url(url) == sent


def test_a_url_requests_cannot_send_raises_its_error() -> None:
    with pytest.raises(requests.exceptions.MissingSchema):
        prepared_url("example.org/policy")


def test_the_origin_is_what_the_proxy_choice_depends_on() -> None:
    assert origin("HTTPS://example.org:8443/a/b?c=d#e") == "https://example.org:8443/"
    assert origin("http://example.org?q=1") == "http://example.org/"


def test_proxies_come_from_the_environment_and_no_proxy_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "intranet.example")
    assert proxy_for("https://example.org/") == "http://proxy.internal:3128"
    assert proxy_for("https://intranet.example/") is None
    assert proxy_for("http://example.org/") is None  # only HTTPS has a proxy here


@pytest.mark.filterwarnings("ignore:SOCKS support in urllib3 requires")
def test_a_socks_proxy_without_pysocks_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "socks5://user:secret@proxy.internal:1080")
    monkeypatch.setenv("NO_PROXY", "")
    transport = Transport(2)
    with pytest.raises(FetchError) as caught:
        transport.send("http://example.org/policy", {}, timeout=1)
    assert "SOCKS" in caught.value.reason
    assert "secret" not in str(caught.value)
    assert not caught.value.transient


def test_a_proxy_of_an_unknown_scheme_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "ftp://user:secret@proxy.internal:21")
    monkeypatch.setenv("NO_PROXY", "")
    with pytest.raises(FetchError) as caught:
        Transport(2).send("http://example.org/policy", {}, timeout=1)
    assert "not an http, https or socks URL" in caught.value.reason
    assert "secret" not in str(caught.value)


def test_tls_trusts_the_bundle_requests_would(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import certifi

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    default = tls_context()
    assert default.verify_mode == ssl.CERT_REQUIRED
    assert default.cert_store_stats()["x509_ca"] > 0  # certifi's bundle is loaded
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(empty))
    with pytest.raises(MonitorError, match=f"REQUESTS_CA_BUNDLE={empty}"):
        tls_context()  # the variable is honoured: an empty bundle is refused, not ignored
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    assert tls_context().cert_store_stats()["x509_ca"] == default.cert_store_stats()["x509_ca"]
