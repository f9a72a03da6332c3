"""A pass over sources against a real local web site, recorded in a real SQLite file."""

from __future__ import annotations

import os
import random
import re
import threading
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug import Request, Response

from monitor import diff as differ
from monitor.cycle import HostGate, run_cycle
from monitor.fetch import Fetched, Fetcher
from monitor.store import models as m
from monitor.store.repo import Store
from monitor.watchlist import Watchlist
from tests.conftest import WriteWatchlist
from tests.site import Clock, Site, policy_page

BOTH_BACKENDS = True  # the store's behaviour is tested on SQLite and on PostgreSQL

ARTICLE = """<h1>Our facial recognition commitments</h1>
<p>We will not sell facial recognition technology to police departments in the United States
until there is a national law in place.</p>
<p>We review every request against our principles.</p>"""


def watchlist_for(write: WriteWatchlist, site: Site, *, etag_path: str = "/policy") -> Watchlist:
    return write(
        f"""
        defaults:
          per_host: 10
          per_host_delay: 0s
        sources:
          - id: policy
            url: {site.url(etag_path)}
            select: "#policy"
        pledges:
          - id: no-police-sales
            company: Example Corp
            title: No facial recognition sales to US police
            made_on: 2020-06-11
            sources: [policy]
            clauses:
              - "We will not sell facial recognition technology to police departments in the United States"
        """
    )


def cycle(store: Store, wl: Watchlist, fetcher: Fetcher, clock: Clock) -> None:
    store.sync(wl, clock())
    run_cycle(store, wl, fetcher, [s.id for s in wl.sources], clock=clock, rng=random.Random(1))


def count(store: Store, model: type[m.Base]) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_first_check_stores_a_snapshot(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    wl = watchlist_for(write_watchlist, site)
    cycle(store, wl, fetcher, Clock())
    assert (count(store, m.Check), count(store, m.Snapshot), count(store, m.Change)) == (1, 1, 0)
    snap = store.snapshot(1)
    text = store.load_text(snap.text_hash)
    assert "We will not sell facial recognition technology" in text
    assert "Home | Policies" not in text  # outside the selection
    assert store.load_blob(snap.body_hash) == policy_page(ARTICLE).encode()  # kept as fetched
    assert store.checks()[0].outcome == "baseline"


def test_unchanged_page_adds_only_a_check_row(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    wl = watchlist_for(write_watchlist, site)
    clock = Clock()
    cycle(store, wl, fetcher, clock)
    clock.advance(hours=7)
    cycle(store, wl, fetcher, clock)
    assert (
        count(store, m.Check),
        count(store, m.Snapshot),
        count(store, m.Change),
        count(store, m.Event),
    ) == (
        2,
        1,
        0,
        0,
    )
    assert store.checks()[0].outcome == "unchanged"


def test_not_modified_is_unchanged_not_an_error(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(ARTICLE), etag=True)
    wl = watchlist_for(write_watchlist, site)
    clock = Clock()
    cycle(store, wl, fetcher, clock)
    clock.advance(hours=7)
    cycle(store, wl, fetcher, clock)
    latest = store.checks()[0]
    assert latest.outcome == "not_modified"
    assert latest.status == 304
    assert latest.error is None
    assert (count(store, m.Snapshot), count(store, m.Change)) == (1, 0)


def test_a_change_in_the_selected_text_names_exactly_the_changed_words(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    wl = watchlist_for(write_watchlist, site)
    clock = Clock()
    cycle(store, wl, fetcher, clock)
    site.put("/policy", policy_page(ARTICLE.replace("every request", "every new request carefully")))
    clock.advance(hours=7)
    cycle(store, wl, fetcher, clock)
    changes = store.changes()
    assert len(changes) == 1
    change = changes[0]
    assert (change.added_words, change.removed_words) == (2, 0)
    old = store.snapshot_text(change.from_snapshot_id)
    rebuilt = differ.from_delta(old, change.delta)
    assert [a.strip() for a in rebuilt.added()] == ["new", "carefully"]
    assert rebuilt.removed() == []
    events = store.events()
    assert [e.kind for e in events] == ["source.changed"]  # the clause itself did not change


def test_changes_outside_the_selection_or_in_whitespace_record_none(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    wl = watchlist_for(write_watchlist, site)
    clock = Clock()
    cycle(store, wl, fetcher, clock)
    variants = [
        policy_page(ARTICLE, nav="Home | Blog | Careers"),
        policy_page(ARTICLE, footer="© 2027 Example Corp", banner="<div class=cookie>We use cookies</div>"),
        policy_page(ARTICLE.replace("\n", "\n\n   ").replace(" police", "   police")),
    ]
    for body in variants:
        site.put("/policy", body)
        clock.advance(hours=7)
        cycle(store, wl, fetcher, clock)
    assert count(store, m.Check) == 4
    assert (count(store, m.Snapshot), count(store, m.Change), count(store, m.Event)) == (1, 0, 0)
    assert [c.outcome for c in store.checks()][:3] == ["same_text"] * 3


def test_a_failed_fetch_is_logged_and_is_no_change(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    wl = watchlist_for(write_watchlist, site)
    clock = Clock()
    cycle(store, wl, fetcher, clock)
    site.put("/policy", "oops", status=503)
    clock.advance(hours=7)
    cycle(store, wl, fetcher, clock)
    latest = store.checks()[0]
    assert latest.outcome == "failed"
    assert latest.status == 503
    assert "503" in (latest.error or "")
    assert (count(store, m.Snapshot), count(store, m.Change), count(store, m.Event)) == (1, 0, 0)


def test_storage_per_check_stays_small(
    site: Site, write_watchlist: WriteWatchlist, fetcher: Fetcher, tmp_path: Path
) -> None:
    """An unchanged check costs a small row; a one-sentence change on a 50 KB page under 5 KB."""
    from monitor.store.db import open_engine

    db = tmp_path / "pledge-monitor.db"
    store = Store(open_engine(f"sqlite:///{db}"))
    rng = random.Random(7)
    words = ["pledge", "police", "technology", "commitment", "review", "principles", "customers", "law"]
    paragraphs = [
        "<p>" + " ".join(rng.choice(words) for _ in range(60)) + f" paragraph {i}.</p>" for i in range(120)
    ]
    article = "\n".join(paragraphs)
    assert 45_000 < len(policy_page(article)) < 70_000
    site.put("/policy", policy_page(article))
    wl = watchlist_for(write_watchlist, site)
    clock = Clock()
    cycle(store, wl, fetcher, clock)

    def size() -> int:
        with store.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return os.path.getsize(db)

    for _ in range(50):  # let the pages settle
        clock.advance(hours=7)
        cycle(store, wl, fetcher, clock)
    before = size()
    for _ in range(200):
        clock.advance(hours=7)
        cycle(store, wl, fetcher, clock)
    per_check = (size() - before) / 200
    assert per_check < 300, per_check

    paragraphs[60] = "<p>We will now sell to police departments where the law permits it.</p>"
    site.put("/policy", policy_page("\n".join(paragraphs)))
    before = size()
    clock.advance(hours=7)
    cycle(store, wl, fetcher, clock)
    assert count(store, m.Change) == 1
    assert size() - before < 5 * 1024


class BuggyFetcher(Fetcher):
    """A real fetcher with a bug for one URL: stands for any exception no stage expected."""

    def __init__(self, broken: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.broken = broken

    def fetch(self, url: str, **kwargs: object) -> Fetched:  # type: ignore[override]
        if url == self.broken:
            raise OverflowError("date value out of range")
        return super().fetch(url, **kwargs)  # type: ignore[arg-type]


def test_a_bug_in_one_check_fails_that_check_and_the_others_go_on(
    site: Site, write_watchlist: WriteWatchlist, store: Store
) -> None:
    for path in ("/a", "/b", "/c"):
        site.put(path, policy_page(ARTICLE))
    wl = write_watchlist(
        f"""
        defaults:
          per_host: 10
          per_host_delay: 0s
        sources:
          - {{id: a, url: "{site.url("/a")}", select: "#policy"}}
          - {{id: b, url: "{site.url("/b")}", select: "#policy"}}
          - {{id: c, url: "{site.url("/c")}", select: "#policy"}}
        """
    )
    fetcher = BuggyFetcher(site.url("/b"), user_agent="pledge-monitor-test")
    store.sync(wl, Clock()())
    summary = run_cycle(store, wl, fetcher, ["a", "b", "c"], rng=random.Random(1))
    outcomes = {c.source_id: (c.outcome, c.error) for c in store.checks()}
    assert outcomes["a"] == ("baseline", None)
    assert outcomes["c"] == ("baseline", None)
    assert outcomes["b"][0] == "failed"
    assert "unexpected OverflowError: date value out of range" in str(outcomes["b"][1])
    assert summary.checked == 3
    assert [source for source, _reason in summary.failures] == ["b"]


def test_one_check_at_a_time_records_in_watchlist_order(
    site: Site, write_watchlist: WriteWatchlist, store: Store
) -> None:
    """With concurrency 1 the check ids follow the watchlist: audit ids are the same on every run."""
    ids = [f"s{n:02}" for n in range(40)]
    for source in ids:
        site.put(f"/{source}", policy_page(ARTICLE))
    lines = "\n".join(f'  - {{id: {s}, url: "{site.url("/" + s)}", select: "#policy"}}' for s in ids)
    wl = write_watchlist(
        "defaults:\n  per_host: 10\n  per_host_delay: 0s\n  concurrency: 1\nsources:\n" + lines + "\n"
    )
    store.sync(wl, Clock()())
    with Fetcher(user_agent="pledge-monitor-test") as fetcher:
        # a slow consumer: several checks finish while it works, and wait() hands them back together
        run_cycle(store, wl, fetcher, ids, rng=random.Random(1), on_result=lambda _: time.sleep(0.02))
    by_id = sorted(store.checks(), key=lambda c: c.id)
    assert [c.source_id for c in by_id] == ids


class Overlap:
    """A slow local site that counts how many of its requests were in flight at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.1)  # long enough for the other checks to arrive while this one is served
        with self.lock:
            self.now -= 1
        return Response(policy_page(ARTICLE), content_type="text/html")


@pytest.mark.parametrize("per_host", [2, 8])
def test_per_host_caps_the_checks_in_flight_on_one_host(
    write_watchlist: WriteWatchlist, store: Store, per_host: int
) -> None:
    """per_host holds back the checks of one host; at the concurrency, nothing is held back."""
    overlap = Overlap()
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.expect_request(re.compile("/p.*")).respond_with_handler(overlap.handle)
    server.start()
    try:
        ids = [f"p{n}" for n in range(16)]
        lines = "".join(
            f'  - {{id: {i}, url: "{server.url_for("/" + i)}", select: "#policy"}}\n' for i in ids
        )
        wl = write_watchlist(
            f"defaults:\n  per_host: {per_host}\n  per_host_delay: 0s\n  concurrency: 8\nsources:\n{lines}"
        )
        store.sync(wl, Clock()())
        with Fetcher(user_agent="pledge-monitor-test", retries=0) as fetcher:
            summary = run_cycle(store, wl, fetcher, ids, rng=random.Random(1))
    finally:
        server.stop()
    assert summary.checked == 16
    assert overlap.most <= per_host
    assert overlap.most >= min(per_host, 3)  # and the checks did run side by side


def test_the_gate_stands_open_only_when_it_could_never_hold_a_check_back() -> None:
    assert HostGate(10, 0.0, workers=10).open
    assert not HostGate(2, 0.0, workers=10).open
    assert not HostGate(10, 0.5, workers=10).open
    assert not HostGate(10, 0.0).open
