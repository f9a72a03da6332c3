"""One check of a feed or listing source: new items, their pages, and the pledges they mention.

Pledges are extended, narrowed and retracted in press releases as often as on policy pages. A
feed check records every item it has not seen before (the first check records the existing ones
as the baseline, without alerting), fetches each new item's page once as evidence, and raises
``statement.new`` for each pledge whose keywords the item mentions.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from monitor.checking import (
    CheckResult,
    ItemRecord,
    NewSnapshot,
    SourceState,
    elapsed_ms,
    sha256,
    snapshot_of,
    start_check,
)
from monitor.errors import ExtractError, FeedError, FetchError
from monitor.events import CheckOutcome, EventKind, SourceHealth, default_severity
from monitor.extract import decode_html, extract
from monitor.feeds import FeedItem, new_items, parse_feed, parse_listing
from monitor.fetch import Fetched, Fetcher
from monitor.keywords import KeywordMatch, KeywordMatcher, compile_keywords
from monitor.lifecycle import EventDraft, Health, Transition, assess_source
from monitor.secrets import resolve_headers
from monitor.urls import canonical_link
from monitor.watchlist import FeedSource, ItemSource, ListingSource, PledgeSpec, SourceSpec

MAX_NEW_ITEMS = 50  # per check: a feed that suddenly "adds" hundreds is re-keyed, not news


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def item_source_id(feed_id: str, key: str) -> str:
    """The id under which an item's page is kept and re-checked: the feed's id and a short hash."""
    return f"{feed_id}~{key_hash(key)[:12]}"


@lru_cache(maxsize=256)
def _matcher(keywords: tuple[str, ...]) -> KeywordMatcher:
    return compile_keywords(keywords)


def read_items(source: FeedSource | ListingSource, fetched: Fetched) -> tuple[FeedItem, ...]:
    if isinstance(source, ListingSource):
        return parse_listing(
            fetched.body, url=fetched.final_url, item_select=source.item_select, charset=fetched.charset
        )
    return parse_feed(fetched.body, url=fetched.final_url, content_type=fetched.content_type)


def items_text(items: tuple[FeedItem, ...]) -> str:
    """The items as text, one per line: what the feed said, stored and diffed like a page."""
    lines = []
    for item in items:
        when = f"{item.published:%Y-%m-%d} " if item.published else ""
        lines.append(f"{when}{item.title} <{item.link or item.key}>")
    return "\n".join(lines)


def run_feed_check(
    source: FeedSource | ListingSource,
    pledges: tuple[PledgeSpec, ...],
    state: SourceState,
    fetcher: Fetcher,
    now: datetime,
) -> CheckResult:
    """Fetch the feed; on new bytes, read its items and look at the new ones."""
    started = time.perf_counter()
    try:
        start = start_check(source, fetcher, state, now, started)
    except FetchError as exc:
        return _failed(source, pledges, state, now, started, exc)
    fetched, base, same_rules = start.fetched, start.base, start.same_rules
    if start.unchanged:
        return replace(
            base,
            ms=elapsed_ms(started),
            outcome=start.outcome,
            body_hash=state.body_hash,
            transition=_ok(source, state, fresh=False),
        )
    try:
        items = read_items(source, fetched)
    except FeedError as exc:
        return _failed(source, pledges, state, now, started, exc, status=fetched.status)
    text = items_text(items)
    initial = state.text_hash is None and not state.seen
    # the first read, or new rules (a wider item_select): what is there now is the baseline
    first = initial or not same_rules
    fresh = new_items(items, state.seen)
    news = () if first else fresh[:MAX_NEW_ITEMS]  # more than that at once is a re-keyed feed
    records = tuple(_look_at(source, pledges, item, fetcher, baseline=item not in news) for item in fresh)
    events = [e for r in records for e in _statement_events(source, pledges, r, fresh)]
    transition = _ok(source, state, fresh=bool(fresh) and not first)
    transition = replace(transition, events=(*transition.events, *events))
    text_hash = sha256(text.encode())
    new_text = text_hash != state.text_hash or not same_rules  # new rules: store what they read
    snapshot = snapshot_of(fetched, text, source.rules_fingerprint()) if new_text else None
    outcome = CheckOutcome.BASELINE if initial else CheckOutcome.SAME_TEXT
    if snapshot is not None and not initial:
        outcome = CheckOutcome.CHANGED if same_rules else CheckOutcome.REBASELINE
    return replace(
        base,
        ms=elapsed_ms(started),
        outcome=outcome,
        body_hash=sha256(fetched.body),
        snapshot=snapshot,
        prev_snapshot_id=state.snapshot_id,
        transition=transition,
        items=records,
    )


def _look_at(
    source: SourceSpec, pledges: tuple[PledgeSpec, ...], item: FeedItem, fetcher: Fetcher, *, baseline: bool
) -> ItemRecord:
    """A new item: fetch its page once (unless it is part of the baseline) and match keywords."""
    record = ItemRecord(
        key=item.key,
        key_hash=key_hash(item.key),
        link=item.link,
        title=item.title,
        published=item.published,
        baseline=baseline,
    )
    if baseline:
        return record
    page, page_text, error = _fetch_page(source, item, fetcher)
    matched = tuple(p.id for p in pledges if p.keywords and _match(p, item, page_text).matched)
    return replace(
        record,
        pledge_ids=matched,
        page=page,
        page_source_id=item_source_id(source.id, item.key) if page else None,
        page_error=error,
        canonical=declared_canonical(page) if page else None,
    )


def declared_canonical(page: NewSnapshot) -> str | None:
    """The address a page gives itself (``<link rel="canonical">``), cleaned like any link."""
    if b"canonical" not in page.body:
        return None
    try:
        tree = LexborHTMLParser(decode_html(page.body, None))
    except SelectolaxError:
        return None
    for node in tree.css("link[rel]"):
        if "canonical" in (node.attributes.get("rel") or "").lower().split():
            return canonical_link(node.attributes.get("href"), page.url)
    return None


def _match(pledge: PledgeSpec, item: FeedItem, page_text: str) -> KeywordMatch:
    return _matcher(tuple(pledge.keywords)).match(title=item.title, summary=item.summary, text=page_text)


def _fetch_page(
    source: SourceSpec, item: FeedItem, fetcher: Fetcher
) -> tuple[NewSnapshot | None, str, str | None]:
    if not item.link:
        return None, "", None
    try:
        headers = resolve_headers(source.headers, os.environ, item.link)
        fetched = fetcher.fetch(item.link, timeout=source.timeout.total_seconds(), headers=headers)
        text = extract(
            fetched.body, content_type=fetched.content_type, charset=fetched.charset, url=fetched.final_url
        )
    except (FetchError, ExtractError) as exc:
        return None, "", str(exc)
    rules = item_spec(source, item_source_id(source.id, item.key), item.link).rules_fingerprint()
    return snapshot_of(fetched, text, rules), text, None


def item_spec(feed: SourceSpec, source_id: str, url: str) -> ItemSource:
    """An item's page, re-checked like a page, on the feed's interval. The feed's headers
    (credentials among them) go only to the feed's own origin, never to the sites its items link to."""
    return ItemSource.of(feed, source_id, url, headers=_origin(url) == _origin(feed.url))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _statement_events(
    source: SourceSpec, pledges: tuple[PledgeSpec, ...], record: ItemRecord, fresh: tuple[FeedItem, ...]
) -> list[EventDraft]:
    item = next(i for i in fresh if i.key == record.key)
    page_text = record.page.text if record.page else ""
    events = []
    for pledge in pledges:
        if pledge.id not in record.pledge_ids:
            continue
        match = _match(pledge, item, page_text)
        details = {
            "item_title": item.title,
            "link": item.link,
            "published": item.published.isoformat() if item.published else None,
            "matched": match.explain(),
            "keywords": [h.keyword for h in match.hits],
            "excerpt": match.hits[0].excerpt if match.hits else "",
            "hits": [
                {"keyword": h.keyword, "matched": h.matched, "field": h.field, "start": h.start, "end": h.end}
                for h in match.hits
            ],
            "feed": source.url,
            "statement": record.statement,
            "page_source_id": record.page_source_id,
            "page_error": record.page_error,
        }
        title = f"{pledge.company}: new statement mentions {pledge.title}: {item.title}"
        events.append(
            EventDraft(
                EventKind.STATEMENT_NEW,
                default_severity(EventKind.STATEMENT_NEW),
                title,
                pledge.id,
                source.id,
                details,
            )
        )
    return events


def _ok(source: SourceSpec, state: SourceState, *, fresh: bool) -> Transition:
    """A good fetch: recovered if it was failing; a feed the sweep found stale, once it has news."""
    health = state.health
    if health.state is SourceHealth.STALE and not fresh:
        return Transition(health=replace(health, failures=0))
    events: tuple[EventDraft, ...] = ()
    if health.state in (SourceHealth.FAILING, SourceHealth.GONE, SourceHealth.STALE):
        events = (
            EventDraft(
                EventKind.SOURCE_RECOVERED,
                default_severity(EventKind.SOURCE_RECOVERED),
                f"{source.id}: checks succeed again",
                None,
                source.id,
                {"url": source.url, "was": health.state, "after_failures": health.failures},
            ),
        )
    return Transition(health=Health(SourceHealth.OK, 0, None, health.moved_to), events=events)


def _failed(
    source: SourceSpec,
    pledges: tuple[PledgeSpec, ...],
    state: SourceState,
    now: datetime,
    started: float,
    error: FetchError | FeedError,
    *,
    status: int | None = None,
) -> CheckResult:
    """Never a lapse: a feed that fails or does not parse is a failing source, nothing more."""
    as_fetch = error if isinstance(error, FetchError) else FetchError(source.url, str(error), transient=True)
    if isinstance(error, FetchError) and error.status in (404, 410):
        as_fetch = FetchError(source.url, str(error), transient=True, status=None)
    transition = assess_source(source, (), {}, None, None, now, error=as_fetch, health=state.health)
    return CheckResult(
        source_id=source.id,
        at=now,
        ms=elapsed_ms(started),
        outcome=CheckOutcome.FAILED,
        status=status if status is not None else getattr(error, "status", None),
        error=as_fetch,
        transition=transition,
    )
