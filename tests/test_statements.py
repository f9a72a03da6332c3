"""Feeds and newsroom listings through the real pipeline: new statements, baselines, hostile feeds."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from monitor.cycle import run_cycle
from monitor.fetch import Fetcher
from monitor.statements import item_spec
from monitor.store import models as m
from monitor.store.outbox import alerts_of_events
from monitor.store.repo import Store
from monitor.sweep import run_sweep
from monitor.watchlist import Watchlist
from tests.conftest import WriteWatchlist
from tests.site import Clock, Site

BOTH_BACKENDS = True  # the store's behaviour is tested on SQLite and on PostgreSQL


def rss(*items: tuple[str, str, str]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>{summary}</description><pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate></item>"
        for title, link, summary in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Newsroom</title>'
        f"<link>https://example.org/news</link><description>News</description>{entries}</channel></rss>"
    )


OLD = [
    ("Quarterly results", "/news/q4", "Revenue grew."),
    ("Our police moratorium on Rekognition", "/news/moratorium", "We pause police use."),
]
MATCHING = ("Update on facial-recognition sales to police", "/news/update", "An update for customers.")
UNRELATED = ("New data centre in Ohio", "/news/ohio", "We open a region.")

PUBLISHED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # the day the feed's items are dated

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title></channel></rss>"""


def put_feed(site: Site, *items: tuple[str, str, str]) -> None:
    site.put(
        "/feed.xml", rss(*((t, site.url(p), s) for t, p, s in items)), content_type="application/rss+xml"
    )
    for _title, path, summary in items:
        site.put(path, f"<html><body><article><h1>{_title}</h1><p>{summary}</p></article></body></html>")


def watchlist(write: WriteWatchlist, site: Site, kind: str = "feed") -> Watchlist:
    source = (
        f"""  - id: newsroom
            kind: feed
            url: {site.url("/feed.xml")}"""
        if kind == "feed"
        else f"""  - id: newsroom
            kind: listing
            url: {site.url("/news")}
            item_select: "ul.news li\""""
    )
    return write(
        f"""
        defaults:
          per_host: 10
          per_host_delay: 0s
          failing_after: 2
        routes:
          hook:
            urls: ["console://"]
            events: ["statement.new", "source.*"]
        sources:
          - id: policy
            url: {site.url("/policy")}
        {source}
        pledges:
          - id: amazon-moratorium
            company: Amazon
            title: Moratorium on police use of Rekognition
            made_on: 2020-06-10
            sources: [policy, newsroom]
            clauses: ["a one-year moratorium on police use of Rekognition"]
            keywords: [facial recognition, Rekognition, moratorium]
        """
    )


def check(store: Store, wl: Watchlist, fetcher: Fetcher, clock: Clock, ids: list[str] | None = None) -> None:
    store.sync(wl, clock())
    run_cycle(store, wl, fetcher, ids or ["newsroom"], clock=clock, rng=random.Random(1))
    clock.now += timedelta(hours=1)


def statements(store: Store) -> list[m.Event]:
    return [e for e in store.events() if e.kind == "statement.new"]


def test_first_run_is_a_baseline_without_alerts(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    put_feed(site, *OLD)
    wl, clock = watchlist(write_watchlist, site), Clock(PUBLISHED)
    check(store, wl, fetcher, clock)
    assert store.events() == []
    with store.session() as s:
        items = s.query(m.FeedItem).all()
        assert sorted(i.title for i in items) == sorted(t for t, _, _ in OLD)
        assert all(i.baseline for i in items)
    assert site.hits.get("/news/moratorium") is None  # baseline items are not fetched


def test_a_new_matching_item_raises_one_statement_with_the_excerpt(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    put_feed(site, *OLD)
    wl, clock = watchlist(write_watchlist, site), Clock(PUBLISHED)
    check(store, wl, fetcher, clock)
    put_feed(site, MATCHING, *OLD)
    check(store, wl, fetcher, clock)
    [event] = statements(store)
    assert event.pledge_id == "amazon-moratorium"
    assert event.details["item_title"] == MATCHING[0]
    assert event.details["keywords"] == ["facial recognition"]
    assert "«facial-recognition»" in event.details["excerpt"]
    assert 'matched "facial recognition"' in event.details["matched"]
    assert [a.route for a in alerts_of_events(store.engine, [event.id])] == ["hook"]
    # the item's page was fetched once and kept as evidence, as a source of its own
    assert site.hits["/news/update"] == 1
    page_source = event.details["page_source_id"]
    row = store.source_row(page_source)
    assert (row.kind, row.parent_id, row.active, row.url) == (
        "item",
        "newsroom",
        True,
        site.url("/news/update"),
    )
    assert "An update for customers." in store.snapshot_text(row.snapshot_id or 0)


def test_a_non_matching_item_is_stored_without_alert(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    put_feed(site, *OLD)
    wl, clock = watchlist(write_watchlist, site), Clock(PUBLISHED)
    check(store, wl, fetcher, clock)
    put_feed(site, UNRELATED, *OLD)
    check(store, wl, fetcher, clock)
    assert statements(store) == []
    with store.session() as s:
        item = s.query(m.FeedItem).filter_by(title=UNRELATED[0]).one()
        assert not item.baseline
        assert item.snapshot_id is not None
    assert store.source_row(item.page_source_id or "").active is False  # kept, not re-checked


def test_reordered_and_resent_items_raise_nothing(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    put_feed(site, *OLD)
    wl, clock = watchlist(write_watchlist, site), Clock(PUBLISHED)
    check(store, wl, fetcher, clock)
    put_feed(site, MATCHING, *OLD)
    check(store, wl, fetcher, clock)
    put_feed(site, OLD[1], MATCHING, OLD[0], MATCHING)  # reordered, and one item sent twice
    check(store, wl, fetcher, clock)
    assert len(statements(store)) == 1
    assert site.hits["/news/update"] == 1


def test_billion_laughs_is_rejected_fast_as_a_failed_check(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/feed.xml", BILLION_LAUGHS, content_type="application/rss+xml")
    wl, clock = watchlist(write_watchlist, site), Clock(PUBLISHED)
    started = time.perf_counter()
    check(store, wl, fetcher, clock)
    assert time.perf_counter() - started < 2
    latest = store.checks()[0]
    assert latest.outcome == "failed"
    assert "declares XML entities" in (latest.error or "")
    assert [e.kind for e in store.events()] == []


def test_feed_errors_are_source_failures_never_lapses(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    put_feed(site, *OLD)
    wl, clock = watchlist(write_watchlist, site), Clock(PUBLISHED)
    check(store, wl, fetcher, clock)
    site.put("/feed.xml", "<html><body>Our newsroom moved</body></html>", content_type="text/html")
    check(store, wl, fetcher, clock)
    site.put("/feed.xml", "<rss><channel><item><title>broken", content_type="application/rss+xml")
    check(store, wl, fetcher, clock)
    site.put("/feed.xml", "gone", status=404)
    check(store, wl, fetcher, clock)
    errors = [c.error for c in store.checks()[:3]]
    assert any("got an HTML page" in (e or "") for e in errors)
    kinds = [e.kind for e in store.events()]
    assert kinds == ["source.failing"]
    put_feed(site, *OLD)
    check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == ["source.failing", "source.recovered"]


def test_a_feed_that_stops_updating_is_reported_by_the_sweep(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    put_feed(site, *OLD)  # items published 2026-03-02
    wl, clock = watchlist(write_watchlist, site), Clock(PUBLISHED)
    check(store, wl, fetcher, clock)
    for day in ("2026-03-20", "2026-04-05", "2026-04-06"):  # checked fine every day, nothing new
        clock.now = datetime.fromisoformat(day).replace(tzinfo=UTC)
        check(store, wl, fetcher, clock)
        run_sweep(store, wl, clock.now)
        if day == "2026-03-20":
            assert store.events() == []
    events = store.events()
    assert [e.kind for e in events] == ["source.failing"]
    assert "published nothing new since 2026-03-02" in events[0].title
    put_feed(site, MATCHING, *OLD)
    clock.now += timedelta(days=1)
    check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == ["source.failing", "source.recovered", "statement.new"]


def test_a_listing_page_with_new_links_behaves_like_a_feed(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    def listing(*items: tuple[str, str, str]) -> str:
        lis = "".join(f"<li><a href='{p}'>{t}</a> <span>{s}</span></li>" for t, p, s in items)
        return f"<html><body><nav><a href='/about'>About</a></nav><ul class='news'>{lis}</ul></body></html>"

    site.put("/news", listing(*OLD))
    wl, clock = (
        watchlist(write_watchlist, site, kind="listing"),
        Clock(PUBLISHED),
    )
    check(store, wl, fetcher, clock)
    assert store.events() == []
    site.put("/news", listing(MATCHING, *OLD))
    site.put("/news/update", "<html><body><p>Facial recognition and police: an update.</p></body></html>")
    check(store, wl, fetcher, clock)
    site.put("/news", listing(OLD[1], MATCHING, OLD[0]))
    check(store, wl, fetcher, clock)
    [event] = statements(store)
    assert event.details["item_title"] == MATCHING[0]
    assert event.details["link"] == site.url("/news/update")


def test_a_matching_item_page_is_rechecked_like_a_page(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    put_feed(site, *OLD)
    wl, clock = watchlist(write_watchlist, site), Clock(PUBLISHED)
    check(store, wl, fetcher, clock)
    put_feed(site, MATCHING, *OLD)
    check(store, wl, fetcher, clock)
    page_source = statements(store)[0].details["page_source_id"]
    site.put(
        "/news/update", "<html><body><article><p>An update, since withdrawn.</p></article></body></html>"
    )
    clock.now += timedelta(hours=7)
    check(store, wl, fetcher, clock, ids=[page_source])
    assert [e for e in store.events() if e.kind == "source.changed"] == []  # most words gone: re-check
    clock.now += timedelta(minutes=10)
    check(store, wl, fetcher, clock, ids=[page_source])
    changed = [e for e in store.events() if e.kind == "source.changed"]
    assert len(changed) == 1
    assert changed[0].source_id == page_source
    assert changed[0].details["pledges"] == ["amazon-moratorium"]


def test_new_listing_rules_are_a_baseline_not_news(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    """Widening item_select brings old links into view: they are not new statements."""
    page = (
        "<html><body><ul class='latest'><li><a href='/news/update'>Facial recognition update</a></li></ul>"
        "<ul class='archive'><li><a href='/news/old'>Our Rekognition moratorium (2020)</a></li></ul>"
        "</body></html>"
    )
    site.put("/news", page)
    site.put("/news/old", "<html><body><p>Rekognition moratorium.</p></body></html>")
    narrow = watchlist(write_watchlist, site, kind="listing")
    wide = write_watchlist(
        narrow.path.read_text().replace('item_select: "ul.news li"', 'item_select: "ul li"')
    )
    narrow = write_watchlist(
        wide.path.read_text().replace('item_select: "ul li"', 'item_select: "ul.latest li"')
    )
    clock = Clock(PUBLISHED)
    check(store, narrow, fetcher, clock)
    check(store, write_watchlist(narrow.path.read_text().replace("ul.latest li", "ul li")), fetcher, clock)
    assert statements(store) == []
    assert store.checks()[0].outcome == "rebaseline"


PRESS = """
  - id: press
    kind: listing
    url: {url}
    item_select: "ul.news li"
pledges:"""


def test_one_statement_through_a_feed_and_a_listing_is_one_alert_per_pledge(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    """The feed links the release with a parameter of its own; the listing links it plainly; the
    page names its canonical address: one statement.new for the pledge, not two."""

    def listing(*paths: tuple[str, str]) -> str:
        lis = "".join(f"<li><a href='{p}'>{t}</a></li>" for t, p in paths)
        return f"<html><body><ul class='news'>{lis}</ul></body></html>"

    put_feed(site, *OLD)
    site.put("/news", listing(*((t, p) for t, p, _ in OLD)))
    wl = write_watchlist(
        watchlist(write_watchlist, site)
        .path.read_text()
        .replace("\npledges:", PRESS.format(url=site.url("/news")))
        .replace("sources: [policy, newsroom]", "sources: [policy, newsroom, press]")
    )
    clock = Clock(PUBLISHED)
    both = ["newsroom", "press"]
    check(store, wl, fetcher, clock, ids=both)
    title, path, summary = MATCHING
    put_feed(site, (title, path + "?from=rss", summary), *OLD)
    release = (
        f"<html><head><link rel='canonical' href='{site.url(path)}?utm_source=x'></head>"
        f"<body><article><h1>{title}</h1><p>Facial recognition and police.</p></article></body></html>"
    )
    site.put(path, release)
    site.put(path + "?from=rss", release)
    site.put("/news", listing((title, path + "#top"), *((t, p) for t, p, _ in OLD)))
    check(store, wl, fetcher, clock, ids=both)  # both in one pass
    check(store, wl, fetcher, clock, ids=both)
    [event] = statements(store)
    assert event.details["statement"] == site.url(path)
    with store.session() as s:
        assert s.query(m.FeedItem).filter(m.FeedItem.title == title).count() == 2  # both kept as evidence


def test_the_same_release_found_later_through_another_source_is_not_told_again(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    put_feed(site, *OLD)
    wl = write_watchlist(
        watchlist(write_watchlist, site)
        .path.read_text()
        .replace("\npledges:", PRESS.format(url=site.url("/news")))
    )
    site.put("/news", "<html><body><ul class='news'><li><a href='/news/q4'>Q4</a></li></ul></body></html>")
    clock = Clock(PUBLISHED)
    check(store, wl, fetcher, clock, ids=["newsroom", "press"])
    put_feed(site, MATCHING, *OLD)
    check(store, wl, fetcher, clock, ids=["newsroom"])
    assert len(statements(store)) == 1
    site.put(
        "/news",
        f"<html><body><ul class='news'><li><a href='{MATCHING[1]}'>{MATCHING[0]}</a></li>"
        "<li><a href='/news/q4'>Q4</a></li></ul></body></html>",
    )
    clock.now += timedelta(days=2)
    check(store, wl, fetcher, clock, ids=["press"])
    assert len(statements(store)) == 1


def test_item_pages_get_the_feeds_headers_only_on_the_feeds_own_origin(
    write_watchlist: WriteWatchlist,
) -> None:
    wl = write_watchlist(
        """
        sources:
          - id: newsroom
            kind: feed
            url: https://news.example.org/rss.xml
            headers: {Authorization: "Bearer ${NEWSROOM_TOKEN}", Accept-Language: en}
        """
    )
    feed = wl.sources[0]
    own = item_spec(feed, "newsroom/1", "https://news.example.org/2024/release.html")
    other = item_spec(feed, "newsroom/2", "https://partner.example.com/release.html")
    other_port = item_spec(feed, "newsroom/3", "https://news.example.org:8443/release.html")
    assert dict(own.headers) == dict(feed.headers)
    assert "Authorization" in dict(own.headers)
    assert dict(other.headers) == {}
    assert dict(other_port.headers) == {}
