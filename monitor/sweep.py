"""The daily sweep: pledge deadlines and sources that have gone quiet.

Deadlines are facts of the calendar, not of any page, so no check would ever notice them:
this sweep turns ``expires_on`` (unless a renewal extends it) into reminders and an expiry,
a source with no good check for ``stale_after`` into ``source.failing``, and a source that is
still failing into a reminder every ``failing_reminder``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta

from monitor.events import EventKind, Severity, SourceHealth, default_severity
from monitor.lifecycle import EventDraft
from monitor.store import claims
from monitor.store.repo import FailingSource, Store
from monitor.watchlist import PledgeSpec, Watchlist

FEED_STALE_AFTER = timedelta(days=30)  # newsrooms go quiet for weeks; a month is worth a look


def deadline_events(
    pledge: PledgeSpec, today: date, reminders: Collection[int], sent: Collection[tuple[str, str, int]]
) -> list[EventDraft]:
    """Reminders N days before the effective expiry, and the expiry itself, each said once.

    ``sent`` holds (kind, expiry ISO date, reminder days) already raised for this pledge. When
    several reminders are due at once (a pledge added late), only the nearest one is raised.
    """
    expiry = pledge.effective_expiry()
    if expiry is None:
        return []
    days_left = (expiry - today).days
    key = expiry.isoformat()
    source_id = pledge.sources[0] if pledge.sources else ""
    if days_left <= 0:
        if (EventKind.PLEDGE_EXPIRED, key, 0) in sent:
            return []
        title = f"{pledge.company}: {pledge.title}: expired on {expiry:%-d %B %Y}"
        details = _details(pledge, expiry, days_left, 0)
        return [EventDraft(EventKind.PLEDGE_EXPIRED, Severity.CRITICAL, title, pledge.id, source_id, details)]
    due = [n for n in reminders if days_left <= n]
    if not due:
        return []
    nearest = min(due)
    if (EventKind.PLEDGE_EXPIRING, key, nearest) in sent:
        return []
    plural = "s" if days_left != 1 else ""
    title = f"{pledge.company}: {pledge.title}: expires in {days_left} day{plural} ({expiry:%-d %B %Y})"
    details = _details(pledge, expiry, days_left, nearest)
    return [
        EventDraft(
            EventKind.PLEDGE_EXPIRING,
            default_severity(EventKind.PLEDGE_EXPIRING),
            title,
            pledge.id,
            source_id,
            details,
        )
    ]


def _details(pledge: PledgeSpec, expiry: date, days_left: int, reminder: int) -> dict[str, object]:
    details: dict[str, object] = {
        "expires_on": expiry.isoformat(),
        "days_left": days_left,
        "made_on": pledge.made_on.isoformat(),
    }
    if reminder:
        details["reminder"] = reminder
    if pledge.renewed is not None:
        details["renewed_on"] = pledge.renewed.on.isoformat()
        if pledge.renewed.note:
            details["renewal_note"] = pledge.renewed.note
    return details


_ERROR_IN_TITLE = 200  # characters of the last error in a reminder's title


def failing_reminders(store: Store, watchlist: Watchlist, now: datetime) -> list[EventDraft]:
    """A source still failing is reported again every ``failing_reminder``.

    One ``source.failing`` at the start of an outage is easy to miss, and a page that fails for
    two years while its policy changes is the failure that matters most.
    """
    every = watchlist.defaults.failing_reminder
    specs = {s.id: s for s in watchlist.sources}
    drafts = []
    for failing in store.failing_sources():
        spec = specs.get(failing.source_id)
        if spec is None or (failing.reported_at is not None and now - failing.reported_at < every):
            continue
        drafts.append(_reminder(spec.id, spec.url, failing))
    return drafts


def _reminder(source_id: str, url: str, failing: FailingSource) -> EventDraft:
    since = f"since {failing.last_good_at:%Y-%m-%d %H:%M} UTC" if failing.last_good_at else "ever"
    error = failing.last_error or ""
    shown = error if len(error) <= _ERROR_IN_TITLE else error[: _ERROR_IN_TITLE - 3] + "..."
    title = f"{source_id}: still failing, no good check {since} ({failing.failures} failed in a row)"
    return EventDraft(
        EventKind.SOURCE_FAILING,
        default_severity(EventKind.SOURCE_FAILING),
        title + (f": {shown}" if shown else ""),
        None,
        source_id,
        {
            "url": url,
            "reminder": True,
            "failures": failing.failures,
            "last_good": failing.last_good_at.isoformat() if failing.last_good_at else None,
            "last_error": error or None,
            "reported_at": failing.reported_at.isoformat() if failing.reported_at else None,
        },
    )


SWEEP_KEY = 7_460_003  # a PostgreSQL advisory lock: one worker at a time sweeps, nothing is raised twice


def sweep_now(store: Store, watchlist: Watchlist, now: datetime) -> list[int]:
    """The sweep, one worker at a time (a PostgreSQL advisory lock) so nothing is raised twice."""
    with claims.exclusive(store.engine, SWEEP_KEY):
        return run_sweep(store, watchlist, now)


def run_sweep(store: Store, watchlist: Watchlist, now: datetime) -> list[int]:
    """Raise the deadline and staleness events due at ``now``; return their ids."""
    today = now.date()
    drafts: list[EventDraft] = []
    for pledge in watchlist.pledges:
        if pledge.effective_expiry() is None:
            continue  # no deadline: nothing to look up
        sent = store.deadline_events_sent(pledge.id)
        found = deadline_events(pledge, today, watchlist.defaults.expiry_reminders, sent)
        drafts.extend(found)
    drafts.extend(failing_reminders(store, watchlist, now))
    for source_id, last_good in store.stale_sources(now - watchlist.defaults.stale_after):
        spec = next((s for s in watchlist.sources if s.id == source_id), None)
        if spec is None:
            continue
        since = f"since {last_good:%Y-%m-%d %H:%M} UTC" if last_good else "ever"
        drafts.append(
            EventDraft(
                EventKind.SOURCE_FAILING,
                default_severity(EventKind.SOURCE_FAILING),
                f"{source_id}: no good check {since}",
                None,
                source_id,
                {"url": spec.url, "stale": True, "last_good": last_good.isoformat() if last_good else None},
            )
        )
    feeds = {s.id: s for s in watchlist.sources if s.kind.has_items}
    stale_feeds = [(sid, newest) for sid, newest in store.stale_feeds(now - FEED_STALE_AFTER) if sid in feeds]
    for source_id, newest in stale_feeds:
        if source_id in feeds:
            drafts.append(
                EventDraft(
                    EventKind.SOURCE_FAILING,
                    default_severity(EventKind.SOURCE_FAILING),
                    f"{source_id}: the feed has published nothing new since {newest:%Y-%m-%d}",
                    None,
                    source_id,
                    {"url": feeds[source_id].url, "stale": True, "newest_item": newest.isoformat()},
                )
            )
    ids = store.add_events(drafts, watchlist, now)
    quiet = {sid for sid, _ in stale_feeds}
    failing = [d.source_id for d in drafts if d.kind == EventKind.SOURCE_FAILING]
    store.mark_health([sid for sid in failing if sid not in quiet], SourceHealth.FAILING)
    store.mark_health(sorted(quiet), SourceHealth.STALE)
    return ids
