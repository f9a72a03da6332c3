"""The dashboard in Chromium (Playwright, Debian's browser) against a real ``serve`` on the demo database.

One story, as a person would click it: the tracker, a company, a pledge, a change and its diff,
the WARC download; then signed in with a token: acknowledge an event, mute a source and see
the next alert held back; and the same pages without a token offer no actions and refuse POSTs.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from warcio.archiveiterator import ArchiveIterator

from monitor.alerts.deliver import deliver_due
from monitor.cycle import run_cycle
from monitor.fetch import Fetcher
from monitor.store.db import open_engine
from monitor.store.repo import Store
from monitor.watchlist import load_watchlist
from tests import browser
from tests.receivers import free_port

pytestmark = pytest.mark.browser
PLEDGE = "ibm-no-general-purpose-fr"
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CLI = [str(Path(sys.executable).parent / "pledge-monitor")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "kept"
    done = subprocess.run([*CLI, "demo", "--keep", str(folder)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder


def cli(demo: Path, *args: str) -> str:
    base = ["-w", str(demo / "watchlist.yaml"), "--db", f"sqlite:///{demo / 'demo.db'}"]
    done = subprocess.run([*CLI, *base, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def token(demo: Path) -> str:
    return cli(demo, "token", "create", "alice").strip()


@pytest.fixture(scope="module")
def url(demo: Path, token: str) -> Iterator[str]:
    port = free_port()
    base = ["-w", str(demo / "watchlist.yaml"), "--db", f"sqlite:///{demo / 'demo.db'}"]
    server = subprocess.Popen(
        [*CLI, *base, "serve", "--port", str(port), "--actions"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(address + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, "serve did not start"
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
        yield address
    finally:
        server.terminate()
        server.wait(20)


@pytest.fixture(scope="module")
def page(url: str) -> Iterator[object]:
    playwright_sync = pytest.importorskip("playwright.sync_api")
    executable = browser.chromium()
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=LAUNCH_FLAGS, headless=True)
        context = chromium.new_context(accept_downloads=True)
        yield context.new_page()
        context.close()
        chromium.close()


def test_browse_the_tracker_a_company_a_pledge_a_change_and_its_warc(page: object, url: str) -> None:
    p: object = page
    p.goto(url + "/")  # type: ignore[attr-defined]
    assert p.title() == "Pledge tracker · pledge-monitor"  # type: ignore[attr-defined]
    p.select_option("select[name=company]", "IBM")  # type: ignore[attr-defined]
    p.click("form.filters button")  # type: ignore[attr-defined]
    rows = p.locator("#pledges tbody tr")  # type: ignore[attr-defined]
    companies = {rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())}
    assert companies == {"IBM"}
    p.click(f"a[href='/pledge/{PLEDGE}']")  # type: ignore[attr-defined]
    assert "No general purpose facial recognition" in p.locator("h1").inner_text()  # type: ignore[attr-defined]
    assert "checked" in p.locator("#attestation").inner_text()  # type: ignore[attr-defined]
    p.locator("#changes a").first.click()  # type: ignore[attr-defined]
    assert p.locator(".diff del").count() > 0
    assert p.locator(".diff ins").count() > 0
    with p.expect_download() as info:  # type: ignore[attr-defined]
        p.click("text=WARC of this change")  # type: ignore[attr-defined]
    data = Path(info.value.path()).read_bytes()
    assert [r.rec_type for r in ArchiveIterator(io.BytesIO(data))].count("response") == 2


def test_without_a_token_there_are_no_actions_and_posts_are_refused(page: object, url: str) -> None:
    p: object = page
    p.goto(url + f"/pledge/{PLEDGE}")  # type: ignore[attr-defined]
    assert p.locator("form.ack-form").count() == 0  # type: ignore[attr-defined]
    assert p.locator("text=Sign in").count() == 1  # type: ignore[attr-defined]
    p.goto(url + "/source/ibm-letter")  # type: ignore[attr-defined]
    assert p.locator("form.mute-form").count() == 0  # type: ignore[attr-defined]
    for path in ("/events/1/ack", "/mutes"):
        assert requests.post(url + path, data={"note": "x"}, timeout=30).status_code == 401
    assert requests.post(url + "/api/mutes", json={}, timeout=30).status_code == 401


def test_acknowledge_an_event_and_see_it_in_the_timeline(page: object, url: str, token: str) -> None:
    p: object = page
    p.goto(url + f"/login?next=/pledge/{PLEDGE}")  # type: ignore[attr-defined]
    p.fill("#token", token)  # type: ignore[attr-defined]
    with p.expect_navigation():  # type: ignore[attr-defined]
        p.click("form.action button")  # type: ignore[attr-defined]
    assert p.url == url + f"/pledge/{PLEDGE}", p.content()  # type: ignore[attr-defined]
    assert "signed in as alice" in p.locator("nav").inner_text()  # type: ignore[attr-defined]
    form = p.locator("form.ack-form").first  # type: ignore[attr-defined]
    form.locator("input[name=note]").fill("confirmed weakening")
    with p.expect_navigation():  # type: ignore[attr-defined]
        form.locator("button").click()
    assert p.locator(".ack", has_text="acknowledged by alice").count() == 1  # type: ignore[attr-defined]
    assert "“confirmed weakening”" in p.locator(".ack").first.inner_text()  # type: ignore[attr-defined]


def test_mute_a_source_and_see_the_next_alert_held_back(page: object, url: str, demo: Path) -> None:
    p: object = page
    p.goto(url + "/source/ibm-letter")  # type: ignore[attr-defined]
    p.fill("#until", "2999-01-01")  # type: ignore[attr-defined]
    p.fill("form.mute-form input[name=note]", "site rebuild")  # type: ignore[attr-defined]
    with p.expect_navigation():  # type: ignore[attr-defined]
        p.click("form.mute-form button")  # type: ignore[attr-defined]
    assert "Alerts muted until 2999-01-01" in p.locator("#muted").inner_text()  # type: ignore[attr-defined]
    # the next alert: the demo's site is gone, so three checks fail and raise source.failing
    watchlist = load_watchlist(demo / "watchlist.yaml")
    store = Store(open_engine(f"sqlite:///{demo / 'demo.db'}"))
    with Fetcher(user_agent="pledge-monitor-test", retries=0) as fetcher:
        for _ in range(3):
            run_cycle(store, watchlist, fetcher, ["ibm-letter"])
    failing = [e for e in store.events(source_id="ibm-letter") if e.kind == "source.failing"][-1]
    deliver_due(store, watchlist, now=datetime.now(UTC), stream=io.StringIO())
    p.goto(url + f"/event/{failing.id}")  # type: ignore[attr-defined]
    statuses = p.locator("#alerts li").all_inner_texts()  # type: ignore[attr-defined]
    assert statuses
    assert all("muted (kept, not sent)" in s for s in statuses)
    p.goto(url + "/alerts?status=muted")  # type: ignore[attr-defined]
    assert p.locator("#alert-list", has_text="ibm-letter: 3 checks in a row failed").count() == 1  # type: ignore[attr-defined]
