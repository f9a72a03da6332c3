"""The queries: the only code that reads or writes the database.

Writes are short: a check's fetch happens before and outside any transaction, and the results
of a batch of checks are recorded together in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.checking import CheckResult, SourceState
from monitor.errors import NotFoundError
from monitor.events import AlertStatus, EventKind, PledgeState, SourceHealth
from monitor.lifecycle import ClauseRecord, EventDraft, Health
from monitor.store import models as m
from monitor.store import recording
from monitor.store.recording import Recorded
from monitor.watchlist import PledgeSpec, SourceSpec, Watchlist

if TYPE_CHECKING:
    from monitor.store.actions import ActionStore
    from monitor.store.audit_queries import AuditStore
    from monitor.store.web_queries import WebStore


class FailingSource(NamedTuple):
    """A source whose checks keep failing: what a reminder and ``status`` say about it."""

    source_id: str
    last_good_at: datetime | None
    failures: int  # failed checks in a row
    reported_at: datetime | None  # the last source.failing event
    last_error: str | None


# a health already reported (source.failing or source.gone): the sweep does not report it again
_REPORTED = (SourceHealth.FAILING, SourceHealth.GONE, SourceHealth.STALE)


class Store:
    """One database; sessions are short-lived and made per call.

    The one facade over it: checks, events and the watchlist's mirror here; the audit commands'
    reads under ``audit``, tokens and actions under ``actions``, the dashboard's reads under ``web``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.session = sessionmaker(engine, expire_on_commit=False)

    @cached_property
    def audit(self) -> AuditStore:
        """History, export, report, verify, evidence and prune read through this."""
        from monitor.store.audit_queries import AuditStore

        return AuditStore(self)

    @cached_property
    def actions(self) -> ActionStore:
        """Tokens and the actions people take on the dashboard (acknowledge, mute)."""
        from monitor.store.actions import ActionStore

        return ActionStore(self)

    @cached_property
    def web(self) -> WebStore:
        """The dashboard's and the JSON API's paged reads."""
        from monitor.store.web_queries import WebStore

        return WebStore(self)

    # -- watchlist ---------------------------------------------------------------------------

    def sync(self, watchlist: Watchlist, now: datetime) -> None:
        """Mirror the watchlist: new sources are due now, removed ones go inactive (history stays).

        Runs on every start and reload, so it reads plain rows and touches only what differs:
        10,000 unchanged sources cost one query, not 10,000 ORM objects.
        """
        specs = {spec.id: spec for spec in watchlist.sources}
        with self.session.begin() as s:
            current = {row.id: row for row in s.execute(select(*_SYNCED))}
            new = [spec for sid, spec in specs.items() if sid not in current]
            if new:
                s.execute(insert(m.Source), [_new_source_values(spec, now) for spec in new])
            stale = [sid for sid, spec in specs.items() if sid in current and _differs(current[sid], spec)]
            for row in s.scalars(select(m.Source).where(m.Source.id.in_(stale))) if stale else ():
                _update_source(row, specs[row.id], now)
            for sid, plain in current.items():
                if sid not in specs:
                    # an item page lives as long as the feed it came from (and mentions a pledge)
                    active = bool(plain.parent_id in specs and plain.pledge_ids)
                    if plain.active != active:
                        s.execute(update(m.Source).where(m.Source.id == sid).values(active=active))
            pledges = {row.id: row for row in s.scalars(select(m.Pledge))}
            respecified = []
            for pledge in watchlist.pledges:
                prow = pledges.pop(pledge.id, None)
                if prow is None:
                    prow = m.Pledge(id=pledge.id, state=PledgeState.UNKNOWN, state_since=now)
                    s.add(prow)
                before = prow.spec
                _fill_pledge(prow, pledge)
                if before is not None and before != prow.spec:
                    respecified.append(pledge.id)
            for prow in pledges.values():
                prow.active = False
            # new clauses, sources or an expiry change what the pledge's state is
            recording.refresh_pledges(s, respecified, now)

    # -- scheduling --------------------------------------------------------------------------

    def due_sources(self, now: datetime, limit: int | None = None) -> list[str]:
        with self.session() as s:
            query = (
                select(m.Source.id)
                .where(m.Source.active.is_(True), m.Source.next_check_at <= now)
                .order_by(m.Source.next_check_at)
            )
            if limit:
                query = query.limit(limit)
            return list(s.scalars(query))

    def next_due_at(self) -> datetime | None:
        with self.session() as s:
            return s.scalar(select(func.min(m.Source.next_check_at)).where(m.Source.active.is_(True)))

    def set_next_checks(self, times: dict[str, datetime]) -> None:
        with self.session.begin() as s:
            for source_id, at in times.items():
                s.execute(update(m.Source).where(m.Source.id == source_id).values(next_check_at=at))

    def states(self, source_ids: Sequence[str]) -> dict[str, SourceState]:
        """What each check needs of the past: plain rows (no ORM objects), one join, not per source."""
        with self.session() as s:
            rows = s.execute(
                select(
                    m.Source.id,
                    m.Source.kind,
                    m.Source.etag,
                    m.Source.last_modified,
                    m.Source.body_hash,
                    m.Source.snapshot_id,
                    m.Source.health,
                    m.Source.failures,
                    m.Source.gone_since,
                    m.Source.moved_to,
                    m.Source.gone_checks,
                    m.Source.suspect_hash,
                    m.Source.suspect_since,
                    m.Snapshot.text_hash,
                    m.Snapshot.body_hash.label("snapshot_body_hash"),
                    m.Snapshot.rules,
                )
                .outerjoin(m.Snapshot, m.Snapshot.id == m.Source.snapshot_id)
                .where(m.Source.id.in_(source_ids))
            ).all()
            clause_rows = s.scalars(select(m.ClauseState).where(m.ClauseState.source_id.in_(source_ids)))
            clauses: dict[str, dict[tuple[str, str], ClauseRecord]] = {}
            for c in clause_rows:
                clauses.setdefault(c.source_id, {})[(c.pledge_id, c.clause_key)] = _clause_record(c)
            feeds = [r.id for r in rows if r.kind.has_items]
            seen: dict[str, set[str]] = {}
            if feeds:
                items = s.execute(
                    select(m.FeedItem.source_id, m.FeedItem.key).where(m.FeedItem.source_id.in_(feeds))
                )
                for source_id, key in items:
                    seen.setdefault(source_id, set()).add(key)
        return {
            row.id: SourceState(
                source_id=row.id,
                etag=row.etag,
                last_modified=row.last_modified,
                body_hash=row.body_hash,
                text_hash=row.text_hash,
                rules=row.rules,
                snapshot_id=row.snapshot_id,
                snapshot_body_hash=row.snapshot_body_hash,
                health=Health(
                    row.health,
                    row.failures,
                    row.gone_since,
                    row.moved_to,
                    row.gone_checks or 0,
                    row.suspect_hash,
                    row.suspect_since,
                ),
                clauses=clauses.get(row.id, {}),
                seen=frozenset(seen.get(row.id, ())),
            )
            for row in rows
        }

    def item_pages(self, source_ids: Sequence[str]) -> dict[str, tuple[str, str, tuple[str, ...]]]:
        """Item pages among ``source_ids``: id -> (feed id, URL, ids of the pledges it mentions)."""
        with self.session() as s:
            rows = s.execute(
                select(m.Source.id, m.Source.parent_id, m.Source.url, m.Source.pledge_ids).where(
                    m.Source.id.in_(source_ids), m.Source.parent_id.is_not(None)
                )
            )
            return {sid: (parent, url, tuple(pledges or ())) for sid, parent, url, pledges in rows}

    def stale_feeds(self, cutoff: datetime) -> list[tuple[str, datetime]]:
        """Feeds whose newest item is older than ``cutoff``, not already reported failing."""
        newest = func.max(func.coalesce(m.FeedItem.published, m.FeedItem.first_seen))
        with self.session() as s:
            rows = s.execute(
                select(m.Source.id, newest)
                .join(m.FeedItem, m.FeedItem.source_id == m.Source.id)
                .where(m.Source.active.is_(True), m.Source.health.not_in(_REPORTED))
                .group_by(m.Source.id)
                .having(newest < cutoff)
            )
            return [(sid, at) for sid, at in rows]

    # -- blobs -------------------------------------------------------------------------------

    def load_blob(self, digest: str) -> bytes:
        """Called from check threads: a plain connection, no ORM session to set up."""
        with self.engine.connect() as connection:
            return recording.read_blob(connection, digest)

    def load_text(self, digest: str) -> str:
        return self.load_blob(digest).decode()

    # -- recording ---------------------------------------------------------------------------

    def record(self, items: Sequence[tuple[CheckResult, datetime]], watchlist: Watchlist) -> list[Recorded]:
        """Record a batch of checks, with their snapshots, changes, events and pending alerts."""
        with self.session.begin() as s:
            return recording.record_batch(s, items, watchlist)

    def add_events(self, drafts: Iterable[EventDraft], watchlist: Watchlist, now: datetime) -> list[int]:
        """Events that come from no check (deadlines, staleness), with their alerts."""
        with self.session.begin() as s:
            return recording.add_events(s, drafts, watchlist, now)

    # -- the sweep ---------------------------------------------------------------------------

    def deadline_events_sent(self, pledge_id: str) -> set[tuple[str, str, int]]:
        """(kind, expires_on, reminder) of the deadline events already raised for a pledge."""
        with self.session() as s:
            rows = s.execute(
                select(m.Event.kind, m.Event.details).where(
                    m.Event.pledge_id == pledge_id,
                    m.Event.kind.in_((EventKind.PLEDGE_EXPIRING, EventKind.PLEDGE_EXPIRED)),
                )
            )
            return {(kind, str(d.get("expires_on")), int(d.get("reminder", 0))) for kind, d in rows}

    def stale_sources(self, cutoff: datetime) -> list[tuple[str, datetime | None]]:
        """Active sources with no good check since ``cutoff`` that are not already reported; one
        never good is reported once it was first checked before ``cutoff``, not at its first failure."""
        checked_before = (
            select(m.Check.id).where(m.Check.source_id == m.Source.id, m.Check.at < cutoff).exists()
        )
        with self.session() as s:
            rows = s.execute(
                select(m.Source.id, m.Source.last_good_at).where(
                    m.Source.active.is_(True),
                    m.Source.health.not_in(_REPORTED),
                    m.Source.last_check_at.is_not(None),
                    (m.Source.last_good_at < cutoff) | (m.Source.last_good_at.is_(None) & checked_before),
                )
            )
            return [(sid, last_good) for sid, last_good in rows]

    def failing_sources(self) -> list[FailingSource]:
        """Active sources whose health is failing, with when that was last reported and why."""
        with self.session() as s:
            reported = (
                select(m.Event.source_id, func.max(m.Event.created_at).label("at"))
                .where(m.Event.kind == EventKind.SOURCE_FAILING)
                .group_by(m.Event.source_id)
                .subquery()
            )
            rows = s.execute(
                select(m.Source.id, m.Source.last_good_at, m.Source.failures, reported.c.at)
                .outerjoin(reported, reported.c.source_id == m.Source.id)
                .where(m.Source.active.is_(True), m.Source.health == SourceHealth.FAILING)
                .order_by(m.Source.id)
            ).all()
            return [
                FailingSource(source_id, last_good, failures, at, self._last_error(s, source_id))
                for source_id, last_good, failures, at in rows
            ]

    @staticmethod
    def _last_error(s: Session, source_id: str) -> str | None:
        return s.scalar(
            select(m.Check.error)
            .where(m.Check.source_id == source_id, m.Check.error.is_not(None))
            .order_by(m.Check.id.desc())
            .limit(1)
        )

    def mark_health(self, source_ids: Sequence[str], health: SourceHealth) -> None:
        if source_ids:
            with self.session.begin() as s:
                s.execute(update(m.Source).where(m.Source.id.in_(source_ids)).values(health=health))

    # -- reading -----------------------------------------------------------------------------

    def source_row(self, source_id: str) -> m.Source:
        with self.session() as s:
            row = s.get(m.Source, source_id)
            if row is None:
                raise NotFoundError(f"no source '{source_id}' in the database")
            return row

    def sources(self) -> list[m.Source]:
        with self.session() as s:
            return list(s.scalars(select(m.Source).order_by(m.Source.id)))

    def pledges(self) -> list[m.Pledge]:
        with self.session() as s:
            return list(s.scalars(select(m.Pledge).order_by(m.Pledge.company, m.Pledge.id)))

    def clause_states(self, pledge_id: str | None = None) -> list[m.ClauseState]:
        with self.session() as s:
            query = select(m.ClauseState).order_by(m.ClauseState.pledge_id, m.ClauseState.source_id)
            if pledge_id:
                query = query.where(m.ClauseState.pledge_id == pledge_id)
            return list(s.scalars(query))

    def checks(
        self, source_id: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[m.Check]:
        with self.session() as s:
            query = select(m.Check).order_by(m.Check.id.desc())
            if source_id:
                query = query.where(m.Check.source_id == source_id)
            if since:
                query = query.where(m.Check.at >= since)
            if limit:
                query = query.limit(limit)
            return list(s.scalars(query))

    def changes(self, source_id: str | None = None, since: datetime | None = None) -> list[m.Change]:
        with self.session() as s:
            query = select(m.Change).order_by(m.Change.id)
            if source_id:
                query = query.where(m.Change.source_id == source_id)
            if since:
                query = query.where(m.Change.detected_at >= since)
            return list(s.scalars(query))

    def events(
        self,
        *,
        source_id: str | None = None,
        pledge_id: str | None = None,
        since: datetime | None = None,
    ) -> list[m.Event]:
        with self.session() as s:
            query = select(m.Event).order_by(m.Event.id)
            if source_id:
                query = query.where(m.Event.source_id == source_id)
            if pledge_id:
                query = query.where(m.Event.pledge_id == pledge_id)
            if since:
                query = query.where(m.Event.created_at >= since)
            return list(s.scalars(query))

    def events_by_ids(self, ids: Sequence[int]) -> list[m.Event]:
        if not ids:
            return []
        with self.session() as s:
            return list(s.scalars(select(m.Event).where(m.Event.id.in_(ids)).order_by(m.Event.id)))

    def change(self, change_id: int) -> m.Change:
        with self.session() as s:
            row = s.get(m.Change, change_id)
            if row is None:
                raise NotFoundError(f"no change with id {change_id} (see `pledge-monitor history`)")
            return row

    def snapshot(self, snapshot_id: int) -> m.Snapshot:
        with self.session() as s:
            row = s.get(m.Snapshot, snapshot_id)
            if row is None:
                raise NotFoundError(f"no snapshot with id {snapshot_id} (see `pledge-monitor history`)")
            return row

    def snapshot_text(self, snapshot_id: int) -> str:
        return self.load_text(self.snapshot(snapshot_id).text_hash)

    def screenshot(self, snapshot_id: int) -> bytes | None:
        """The PNG kept with a snapshot (``screenshot: true`` sources), or None when it has none."""
        digest = self.snapshot(snapshot_id).screenshot_hash
        return self.load_blob(digest) if digest else None

    def workers(self) -> list[m.Worker]:
        with self.session() as s:
            return list(s.scalars(select(m.Worker).order_by(m.Worker.name)))

    def overdue_alerts(self, before: datetime) -> int:
        """Pending alerts that should have gone out before ``before``: delivery is stuck."""
        with self.session() as s:
            query = select(func.count()).select_from(m.Alert)
            query = query.where(m.Alert.status == AlertStatus.PENDING, m.Alert.next_attempt_at < before)
            return int(s.scalar(query) or 0)

    def check_counts(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(m.Check.outcome, func.count()).group_by(m.Check.outcome))
            return dict(rows)


# -- helpers: sources and pledges -------------------------------------------------------------


_SYNCED = (
    m.Source.id,
    m.Source.url,
    m.Source.kind,
    m.Source.rules,
    m.Source.active,
    m.Source.interval_s,
    m.Source.parent_id,
    m.Source.pledge_ids,
)


def _differs(row: Any, spec: SourceSpec) -> bool:
    """Whether a stored source no longer says what the watchlist says."""
    return (row.url, row.kind, row.rules, row.active, row.interval_s) != (
        spec.url,
        spec.kind,
        spec.rules_fingerprint(),
        True,
        int(spec.interval.total_seconds()),
    )


def _new_source_values(spec: SourceSpec, now: datetime) -> dict[str, Any]:
    return {
        "id": spec.id,
        "url": spec.url,
        "kind": spec.kind,
        "rules": spec.rules_fingerprint(),
        "active": True,
        "interval_s": int(spec.interval.total_seconds()),
        "next_check_at": now,
        "health": SourceHealth.NEW,
        "failures": 0,
        "gone_checks": 0,
    }


def _update_source(row: m.Source, spec: SourceSpec, now: datetime) -> None:
    if row.url != spec.url:
        # a new URL is a new page: check it now and forget the old validators
        row.url, row.etag, row.last_modified, row.body_hash = spec.url, None, None, None
        row.next_check_at, row.moved_to = now, None
    if not row.active:
        row.next_check_at = now
    row.kind, row.rules, row.active = spec.kind, spec.rules_fingerprint(), True
    interval = int(spec.interval.total_seconds())
    if row.interval_s != interval:
        row.interval_s = interval
        if row.next_check_at and row.last_check_at:
            row.next_check_at = min(row.next_check_at, row.last_check_at + spec.interval)


def _fill_pledge(row: m.Pledge, pledge: PledgeSpec) -> None:
    row.company, row.title, row.made_on, row.active = pledge.company, pledge.title, pledge.made_on, True
    row.expires_on = pledge.expires_on
    row.spec = {
        "clauses": list(pledge.clauses),
        "sources": list(pledge.sources),
        "keywords": list(pledge.keywords),
        "tags": list(pledge.tags),
        "effective_expiry": str(pledge.effective_expiry()) if pledge.effective_expiry() else None,
        "renewed": bool(pledge.renewed),
    }


def _clause_record(c: m.ClauseState) -> ClauseRecord:
    return ClauseRecord(
        pledge_id=c.pledge_id,
        clause=c.clause,
        state=c.state,
        pending=c.pending,
        pending_since=c.pending_since,
        location=c.location,
        passage=c.passage,
        similarity=c.similarity,
        context=c.context,
    )


# -- helpers: recording -----------------------------------------------------------------------
