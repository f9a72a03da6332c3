"""Route and header secrets: ${VAR} templates resolved only when used, and redacted everywhere else."""

from __future__ import annotations

import gzip
import logging
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.cli import main
from monitor.errors import AlertError, FetchError
from monitor.secrets import (
    Scrubber,
    ScrubFilter,
    has_literal_header_secret,
    has_literal_secret,
    is_sensitive_header,
    redact_headers,
    redact_url,
    referenced_env_vars,
    resolve_headers,
    resolve_url,
)

SLACK = "slack://${SLACK_TOKEN_A}/${SLACK_TOKEN_B}/${SLACK_TOKEN_C}/#pledge-alerts"
MAIL = "mailtos://${SMTP_USER}:${SMTP_PASS}@smtp.example.org?to=audit@example.org"
ENV = {
    "SLACK_TOKEN_A": "T1JJ3T3L2",
    "SLACK_TOKEN_B": "A1BRTD4JD",
    "SLACK_TOKEN_C": "TIiajkdnlazkcOXrIdevi7FQ",
    "SMTP_USER": "pledge-bot",
    "SMTP_PASS": "p@ss/w:rd",
}


def test_referenced_env_vars() -> None:
    assert referenced_env_vars(SLACK) == {"SLACK_TOKEN_A", "SLACK_TOKEN_B", "SLACK_TOKEN_C"}
    assert referenced_env_vars("console://") == set()


def test_resolve_url_fills_references_and_encodes_userinfo() -> None:
    assert resolve_url(SLACK, ENV) == "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#pledge-alerts"
    assert (
        resolve_url(MAIL, ENV) == "mailtos://pledge-bot:p%40ss%2Fw%3Ard@smtp.example.org?to=audit@example.org"
    )
    assert resolve_url("console://", {}) == "console://"


def test_resolve_url_names_the_missing_variable_never_a_value() -> None:
    env = {**ENV, "SMTP_PASS": ""}
    del env["SMTP_USER"]
    with pytest.raises(AlertError) as caught:
        resolve_url(MAIL, env)
    message = str(caught.value)
    assert "SMTP_PASS" in message
    assert "SMTP_USER" in message
    assert "mailtos://smtp.example.org/***" in message
    assert "pledge-bot" not in message
    assert "audit@example.org" not in message


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        (SLACK, "slack://***"),
        (MAIL, "mailtos://smtp.example.org/***"),
        ("json://127.0.0.1:8080/hooks/pledges?token=abc", "json://127.0.0.1:8080/***"),
        ("json://[::1]:8080/hooks", "json://[::1]:8080/***"),
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123", "tgram://***"),
        ("pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@aqxyzs5oqpvdmxbuusy78rl8shvzsy", "pover://***"),
        ("${SLACK_WEBHOOK_URL}", "***"),
        ("console://", "console://"),
        ("not a url", "***"),
    ],
)
def test_redact_url_keeps_scheme_and_host_only(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@pytest.mark.parametrize("template", [SLACK, MAIL])
def test_redacting_a_resolved_url_leaks_no_secret(template: str) -> None:
    redacted = redact_url(resolve_url(template, ENV))
    for secret in ENV.values():
        assert secret not in redacted
    assert "audit" not in redacted


@pytest.mark.parametrize(
    ("template", "literal"),
    [
        ("mailtos://bot:hunter2@smtp.example.org", True),
        ("mailtos://${SMTP_USER}:${SMTP_PASS}@smtp.example.org", False),
        ("json://127.0.0.1/hook?token=abc", True),
        ("json://127.0.0.1/hook?token=${HOOK_TOKEN}", False),
        ("mailtos://bot@smtp.example.org", False),
    ],
)
def test_literal_secrets_are_recognised(template: str, literal: bool) -> None:
    assert has_literal_secret(template) is literal


# --------------------------------------------------------------------------- source headers


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [
        ("Authorization", True),
        ("proxy-authorization", True),
        ("Cookie", True),
        ("X-API-Key", True),
        ("Api-Key", True),
        ("X-Auth-Token", True),
        ("Private-Token", True),
        ("X-Client-Secret", True),
        ("Accept-Language", False),
        ("User-Agent", False),
        ("Referer", False),
    ],
)
def test_sensitive_headers(name: str, sensitive: bool) -> None:
    assert is_sensitive_header(name) is sensitive


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("Bearer ${API_TOKEN}", False),
        ("${API_KEY}", False),
        ("Basic ${BASIC_CREDENTIALS}", False),
        ("session=${SESSION}; csrf=${CSRF}", False),
        ("Bearer abc123", True),
        ("abc123", True),
        ("Bearer abc${API_TOKEN}", True),
        ("session=${SESSION}; theme=dark", True),
        ("", False),
    ],
)
def test_a_literal_credential_in_a_header_is_told_apart_from_a_template(value: str, literal: bool) -> None:
    assert has_literal_header_secret(value) is literal


def test_a_scrubber_hides_secrets_also_encoded_and_url_passwords_and_names_the_target() -> None:
    url = resolve_url(MAIL, ENV)
    scrub = Scrubber({ENV["SMTP_PASS"], url}, replace={url: redact_url(MAIL)})
    assert scrub(f"cannot send to {url}") == "cannot send to mailtos://smtp.example.org/***"
    assert scrub("login pledge-bot:p%40ss%2Fw%3Ard, then p@ss/w:rd") == "login pledge-bot:***, then ***"
    assert scrub("postgresql://pm:other@db/pledges") == "postgresql://pm:***@db/pledges"
    scrub.update({"new-token"})
    assert scrub("Bearer new-token, p@ss/w:rd") == "Bearer ***, p@ss/w:rd"  # swapped, as on a reload


def test_a_scrub_filter_scrubs_message_arguments_fields_and_traceback() -> None:
    record = logging.LogRecord("apprise", logging.ERROR, __file__, 1, "sent %s", ("tok-123",), None)
    record.url = "json://h/tok-123"
    try:
        raise ValueError("tok-123 refused")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert ScrubFilter(Scrubber({"tok-123"})).filter(record)
    text = logging.Formatter().format(record)
    assert "tok-123" not in text
    assert "sent ***" in text
    assert "ValueError: *** refused" in text
    assert record.url == "json://h/***"


def test_resolve_headers_fills_references_and_names_what_is_missing() -> None:
    headers = {"Authorization": "Bearer ${API_TOKEN}", "Accept-Language": "en"}
    resolved = resolve_headers(headers, {"API_TOKEN": "t0k"}, "https://example.org/p")
    assert resolved == {"Authorization": "Bearer t0k", "Accept-Language": "en"}
    with pytest.raises(FetchError) as caught:
        resolve_headers(headers, {}, "https://example.org/p")
    assert caught.value.transient
    assert caught.value.kind == "config"
    assert str(caught.value) == (
        "https://example.org/p: environment variable API_TOKEN is not set (needed by header Authorization)"
    )


def test_redact_headers_keeps_the_shape_not_the_secret() -> None:
    assert redact_headers(
        {
            "Authorization": "Bearer t0k",
            "Cookie": "session=s3ss; csrf=c5rf",
            "Set-Cookie": "sid=s1d; Path=/; HttpOnly",
            "X-Api-Key": "k3y",
            "Content-Type": "text/html",
        }
    ) == {
        "Authorization": "Bearer ***",
        "Cookie": "session=***; csrf=***",
        "Set-Cookie": "sid=***; Path=***; HttpOnly",
        "X-Api-Key": "***",
        "Content-Type": "text/html",
    }


TOKEN = "tok-5f1d9c2e-never-stored"
SESSION = "sess-8a7b6c5d-never-stored"
ISSUED = "sid-issued-4e3d2c1b-never-stored"


def test_a_header_secret_is_sent_resolved_and_kept_nowhere(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token reaches the site; the database, WARC evidence, exports, report and output never hold it."""
    sent: list[tuple[str | None, str | None]] = []

    def handle(request: Request) -> Response:
        sent.append((request.headers.get("Authorization"), request.headers.get("Cookie")))
        body = f"<html><body><p>Members' policy, version {len(sent)}.</p></body></html>"
        return Response(body, content_type="text/html", headers={"Set-Cookie": f"sid={ISSUED}; Path=/"})

    httpserver.expect_request("/members").respond_with_handler(handle)
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(
        "defaults:\n  per_host_delay: 0s\nsources:\n  - id: members\n"
        f"    url: {httpserver.url_for('/members')}\n"
        '    headers: {Authorization: "Bearer ${PM_TEST_TOKEN}", Cookie: "session=${PM_TEST_SESSION}"}\n'
    )
    monkeypatch.delenv("PM_TEST_TOKEN", raising=False)
    monkeypatch.setenv("PM_TEST_SESSION", SESSION)

    outputs = [cli(wl, "check", "--all")]  # the variable is not set: a clear failure, nothing sent
    assert "  members  FAILED: " in outputs[0]
    assert "environment variable PM_TEST_TOKEN is not set (needed by header Authorization)" in outputs[0]
    assert sent == []

    monkeypatch.setenv("PM_TEST_TOKEN", TOKEN)
    outputs += [cli(wl, "check", "--all"), cli(wl, "check", "--all")]
    assert sent == [(f"Bearer {TOKEN}", f"session={SESSION}")] * 2
    outputs += [
        cli(wl, "evidence", "1", "--out", str(tmp_path / "change-1.warc.gz")),
        cli(wl, "export", "--what", "checks", "--format", "jsonl"),
        cli(wl, "export", "--what", "changes", "--format", "json"),
        cli(wl, "report", "--out", str(tmp_path / "site")),
        cli(wl, "history"),
        cli(wl, "show", "1"),
    ]
    warc = gzip.decompress((tmp_path / "change-1.warc.gz").read_bytes())
    assert b"Authorization: Bearer ***" in warc
    assert b"Cookie: session=***" in warc
    assert b"Set-Cookie: sid=***" in warc
    stored = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".gz"]
    for secret in (TOKEN, SESSION, ISSUED):
        assert not any(secret.encode() in data for data in [warc, *stored]), secret
        assert not any(secret in out for out in outputs), secret


def cli(watchlist: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["-w", str(watchlist), *args])
    assert result.exit_code == 0, result.output
    return result.output
