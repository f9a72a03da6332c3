"""Browser sources: pages written by their scripts, loaded in Debian's Chromium through Playwright.

Every page is served for real on 127.0.0.1; the browser is the system's Chromium. A missing
Chromium or Playwright skips these tests, except in CI, where it fails them (tests/browser.py).
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from monitor.browser import GRACE, Browser, RenderRequest
from monitor.check import run_check, source_text
from monitor.checking import SourceState, fetch_source
from monitor.cli import main
from monitor.cycle import run_cycle
from monitor.errors import FetchError
from monitor.fetch import Fetcher
from monitor.store.db import open_engine
from monitor.store.repo import Store
from monitor.watchlist import PageSource, parse_watchlist
from tests import browser as chromium
from tests.receivers import Endpoint, threaded_server
from tests.site import Site

pytestmark = pytest.mark.browser

CLAUSE = "We will not sell facial recognition technology to police departments in the United States"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def shell(text: str, *, delay_ms: int = 50) -> str:
    """A page that is an empty shell until its script writes the policy text, after load."""
    return textwrap.dedent(
        f"""\
        <!doctype html><html><head><meta charset="utf-8"><title>Our commitments</title></head>
        <body><main id="app">Loading...</main>
        <script>
        window.addEventListener("load", () => setTimeout(() => {{
          document.getElementById("app").innerHTML =
            '<article id="policy"><h1>Commitments</h1><p>' + {json.dumps(text)} + '</p></article>';
        }}, {delay_ms}));
        </script></body></html>
        """
    )


def fetching_shell(api: str) -> str:
    """A page whose script fetches its text from another local URL (an API on another port)."""
    return textwrap.dedent(
        f"""\
        <!doctype html><html><head><meta charset="utf-8"><title>Our commitments</title></head>
        <body><main id="app">Loading...</main>
        <script>
        fetch({json.dumps(api)}).then(r => r.json()).then(data => {{
          const article = document.createElement("article");
          article.id = "policy";
          for (const line of data.paragraphs) {{
            const p = document.createElement("p");
            p.textContent = line;
            article.appendChild(p);
          }}
          document.getElementById("app").replaceChildren(article);
        }});
        </script></body></html>
        """
    )


NEVER_LOADS = "<!doctype html><html><body><p>Loading</p><script>while (true) {}</script></body></html>"
NEVER_FILLED = "<!doctype html><html><body><main id='app'>Loading</main></body></html>"


@pytest.fixture(scope="module")
def ready() -> None:
    """Skip (or, in CI, fail) without Chromium; fail loudly without Playwright, a dev dependency."""
    chromium.chromium()
    import playwright  # noqa: F401


@pytest.fixture
def site(ready: None) -> Iterator[Site]:
    server = threaded_server()
    site = Site(server)
    import re

    server.expect_request(re.compile(".*")).respond_with_handler(site.handle)
    yield site
    server.clear()
    server.stop()


@pytest.fixture
def api(httpserver: HTTPServer) -> Iterator[Site]:
    """A second local server, the API the page's script calls (CORS open, as public APIs are)."""
    import re

    site = Site(httpserver)

    def handle(request: object) -> object:
        response = site.handle(request)  # type: ignore[arg-type]
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    httpserver.expect_request(re.compile(".*")).respond_with_handler(handle)  # type: ignore[arg-type]
    return site


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(user_agent="pledge-monitor-test", retries=0, browser_pages=2) as f:
        yield f


def source(url: str, **keys: object) -> PageSource:
    return PageSource.model_validate({"id": "shell", "url": url, **keys})


def api_text(*paragraphs: str) -> str:
    return json.dumps({"paragraphs": list(paragraphs)})


# -- what the browser sees -----------------------------------------------------------------------


def test_the_plain_fetch_sees_the_shell_and_the_browser_sees_the_text(site: Site, fetcher: Fetcher) -> None:
    site.put("/policy", shell(f"{CLAUSE} until there is a national law."))
    plain = source(site.url("/policy"))
    rendered = source(site.url("/policy"), browser=True)
    assert source_text(plain, fetch_source(plain, fetcher)) == "Loading..."
    fetched = fetch_source(rendered, fetcher)
    text = source_text(rendered, fetched)
    assert CLAUSE in text
    assert "Loading" not in text
    assert fetched.content_type == "text/html"
    assert fetched.charset == "utf-8"
    assert (fetched.header("X-Rendered-By") or "").startswith("Chromium ")
    assert fetched.request_headers.get("user-agent") == "pledge-monitor-test"


def test_text_the_script_fetches_from_a_second_local_url_is_read(
    site: Site, api: Site, fetcher: Fetcher
) -> None:
    api.put(
        "/commitments.json", api_text(CLAUSE, "We review every request."), content_type="application/json"
    )
    site.put("/policy", fetching_shell(api.url("/commitments.json")))
    spec = source(site.url("/policy"), browser=True, select="#policy")
    with pytest.raises(Exception, match="matched nothing"):
        source_text(spec, fetch_source(source(site.url("/policy"), select="#policy"), fetcher))
    assert source_text(spec, fetch_source(spec, fetcher)) == f"{CLAUSE}\nWe review every request."
    assert api.hits["/commitments.json"] == 1


def test_wait_for_waits_for_a_late_element(site: Site, fetcher: Fetcher) -> None:
    site.put("/policy", shell(CLAUSE, delay_ms=1500))
    spec = source(site.url("/policy"), browser=True, select="#policy", wait_for="#policy p")
    assert CLAUSE in source_text(spec, fetch_source(spec, fetcher))


def test_an_http_error_in_the_browser_is_the_same_failure_as_without(site: Site, fetcher: Fetcher) -> None:
    site.put("/gone", "<p>Not here</p>", status=404)
    with pytest.raises(FetchError, match="HTTP 404 Not Found") as raised:
        fetch_source(source(site.url("/gone"), browser=True), fetcher)
    assert raised.value.status == 404
    assert not raised.value.transient


def test_a_redirect_followed_by_the_browser_is_kept_as_evidence(site: Site, fetcher: Fetcher) -> None:
    site.put("/old", "", status=301, location="/policy")
    site.put("/policy", shell(CLAUSE))
    fetched = fetch_source(source(site.url("/old"), browser=True), fetcher)
    assert fetched.final_url == site.url("/policy")
    assert [(r.url, r.status) for r in fetched.redirects] == [(site.url("/old"), 301)]
    assert fetched.permanently_moved


# -- hung pages, crashes, recycling --------------------------------------------------------------


def test_a_page_whose_script_never_finishes_is_a_failed_check_within_its_timeout(
    site: Site, fetcher: Fetcher
) -> None:
    site.put("/hang", NEVER_LOADS)
    spec = source(site.url("/hang"), browser=True, timeout="3s")
    started = time.monotonic()
    result = run_check(spec, (), SourceState("shell"), fetcher, lambda _: "", NOW)
    assert result.outcome == "failed"
    assert result.error is not None
    assert isinstance(result.error, FetchError)
    assert result.error.transient
    assert "within 3s" in str(result.error)
    assert time.monotonic() - started < 3 + GRACE  # the worker is back, not stuck on the page
    site.put("/policy", shell(CLAUSE))  # and the browser still serves the next page
    assert CLAUSE in source_text(
        source(site.url("/policy"), browser=True),
        fetch_source(source(site.url("/policy"), browser=True), fetcher),
    )


def test_a_selector_that_never_appears_fails_the_check_as_transient(site: Site, fetcher: Fetcher) -> None:
    site.put("/empty", NEVER_FILLED)
    spec = source(site.url("/empty"), browser=True, wait_for="#policy", timeout="8s")
    result = run_check(spec, (), SourceState("shell"), fetcher, lambda _: "", NOW)
    assert result.outcome == "failed"
    assert isinstance(result.error, FetchError)
    assert result.error.transient
    assert "wait_for '#policy' did not appear within 8s" in str(result.error)


def chromium_pids() -> list[int]:
    """Chromium browser processes started below this test process (not its renderers)."""
    children: dict[int, list[int]] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [os.getpid()]
    while pending:
        pid = pending.pop()
        for child in children.get(pid, []):
            command = commands.get(child, "")
            if "chrom" in command and "--type=" not in command:
                found.append(child)
            pending.append(child)
    return found


def test_a_browser_killed_mid_cycle_is_started_again_and_the_cycle_completes(
    site: Site, tmp_path: Path
) -> None:
    for n in range(6):
        site.put(f"/p/{n}", shell(f"{CLAUSE}, says page {n}.", delay_ms=300))
    watchlist = parse_watchlist(
        "defaults:\n  concurrency: 2\n  per_host: 2\n  per_host_delay: 0s\n  browser: true\nsources:\n"
        + "".join(f"  - id: p{n}\n    url: {site.url(f'/p/{n}')}\n" for n in range(6))
    )
    store = Store(open_engine(f"sqlite:///{tmp_path / 'pm.db'}"))
    store.sync(watchlist, NOW)
    killed: list[int] = []

    def kill_once(_result: object) -> None:
        if not killed:
            pids = chromium_pids()
            assert pids, "no Chromium process found under this test"
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            killed.extend(pids)

    with Fetcher(user_agent="pledge-monitor-test", retries=0, browser_pages=2) as fetcher:
        summary = run_cycle(
            store,
            watchlist,
            fetcher,
            [s.id for s in watchlist.sources],
            clock=lambda: NOW,
            on_result=kill_once,
        )
        assert killed
        assert summary.checked == 6
        assert summary.outcomes["baseline"] >= 5, summary.failures  # at most the page in flight failed
        assert fetcher.browser.launches == 2
        again = run_cycle(
            store,
            watchlist,
            fetcher,
            [s.id for s in watchlist.sources],
            clock=lambda: NOW + timedelta(hours=6),
        )
        assert again.outcomes["failed"] == 0, again.failures
        assert fetcher.browser.launches == 2


def test_chromium_is_replaced_after_its_share_of_pages(site: Site) -> None:
    site.put("/policy", shell(CLAUSE))
    renderer = Browser(user_agent="pledge-monitor-test", pages=1, recycle_after=2)
    try:
        for _ in range(5):
            fetched = renderer.render(RenderRequest(site.url("/policy"), timeout=20, headers={}))
            assert CLAUSE.encode() in fetched.body
        assert renderer.launches == 3
    finally:
        renderer.close()
    assert not chromium_pids()  # closing leaves no browser behind


def test_a_missing_chromium_is_a_clear_permanent_failure(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_MONITOR_CHROMIUM", "/no/such/chromium")
    renderer = Browser(user_agent="pledge-monitor-test")
    missing = r"no Chromium at /no/such/chromium .*PLEDGE_MONITOR_CHROMIUM"
    with pytest.raises(FetchError, match=missing) as raised:
        renderer.render(RenderRequest(site.url("/policy"), timeout=5, headers={}))
    assert not raised.value.transient
    renderer.close()


# -- through the store: conditional GET, change, alert, screenshots ------------------------------


def watchlist_yaml(url: str, hook: str, extra: str = "") -> str:
    return textwrap.dedent(
        f"""\
        defaults:
          per_host_delay: 0s
          confirm_after: 0s
        routes:
          hook:
            urls: ["json://{hook}"]
        sources:
          - id: policy
            url: {url}
            browser: true
            select: "#policy"
        {extra}
        pledges:
          - id: no-police-sales
            company: Example Corp
            title: No facial recognition sales to US police
            made_on: 2020-06-11
            sources: [policy]
            clauses:
              - "{CLAUSE}"
        """
    )


@pytest.fixture
def hook() -> Iterator[Endpoint]:
    server = threaded_server()
    yield Endpoint(server, "/hook")
    server.clear()
    server.stop()


def cli(tmp_path: Path, *args: str) -> str:
    result = CliRunner().invoke(
        main,
        ["--db", f"sqlite:///{tmp_path / 'pm.db'}", "--watchlist", str(tmp_path / "watchlist.yaml"), *args],
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_a_change_made_by_the_script_is_detected_and_alerted(
    site: Site, api: Site, hook: Endpoint, tmp_path: Path
) -> None:
    api.put("/commitments.json", api_text(f"{CLAUSE} until there is a national law."))
    site.put("/policy", fetching_shell(api.url("/commitments.json")), etag=True)
    (tmp_path / "watchlist.yaml").write_text(watchlist_yaml(site.url("/policy"), hook.url))
    assert "(1 baseline)" in cli(tmp_path, "check", "--all")
    # the page's HTML is the same, and answers 304 to a conditional GET: no render, no API call
    assert "(1 not_modified)" in cli(tmp_path, "check", "--all")
    assert api.hits["/commitments.json"] == 1
    # the text the script writes changes; so does the page (its ETag), as when a site deploys
    api.put("/commitments.json", api_text(f"{CLAUSE} at this time, until there is a national law."))
    site.put("/policy", fetching_shell(api.url("/commitments.json")) + "<!-- v2 -->", etag=True)
    assert "(1 changed)" in cli(tmp_path, "check", "--all")
    cli(tmp_path, "alerts", "retry")
    kinds = [post["title"] for post in hook.accepted]
    assert any("weakened" in title.lower() or "reworded" in title.lower() for title in kinds), kinds
    assert any("at this time" in json.dumps(post) for post in hook.accepted)
