"""The HTTP stage against real servers on 127.0.0.1: what comes back, and how failures are classified."""

from __future__ import annotations

import gzip
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.errors import FetchError
from monitor.fetch import MAX_REDIRECTS, Fetched, Fetcher, Redirect, Validators
from tests.test_challenge import AKAMAI_DENIED, CAPTCHA_PAGE, CLOUDFLARE_CHALLENGE

UA = "pledge-monitor-test/1.0 (+https://example.org/contact)"
PAGE = (
    "<html><head><title>Our pledge</title></head>"
    "<body><p>We will not sell facial recognition — ever. Café</p></body></html>"
)


@pytest.fixture(scope="module")
def make_httpserver() -> Iterator[HTTPServer]:
    """Threaded, so HTTP/1.1 (keep-alive, chunked bodies) and a slow handler blocks no other request."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def fetcher(sleeps: list[float]) -> Iterator[Fetcher]:
    with Fetcher(user_agent=UA, backoff=0.01, max_retry_wait=5.0, sleep=sleeps.append) as fetcher:
        yield fetcher


def fetch_error(fetcher: Fetcher, url: str, *, timeout: float = 5.0) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url, timeout=timeout)
    return caught.value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- success ---------------------------------------------------------------------------------


def test_utf8_page_without_charset_keeps_its_bytes(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    body = PAGE.encode("utf-8")
    httpserver.expect_request("/pledge").respond_with_data(body, content_type="text/html")
    url = httpserver.url_for("/pledge")

    fetched = fetcher.fetch(url, timeout=5)

    assert fetched.body == body
    assert fetched.body.decode("utf-8") == PAGE
    assert (fetched.status, fetched.url, fetched.final_url) == (200, url, url)
    assert fetched.content_type == "text/html"
    assert fetched.charset is None
    assert fetched.redirects == ()
    assert not fetched.not_modified
    assert not fetched.permanently_moved
    assert fetched.attempts == 1
    assert 0 < fetched.elapsed < 5


def test_content_type_and_charset_are_normalized(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/").respond_with_data(
        "café".encode("latin-1"), content_type='Text/HTML; Charset="ISO-8859-1"'
    )

    fetched = fetcher.fetch(httpserver.url_for("/"), timeout=5)

    assert fetched.content_type == "text/html"
    assert fetched.charset == "iso-8859-1"
    assert fetched.body == b"caf\xe9"


def test_headers_keep_their_case_and_join_duplicates(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    headers = [("X-Pledge-Tag", "police"), ("X-Pledge-Tag", "moratorium"), ("ETag", '"v7"')]
    httpserver.expect_request("/").respond_with_response(Response(b"ok", headers=headers))

    fetched = fetcher.fetch(httpserver.url_for("/"), timeout=5)

    assert fetched.headers["X-Pledge-Tag"] == "police, moratorium"
    assert fetched.header("x-pledge-tag") == "police, moratorium"
    assert fetched.header("etag") == '"v7"'
    assert fetched.header("X-Missing") is None


def test_gzip_body_is_decompressed(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    body = PAGE.encode("utf-8")
    httpserver.expect_request("/").respond_with_data(
        gzip.compress(body), headers={"Content-Encoding": "gzip"}, content_type="text/html"
    )

    assert fetcher.fetch(httpserver.url_for("/"), timeout=5).body == body


def test_user_agent_default_and_custom_headers_are_sent(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/", headers={"User-Agent": UA, "X-Source": "amazon-post"}).respond_with_data(
        "ok"
    )

    fetcher.fetch(httpserver.url_for("/"), timeout=5, headers={"X-Source": "amazon-post"})

    request, _ = httpserver.log[0]
    assert request.headers["Accept-Encoding"] == "gzip, deflate"
    assert request.headers["Accept"].startswith("text/html")
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers


def test_caller_headers_override_defaults(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/", headers={"Accept": "application/rss+xml"}).respond_with_data("<rss/>")

    assert fetcher.fetch(httpserver.url_for("/"), timeout=5, headers={"Accept": "application/rss+xml"}).body


def test_concurrent_fetches_from_threads_get_their_own_pages(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    for i in range(20):
        httpserver.expect_request(f"/p{i}").respond_with_data(f"page {i}")

    def fetch(i: int) -> bytes:
        return fetcher.fetch(httpserver.url_for(f"/p{i}"), timeout=5).body

    with ThreadPoolExecutor(5) as pool:
        bodies = list(pool.map(fetch, range(20)))

    assert bodies == [f"page {i}".encode() for i in range(20)]


# --- conditional GET -------------------------------------------------------------------------


def test_etag_conditional_get_304_is_not_modified(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304, headers={"ETag": '"v1"'}
    )

    fetched = fetcher.fetch(httpserver.url_for("/"), timeout=5, validators=Validators(etag='"v1"'))

    assert fetched.not_modified
    assert fetched.status == 304
    assert fetched.body == b""
    assert fetched.validators == Validators(etag='"v1"')


def test_last_modified_conditional_get_keeps_validators_a_304_omits(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    stamp = "Wed, 10 Jun 2020 12:00:00 GMT"
    httpserver.expect_request("/", headers={"If-Modified-Since": stamp}).respond_with_data("", status=304)
    sent = Validators(etag='W/"a"', last_modified=stamp)

    fetched = fetcher.fetch(httpserver.url_for("/"), timeout=5, validators=sent)

    assert fetched.not_modified
    assert httpserver.log[0][0].headers["If-None-Match"] == 'W/"a"'
    assert fetched.validators == sent


def test_validators_come_from_a_200(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    stamp = "Thu, 11 Jun 2020 08:00:00 GMT"
    httpserver.expect_request("/").respond_with_data("new", headers={"ETag": '"v2"', "Last-Modified": stamp})

    fetched = fetcher.fetch(httpserver.url_for("/"), timeout=5, validators=Validators(etag='"v1"'))

    assert not fetched.not_modified
    assert fetched.body == b"new"
    assert fetched.validators == Validators(etag='"v2"', last_modified=stamp)


# --- redirects -------------------------------------------------------------------------------


def test_redirect_chain_is_recorded(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    url_c = httpserver.url_for("/c")
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": url_c})
    httpserver.expect_request("/c").respond_with_data("final")
    url_a = httpserver.url_for("/a")

    fetched = fetcher.fetch(url_a, timeout=5)

    assert fetched.redirects == (
        Redirect(url_a, 301, "/b"),
        Redirect(httpserver.url_for("/b"), 302, url_c),
    )
    assert (fetched.url, fetched.final_url, fetched.status, fetched.body) == (url_a, url_c, 200, b"final")
    assert [hop.permanent for hop in fetched.redirects] == [True, False]
    assert not fetched.permanently_moved
    assert fetched.attempts == 1


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_means_moved(httpserver: HTTPServer, fetcher: Fetcher, status: int) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=status, headers={"Location": "new"})
    httpserver.expect_request("/new").respond_with_data("moved here")

    fetched = fetcher.fetch(httpserver.url_for("/old"), timeout=5)

    assert fetched.permanently_moved
    assert fetched.final_url == httpserver.url_for("/new")
    assert fetched.redirects[0].permanent


def test_cookies_carry_across_hops_of_one_fetch_only(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    def page(request: Request) -> Response:
        if request.cookies.get("seen") == "1":
            return Response("the pledge")
        return Response("", status=302, headers={"Location": "/start"})

    httpserver.expect_request("/start").respond_with_response(
        Response("", status=302, headers={"Location": "/page", "Set-Cookie": "seen=1; Path=/"})
    )
    httpserver.expect_request("/page").respond_with_handler(page)

    first = fetcher.fetch(httpserver.url_for("/start"), timeout=5)
    second = fetcher.fetch(httpserver.url_for("/page"), timeout=5)

    assert first.body == b"the pledge"
    assert first.final_url == httpserver.url_for("/page")
    # The shared session kept no cookie, so the second fetch had to do the dance itself.
    assert [hop.status for hop in second.redirects] == [302, 302]
    assert second.final_url == httpserver.url_for("/page")
    assert not second.permanently_moved


def test_redirect_loop_stops_after_max_redirects(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})

    error = fetch_error(fetcher, httpserver.url_for("/loop"))

    assert (error.kind, error.transient) == ("redirects", True)
    assert f"more than {MAX_REDIRECTS} redirects" in error.reason
    assert len(httpserver.log) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [({}, "HTTP 302 Found without a Location header"), ({"Location": "ftp://example.org/x"}, "invalid URL")],
)
def test_unfollowable_redirect_is_transient(
    httpserver: HTTPServer, fetcher: Fetcher, headers: dict[str, str], reason: str
) -> None:
    httpserver.expect_request("/").respond_with_data("", status=302, headers=headers)

    error = fetch_error(fetcher, httpserver.url_for("/"))

    assert (error.kind, error.transient, error.status) == ("redirects", True, 302)
    assert reason in error.reason


# --- HTTP errors and retries -----------------------------------------------------------------


@pytest.mark.parametrize(("status", "phrase"), [(404, "Not Found"), (410, "Gone")])
def test_missing_page_is_not_transient_and_not_retried(
    httpserver: HTTPServer, fetcher: Fetcher, sleeps: list[float], status: int, phrase: str
) -> None:
    httpserver.expect_request("/").respond_with_data("no such page", status=status)

    error = fetch_error(fetcher, httpserver.url_for("/"))

    assert (error.kind, error.status, error.transient) == ("http", status, False)
    assert error.reason == f"HTTP {status} {phrase}"
    assert len(httpserver.log) == 1
    assert sleeps == []


def test_error_after_a_redirect_names_the_hop(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/gone"})
    httpserver.expect_request("/gone").respond_with_data("", status=404)

    error = fetch_error(fetcher, httpserver.url_for("/old"))

    assert error.url == httpserver.url_for("/old")
    assert error.reason == f"HTTP 404 Not Found at {httpserver.url_for('/gone')}"


def test_plain_403_is_not_transient(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/").respond_with_data("<h1>Forbidden</h1>", status=403)

    error = fetch_error(fetcher, httpserver.url_for("/"))

    assert (error.kind, error.status, error.transient) == ("http", 403, False)


def test_500_is_retried_then_transient(httpserver: HTTPServer, fetcher: Fetcher, sleeps: list[float]) -> None:
    httpserver.expect_request("/").respond_with_data("oops", status=500)

    error = fetch_error(fetcher, httpserver.url_for("/"))

    assert (error.kind, error.status, error.transient) == ("http", 500, True)
    assert error.reason == "HTTP 500 Internal Server Error after 3 attempts"
    assert len(httpserver.log) == 3
    assert sleeps == [0.01, 0.02]


def test_success_after_one_503(httpserver: HTTPServer, fetcher: Fetcher, sleeps: list[float]) -> None:
    httpserver.expect_oneshot_request("/").respond_with_data("busy", status=503)
    httpserver.expect_request("/").respond_with_data("the pledge")

    fetched = fetcher.fetch(httpserver.url_for("/"), timeout=5)

    assert fetched.body == b"the pledge"
    assert fetched.attempts == 2
    assert sleeps == [0.01]


def test_429_retry_after_seconds_is_honoured(
    httpserver: HTTPServer, fetcher: Fetcher, sleeps: list[float]
) -> None:
    httpserver.expect_oneshot_request("/").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "3"}
    )
    httpserver.expect_request("/").respond_with_data("ok")

    assert fetcher.fetch(httpserver.url_for("/"), timeout=5).attempts == 2
    assert sleeps == [3.0]


def test_retry_after_http_date_is_honoured(
    httpserver: HTTPServer, fetcher: Fetcher, sleeps: list[float]
) -> None:
    when = formatdate(time.time() + 3, usegmt=True)
    httpserver.expect_oneshot_request("/").respond_with_data(
        "down", status=503, headers={"Retry-After": when}
    )
    httpserver.expect_request("/").respond_with_data("ok")

    fetcher.fetch(httpserver.url_for("/"), timeout=5)

    assert len(sleeps) == 1
    assert 1.5 < sleeps[0] <= 3.0


def test_retry_after_beyond_the_cap_gives_up_at_once(
    httpserver: HTTPServer, fetcher: Fetcher, sleeps: list[float]
) -> None:
    httpserver.expect_request("/").respond_with_data("later", status=429, headers={"Retry-After": "3600"})

    error = fetch_error(fetcher, httpserver.url_for("/"))

    assert (error.kind, error.status, error.transient) == ("http", 429, True)
    assert error.reason == "HTTP 429 Too Many Requests; the server asked to wait 3600s"
    assert sleeps == []
    assert len(httpserver.log) == 1


def test_backoff_doubles_up_to_the_cap(httpserver: HTTPServer) -> None:
    sleeps: list[float] = []
    httpserver.expect_request("/").respond_with_data("", status=502)

    with Fetcher(user_agent=UA, retries=3, backoff=1.0, max_retry_wait=1.5, sleep=sleeps.append) as fetcher:
        error = fetch_error(fetcher, httpserver.url_for("/"))

    assert sleeps == [1.0, 1.5, 1.5]
    assert error.reason == "HTTP 502 Bad Gateway after 4 attempts"


# --- network failures ------------------------------------------------------------------------


def test_timeout_is_transient_and_retried(
    httpserver: HTTPServer, fetcher: Fetcher, sleeps: list[float]
) -> None:
    release = threading.Event()

    def stall(request: Request) -> Response:
        release.wait(5)
        return Response("too late")

    httpserver.expect_request("/").respond_with_handler(stall)
    try:
        error = fetch_error(fetcher, httpserver.url_for("/"), timeout=0.2)
        gave_up_first = not release.is_set()  # a fetch without its timeout would get "too late" first
    finally:
        release.set()

    assert gave_up_first
    assert (error.kind, error.transient, error.status) == ("timeout", True, None)
    assert error.reason == "timed out after 0.2s (3 attempts)"
    assert sleeps == [0.01, 0.02]


def test_a_trickling_body_hits_the_total_deadline(httpserver: HTTPServer) -> None:
    stop = threading.Event()

    sent: list[int] = []

    def trickle() -> Iterator[bytes]:
        for n in range(40):  # two seconds, each chunk well within the read timeout
            if stop.wait(0.05):
                return
            sent.append(n)
            yield b"x" * 10

    httpserver.expect_request("/").respond_with_response(Response(trickle()))
    with Fetcher(user_agent=UA, retries=0) as fetcher:
        try:
            error = fetch_error(fetcher, httpserver.url_for("/"), timeout=0.3)
            sent_by_then = len(sent)
        finally:
            stop.set()

    assert sent_by_then < 40  # the fetch gave up while the body was still coming
    assert (error.kind, error.transient) == ("timeout", True)
    assert error.reason == "timed out after 0.3s"


def test_connection_refused_is_transient(fetcher: Fetcher, sleeps: list[float]) -> None:
    error = fetch_error(fetcher, f"http://127.0.0.1:{free_port()}/")

    assert (error.kind, error.transient) == ("connection", True)
    assert error.reason == "connection refused after 3 attempts"
    assert sleeps == [0.01, 0.02]


@pytest.fixture(scope="module")
def self_signed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HTTPServer]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder: Path = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    yield server
    server.stop()


def test_untrusted_certificate_is_a_transient_tls_error(
    self_signed_server: HTTPServer, fetcher: Fetcher
) -> None:
    self_signed_server.expect_request("/").respond_with_data("secret")

    error = fetch_error(fetcher, self_signed_server.url_for("/"))

    assert (error.kind, error.transient) == ("tls", True)
    assert error.reason.startswith("TLS certificate not accepted")


@pytest.mark.parametrize(
    "url", ["not a url", "ftp://example.org/pledge", "http://", "http://exa mple.com/", "http://a..b/"]
)
def test_invalid_url_is_not_transient(fetcher: Fetcher, url: str) -> None:
    error = fetch_error(fetcher, url)

    assert (error.kind, error.transient, error.url) == ("invalid_url", False, url)
    assert "invalid URL" in error.reason


# --- body limits -----------------------------------------------------------------------------


def test_too_large_by_content_length(httpserver: HTTPServer, sleeps: list[float]) -> None:
    httpserver.expect_request("/").respond_with_data(b"x" * 2048)

    with Fetcher(user_agent=UA, max_body=1024, sleep=sleeps.append) as fetcher:
        error = fetch_error(fetcher, httpserver.url_for("/"))

    assert (error.kind, error.transient, error.status) == ("too_large", False, 200)
    assert error.reason == "body of 2048 bytes is larger than the 1 KB limit"
    assert sleeps == []


def test_too_large_without_content_length(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_response(Response(iter([b"x" * 1000] * 3)))

    with Fetcher(user_agent=UA, max_body=2048) as fetcher:
        error = fetch_error(fetcher, httpserver.url_for("/"))

    assert httpserver.log[0][1].headers.get("Content-Length") is None
    assert (error.kind, error.transient) == ("too_large", False)
    assert error.reason == "body larger than 2 KB limit"


def test_a_body_just_under_the_limit_is_kept(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_response(Response(iter([b"x" * 1024] * 2)))

    with Fetcher(user_agent=UA, max_body=2048) as fetcher:
        assert len(fetcher.fetch(httpserver.url_for("/"), timeout=5).body) == 2048


def test_limit_applies_to_the_decompressed_body(httpserver: HTTPServer) -> None:
    bomb = gzip.compress(b"\0" * (1024 * 1024))
    httpserver.expect_request("/").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})

    with Fetcher(user_agent=UA, max_body=100 * 1024) as fetcher:
        error = fetch_error(fetcher, httpserver.url_for("/"))

    assert len(bomb) < 100 * 1024
    assert error.kind == "too_large"


def test_body_cap_stops_reading_early(httpserver: HTTPServer) -> None:
    chunk, total = b"x" * 65536, 1600  # 100 MB on offer
    sent: list[int] = []
    finished = threading.Event()

    def endless() -> Iterator[bytes]:
        try:
            for _ in range(total):
                sent.append(1)
                yield chunk
        finally:
            finished.set()

    httpserver.expect_request("/").respond_with_response(Response(endless()))
    with Fetcher(user_agent=UA, max_body=256 * 1024) as fetcher:
        error = fetch_error(fetcher, httpserver.url_for("/"))

    assert error.kind == "too_large"
    assert finished.wait(5), "the server kept sending: the client never hung up"
    assert len(sent) < total // 4


def test_empty_200_is_transient(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/").respond_with_data(b"")

    error = fetch_error(fetcher, httpserver.url_for("/"))

    assert (error.kind, error.transient, error.status) == ("empty", True, 200)
    assert error.reason == "HTTP 200 OK with an empty body"


# --- bot challenges --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (403, {"cf-mitigated": "challenge", "Server": "cloudflare"}, b"<html>wait</html>"),
        (503, {"Server": "cloudflare"}, CLOUDFLARE_CHALLENGE),
        (403, {"Server": "AkamaiGHost"}, AKAMAI_DENIED),
        (429, {}, CAPTCHA_PAGE),
        (200, {}, CLOUDFLARE_CHALLENGE),
    ],
    ids=["cloudflare-403-header", "cloudflare-503-page", "akamai-403", "captcha-429", "challenge-as-200"],
)
def test_bot_challenge_is_transient_and_not_retried(
    httpserver: HTTPServer,
    fetcher: Fetcher,
    sleeps: list[float],
    status: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    httpserver.expect_request("/").respond_with_data(body, status=status, headers=headers)

    error = fetch_error(fetcher, httpserver.url_for("/"))

    assert (error.kind, error.transient, error.status) == ("bot_challenge", True, status)
    assert "bot" in error.reason
    assert sleeps == []
    assert len(httpserver.log) == 1


# --- Fetched on its own ----------------------------------------------------------------------


def make_fetched(url: str, final_url: str, *redirects: Redirect) -> Fetched:
    return Fetched(
        url=url,
        final_url=final_url,
        status=200,
        headers={"Content-Type": "text/plain"},
        body=b"x",
        redirects=redirects,
        elapsed=0.1,
        not_modified=False,
        attempts=1,
    )


def test_permanently_moved_needs_every_hop_permanent_and_a_new_address() -> None:
    a, b = "https://example.org/a", "https://example.org/b"

    assert make_fetched(a, b, Redirect(a, 301, b)).permanently_moved
    assert not make_fetched(
        a, b, Redirect(a, 301, "/x"), Redirect("https://example.org/x", 307, b)
    ).permanently_moved
    assert not make_fetched(a, a, Redirect(a, 308, b), Redirect(b, 301, a)).permanently_moved
    assert not make_fetched(a, a).permanently_moved


def test_proxy_variables_are_still_honoured(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session reads the environment once per origin, not per request; a proxy still applies."""
    seen: list[str] = []

    def proxy(request: Request) -> Response:
        seen.append(request.url)
        return Response("<p>via the proxy</p>", content_type="text/html")

    httpserver.expect_request(re.compile(".*")).respond_with_handler(proxy)
    monkeypatch.setenv("HTTP_PROXY", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("NO_PROXY", "")
    with Fetcher(user_agent="pledge-monitor-test", retries=0) as fetcher:
        fetched = fetcher.fetch("http://pledges-proxy-test.invalid/policy", timeout=5)
    assert fetched.body == b"<p>via the proxy</p>"
    assert seen
    assert seen[0].endswith("/policy")
    monkeypatch.setenv("NO_PROXY", "pledges-noproxy-test.invalid")
    with Fetcher(user_agent="pledge-monitor-test", retries=0) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch("http://pledges-noproxy-test.invalid/policy", timeout=5)
    assert caught.value.transient
    assert caught.value.kind == "connection"
