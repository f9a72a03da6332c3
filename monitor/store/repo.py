"""The queries: the only code that reads or writes the database.

Writes are short: a check's fetch happens before and outside any transaction, and the results
of a batch of checks are recorded together in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.audit import chain
from monitor.check import CheckResult, SourceState
from monitor.diff import summarize, to_delta
from monitor.errors import NotFoundError
from monitor.events import Severity
from monitor.lifecycle import ClauseRecord, EventDraft, Health
from monitor.routes import matching_routes
from monitor.statements import ItemRecord
from monitor.store import blobs
from monitor.store import models as m
from monitor.watchlist import PledgeSpec, SourceSpec, Watchlist


@dataclass(frozen=True)
class Recorded:
    """What recording one check produced, for the summary and the logs."""

    source_id: str
    check_id: int
    outcome: str
    change_id: int | None
    event_ids: tuple[int, ...]


class Store:
    """One database; sessions are short-lived and made per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.session = sessionmaker(engine, expire_on_commit=False)

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
            for pledge in watchlist.pledges:
                prow = pledges.pop(pledge.id, None)
                if prow is None:
                    prow = m.Pledge(id=pledge.id, state="unknown", state_since=now)
                    s.add(prow)
                _fill_pledge(prow, pledge)
            for prow in pledges.values():
                prow.active = False

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
                    m.Snapshot.text_hash,
                    m.Snapshot.rules,
                )
                .outerjoin(m.Snapshot, m.Snapshot.id == m.Source.snapshot_id)
                .where(m.Source.id.in_(source_ids))
            ).all()
            clause_rows = s.scalars(select(m.ClauseState).where(m.ClauseState.source_id.in_(source_ids)))
            clauses: dict[str, dict[tuple[str, str], ClauseRecord]] = {}
            for c in clause_rows:
                clauses.setdefault(c.source_id, {})[(c.pledge_id, c.clause_key)] = _clause_record(c)
            feeds = [r.id for r in rows if r.kind in ("feed", "listing")]
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
                health=Health(row.health, row.failures, row.gone_since, row.moved_to),
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
                .where(m.Source.active.is_(True), m.Source.health.not_in(("failing", "gone", "stale")))
                .group_by(m.Source.id)
                .having(newest < cutoff)
            )
            return [(sid, at) for sid, at in rows]

    # -- blobs -------------------------------------------------------------------------------

    def load_blob(self, digest: str) -> bytes:
        """Called from check threads: a plain connection, no ORM session to set up."""
        with self.engine.connect() as connection:
            return _load_blob(connection, digest)

    def load_text(self, digest: str) -> str:
        return self.load_blob(digest).decode()

    # -- recording ---------------------------------------------------------------------------

    def record(self, items: Sequence[tuple[CheckResult, datetime]], watchlist: Watchlist) -> list[Recorded]:
        """Record a batch of checks, with their snapshots, changes, events and pending alerts.

        Quiet checks (nothing new, nothing to tell) take a bulk path: one INSERT and one UPDATE
        for the whole batch; the ORM is only for checks that add snapshots, events or clause states.
        """
        quiet = [(r, at) for r, at in items if _is_quiet(r)]
        loud = [(r, at) for r, at in items if not _is_quiet(r)]
        out: list[Recorded] = []
        with self.session.begin() as s:
            _lock_ledger(s)
            out.extend(_record_quiet(s, quiet))
            if loud:
                ledger = _Ledger(s)
                # the session's identity map holds rows weakly: keep these alive while recording
                preloaded = _preload(s, [result.source_id for result, _ in loud])
                for result, next_at in loud:
                    out.append(_record_one(s, ledger, result, next_at, watchlist))
                _refresh_pledges(s, {e.pledge_id for r in loud for e in _drafts(r[0]) if e.pledge_id}, loud)
                del preloaded
        return out

    def add_events(self, drafts: Iterable[EventDraft], watchlist: Watchlist, now: datetime) -> list[int]:
        """Events that come from no check (deadlines, staleness), with their alerts."""
        with self.session.begin() as s:
            _lock_ledger(s)
            ledger = _Ledger(s)
            return [_add_event(s, ledger, d, None, None, now, watchlist) for d in drafts]

    # -- the sweep ---------------------------------------------------------------------------

    def deadline_events_sent(self, pledge_id: str) -> set[tuple[str, str, int]]:
        """(kind, expires_on, reminder) of the deadline events already raised for a pledge."""
        with self.session() as s:
            rows = s.execute(
                select(m.Event.kind, m.Event.details).where(
                    m.Event.pledge_id == pledge_id, m.Event.kind.in_(("pledge.expiring", "pledge.expired"))
                )
            )
            return {(kind, str(d.get("expires_on")), int(d.get("reminder", 0))) for kind, d in rows}

    def stale_sources(self, cutoff: datetime) -> list[tuple[str, datetime | None]]:
        """Active sources with no good check since ``cutoff`` that are not already reported."""
        with self.session() as s:
            rows = s.execute(
                select(m.Source.id, m.Source.last_good_at).where(
                    m.Source.active.is_(True),
                    m.Source.health.not_in(("failing", "gone", "stale")),
                    m.Source.last_check_at.is_not(None),
                    (m.Source.last_good_at < cutoff) | m.Source.last_good_at.is_(None),
                )
            )
            return [(sid, last_good) for sid, last_good in rows]

    def mark_health(self, source_ids: Sequence[str], health: str) -> None:
        if source_ids:
            with self.session.begin() as s:
                s.execute(update(m.Source).where(m.Source.id.in_(source_ids)).values(health=health))

    def set_pledge_state(self, pledge_id: str, state: str, at: datetime) -> None:
        with self.session.begin() as s:
            row = s.get(m.Pledge, pledge_id)
            if row is not None and row.state != state:
                row.state, row.state_since = state, at

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

    def workers(self) -> list[m.Worker]:
        with self.session() as s:
            return list(s.scalars(select(m.Worker).order_by(m.Worker.name)))

    def overdue_alerts(self, before: datetime) -> int:
        """Pending alerts that should have gone out before ``before``: delivery is stuck."""
        with self.session() as s:
            query = select(func.count()).select_from(m.Alert)
            query = query.where(m.Alert.status == "pending", m.Alert.next_attempt_at < before)
            return int(s.scalar(query) or 0)

    def check_counts(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(m.Check.outcome, func.count()).group_by(m.Check.outcome))
            return {outcome: count for outcome, count in rows}


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
        "health": "new",
        "failures": 0,
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


class _Ledger:
    """Appends to the integrity chain inside the recording transaction."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.last = s.scalar(select(m.Ledger.hash).order_by(m.Ledger.seq.desc()).limit(1)) or chain.GENESIS

    def append(self, record_type: str, row: Any, at: datetime) -> None:
        self.s.flush()
        digest = chain.content_hash(chain.CONTENT[record_type](row))
        entry_hash = chain.link(self.last, record_type, row.id, digest)
        self.s.add(
            m.Ledger(
                record_type=record_type,
                record_id=row.id,
                content_hash=digest,
                prev_hash=self.last,
                hash=entry_hash,
                at=at,
            )
        )
        self.last = entry_hash


def _lock_ledger(s: Session) -> None:
    """Several PostgreSQL workers append to one chain: take turns. SQLite has one writer anyway."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(func.pg_advisory_xact_lock(7_460_001)))


def _drafts(result: CheckResult) -> tuple[EventDraft, ...]:
    return result.transition.events if result.transition else ()


def _record_one(
    s: Session, ledger: _Ledger, result: CheckResult, next_at: datetime, watchlist: Watchlist
) -> Recorded:
    source = s.get(m.Source, result.source_id)
    assert source is not None, result.source_id
    check = _check_row(result)
    s.add(check)
    s.flush()
    change_id = None
    if result.snapshot is not None:
        snap = _snapshot_row(s, result, check.id)
        ledger.append("snapshot", snap, result.at)
        check.snapshot_id = snap.id
        if result.diff is not None and result.prev_snapshot_id is not None:
            change = _change_row(result, snap.id)
            s.add(change)
            ledger.append("change", change, result.at)
            change_id = change.id
        source.snapshot_id = snap.id
    _update_health(source, result, next_at)
    _save_clauses(s, result)
    for item in result.items:
        _record_item(s, ledger, source, item, result.at, next_at)
    event_ids = [
        _add_event(s, ledger, draft, change_id, check.id, result.at, watchlist) for draft in _drafts(result)
    ]
    return Recorded(result.source_id, check.id, result.outcome, change_id, tuple(event_ids))


def _record_item(
    s: Session, ledger: _Ledger, feed: m.Source, item: ItemRecord, at: datetime, next_at: datetime
) -> None:
    """A new feed item; its page, when fetched, becomes a source of its own with one snapshot."""
    row = m.FeedItem(
        source_id=feed.id,
        key_hash=item.key_hash,
        key=item.key,
        link=item.link,
        title=item.title,
        published=item.published,
        first_seen=at,
        baseline=item.baseline,
        page_source_id=item.page_source_id,
    )
    s.add(row)
    if item.page is None or item.page_source_id is None:
        return
    if s.get(m.Source, item.page_source_id) is not None:
        return
    page = item.page
    s.add(
        m.Source(
            id=item.page_source_id,
            url=item.link or page.url,
            kind="item",
            rules=page.rules,
            active=bool(item.pledge_ids),
            interval_s=feed.interval_s,
            next_check_at=next_at,
            last_check_at=at,
            last_good_at=at,
            health="ok",
            failures=0,
            body_hash=page.body_hash,
            parent_id=feed.id,
            pledge_ids=list(item.pledge_ids),
        )
    )
    s.flush()
    check = m.Check(source_id=item.page_source_id, at=at, ms=0, status=page.status, outcome="baseline")
    s.add(check)
    s.flush()
    page_result = CheckResult(
        source_id=item.page_source_id, at=at, ms=0, outcome="baseline", snapshot=page, status=page.status
    )
    snap = _snapshot_row(s, page_result, check.id)
    ledger.append("snapshot", snap, at)
    check.snapshot_id = snap.id
    row.snapshot_id = snap.id
    source = s.get(m.Source, item.page_source_id)
    assert source is not None
    source.snapshot_id = snap.id


def _is_quiet(result: CheckResult) -> bool:
    """A good check that stores no snapshot, raises no event and moves no clause."""
    t = result.transition
    return (
        result.ok
        and result.snapshot is None
        and t is not None
        and t.health is not None
        and not t.events
        and not t.clauses
        and not result.items
    )


_T_SOURCES = cast(Table, m.Source.__table__)
_TOUCH_SOURCE = (
    update(_T_SOURCES)
    .where(_T_SOURCES.c.id == bindparam("b_id"))
    .values(
        last_check_at=bindparam("b_at"),
        last_good_at=bindparam("b_at"),
        etag=func.coalesce(bindparam("b_etag", type_=_T_SOURCES.c.etag.type), _T_SOURCES.c.etag),
        last_modified=func.coalesce(
            bindparam("b_last_modified", type_=_T_SOURCES.c.last_modified.type), _T_SOURCES.c.last_modified
        ),
        body_hash=func.coalesce(
            bindparam("b_body_hash", type_=_T_SOURCES.c.body_hash.type), _T_SOURCES.c.body_hash
        ),
        health=bindparam("b_health"),
        failures=bindparam("b_failures"),
        gone_since=bindparam("b_gone_since"),
        moved_to=bindparam("b_moved_to"),
        next_check_at=bindparam("b_next"),
    )
)


def _record_quiet(s: Session, items: Sequence[tuple[CheckResult, datetime]]) -> list[Recorded]:
    """Bulk path: what _record_one does for a quiet check, as two executemany statements."""
    if not items:
        return []
    ids = s.scalars(
        insert(m.Check).returning(m.Check.id, sort_by_parameter_order=True),
        [_check_values(result) for result, _ in items],
    ).all()
    s.execute(_TOUCH_SOURCE, [_touch_values(result, next_at) for result, next_at in items])
    return [
        Recorded(r.source_id, check_id, r.outcome, None, ())
        for (r, _), check_id in zip(items, ids, strict=True)
    ]


def _touch_values(result: CheckResult, next_at: datetime) -> dict[str, Any]:
    transition, validators = result.transition, result.validators
    assert transition is not None and transition.health is not None
    health = transition.health
    recheck = transition.recheck_at
    return {
        "b_id": result.source_id,
        "b_at": result.at,
        "b_etag": (validators.etag or None) if validators else None,  # as _update_health: keep the old one
        "b_last_modified": (validators.last_modified or None) if validators else None,
        "b_body_hash": result.body_hash or None,
        "b_health": health.state,
        "b_failures": health.failures,
        "b_gone_since": health.gone_since,
        "b_moved_to": health.moved_to,
        "b_next": min(next_at, recheck) if recheck else next_at,
    }


def _preload(s: Session, source_ids: list[str]) -> list[object]:
    """One query each for the batch's sources and clause states, instead of one per check."""
    rows: list[object] = list(s.scalars(select(m.Source).where(m.Source.id.in_(source_ids))))
    rows += s.scalars(select(m.ClauseState).where(m.ClauseState.source_id.in_(source_ids)))
    return rows


def _check_row(result: CheckResult) -> m.Check:
    return m.Check(**_check_values(result))


def _check_values(result: CheckResult) -> dict[str, Any]:
    validators = result.validators
    return dict(
        source_id=result.source_id,
        at=result.at,
        ms=result.ms,
        status=result.status,
        outcome=result.outcome,
        final_url=result.final_url,
        redirects=[list(r) for r in result.redirects] or None,
        etag=validators.etag if validators else None,
        last_modified=validators.last_modified if validators else None,
        error=str(result.error) if result.error else None,
    )


def _snapshot_row(s: Session, result: CheckResult, check_id: int) -> m.Snapshot:
    snapshot = result.snapshot
    assert snapshot is not None
    previous = (
        s.execute(
            select(m.Snapshot.body_hash, m.Snapshot.text_hash).where(m.Snapshot.id == result.prev_snapshot_id)
        ).first()
        if result.prev_snapshot_id
        else None
    )
    _put_blob(s, snapshot.body_hash, snapshot.body, previous.body_hash if previous else None)
    _put_blob(
        s,
        snapshot.text_hash,
        snapshot.text.encode(),
        previous.text_hash if previous else None,
        snapshot.base_text.encode() if snapshot.base_text is not None else None,
    )
    row = m.Snapshot(
        source_id=result.source_id,
        check_id=check_id,
        fetched_at=result.at,
        url=snapshot.url,
        status=snapshot.status,
        headers=dict(snapshot.headers),
        request_headers=dict(snapshot.request_headers),
        body_hash=snapshot.body_hash,
        text_hash=snapshot.text_hash,
        rules=snapshot.rules,
    )
    s.add(row)
    s.flush()
    return row


def _put_blob(
    s: Session, digest: str, data: bytes, base_hash: str | None, base_raw: bytes | None = None
) -> None:
    """Store once per content; as a delta against the previous version when that is smaller."""
    if s.scalar(select(m.Blob.depth).where(m.Blob.hash == digest)) is not None:
        return
    base_depth = s.scalar(select(m.Blob.depth).where(m.Blob.hash == base_hash)) if base_hash else None
    base = None
    if base_hash and base_depth is not None:
        base = (base_hash, base_raw if base_raw is not None else load_blob(s, base_hash), base_depth)
    packed = blobs.pack(data, base)
    s.add(
        m.Blob(
            hash=digest,
            size=len(data),
            codec=packed.codec,
            base=packed.base,
            depth=packed.depth,
            data=packed.data,
        )
    )


def load_blob(s: Session, digest: str) -> bytes:
    return _load_blob(s.connection(), digest)


_T_BLOBS = cast(Table, m.Blob.__table__)
_BLOB = select(_T_BLOBS.c.data, _T_BLOBS.c.codec, _T_BLOBS.c.base).where(_T_BLOBS.c.hash == bindparam("h"))


def _load_blob(connection: Connection, digest: str) -> bytes:
    row = connection.execute(_BLOB, {"h": digest}).first()
    if row is None:
        raise NotFoundError(f"no stored content with hash {digest}")
    data, codec, base = row
    return blobs.unpack(data, codec, lambda: _load_blob(connection, base) if base else b"")


def _change_row(result: CheckResult, to_snapshot_id: int) -> m.Change:
    diff = result.diff
    assert diff is not None and result.prev_snapshot_id is not None
    return m.Change(
        source_id=result.source_id,
        from_snapshot_id=result.prev_snapshot_id,
        to_snapshot_id=to_snapshot_id,
        detected_at=result.at,
        added_words=diff.added_words,
        removed_words=diff.removed_words,
        delta=to_delta(diff),
        summary=summarize(diff),
    )


def _update_health(source: m.Source, result: CheckResult, next_at: datetime) -> None:
    source.last_check_at = result.at
    transition = result.transition
    if result.ok:
        source.last_good_at = result.at
        if result.validators is not None:
            source.etag = result.validators.etag or source.etag
            source.last_modified = result.validators.last_modified or source.last_modified
        if result.body_hash:
            source.body_hash = result.body_hash
    if transition is not None and transition.health is not None:
        health = transition.health
        source.health, source.failures = health.state, health.failures
        source.gone_since, source.moved_to = health.gone_since, health.moved_to
    recheck = transition.recheck_at if transition else None
    source.next_check_at = min(next_at, recheck) if recheck else next_at


def _save_clauses(s: Session, result: CheckResult) -> None:
    if result.transition is None:
        return
    for (pledge_id, key), record in result.transition.clauses.items():
        row = s.get(m.ClauseState, (pledge_id, result.source_id, key))
        if row is None:
            row = m.ClauseState(pledge_id=pledge_id, source_id=result.source_id, clause_key=key)
            s.add(row)
        row.clause, row.state, row.pending = record.clause, record.state, record.pending
        row.pending_since, row.location = record.pending_since, record.location
        row.passage, row.similarity, row.updated_at = record.passage, record.similarity, result.at
        row.context = record.context


def _add_event(
    s: Session,
    ledger: _Ledger,
    draft: EventDraft,
    change_id: int | None,
    check_id: int | None,
    at: datetime,
    watchlist: Watchlist,
) -> int:
    row = m.Event(
        kind=draft.kind,
        severity=draft.severity.label,
        created_at=at,
        pledge_id=draft.pledge_id,
        source_id=draft.source_id,
        change_id=change_id,
        check_id=check_id,
        title=draft.title,
        details=draft.details,
    )
    s.add(row)
    s.flush()
    ledger.append("event", row, at)
    for route in matching_routes(watchlist.routes, draft.kind, draft.severity, _concerned(draft, watchlist)):
        s.add(m.Alert(event_id=row.id, route=route, status="pending", attempts=0, next_attempt_at=at))
    return row.id


def _concerned(draft: EventDraft, watchlist: Watchlist) -> list[PledgeSpec]:
    if draft.pledge_id:
        return [p for p in watchlist.pledges if p.id == draft.pledge_id]
    ids = set(draft.details.get("pledges", ()))
    if not ids and draft.source_id:
        return list(watchlist.pledges_for(draft.source_id))
    return [p for p in watchlist.pledges if p.id in ids]


STATE_ORDER = ("intact", "reworded", "weakened", "removed")


def pledge_state(clause_states: Sequence[str]) -> str:
    """A pledge is as bad as its worst clause; a clause counts as found if any source has it."""
    if not clause_states or all(c == "unknown" for c in clause_states):
        return "unknown"
    mapping = {"exact": "intact", "reworded": "reworded", "weakened": "weakened", "not_found": "removed"}
    known = [mapping[c] for c in clause_states if c in mapping]
    return max(known, key=STATE_ORDER.index) if known else "unknown"


def _refresh_pledges(s: Session, pledge_ids: set[str], items: Sequence[tuple[CheckResult, datetime]]) -> None:
    touched = set(pledge_ids)
    for result, _ in items:
        if result.transition:
            touched.update(pid for pid, _key in result.transition.clauses)
    if not touched:
        return
    at = items[0][0].at if items else None
    for pledge in s.scalars(select(m.Pledge).where(m.Pledge.id.in_(touched))):
        rows = s.scalars(select(m.ClauseState).where(m.ClauseState.pledge_id == pledge.id))
        best: dict[str, str] = {}
        for row in rows:  # a clause found on any of its sources is found
            rank = ("exact", "reworded", "weakened", "not_found", "unknown")
            current = best.get(row.clause_key)
            if current is None or rank.index(row.state) < rank.index(current):
                best[row.clause_key] = row.state
        state = pledge_state(list(best.values()))
        if pledge.state == "expired" and state == "intact":
            continue
        if state != pledge.state:
            pledge.state, pledge.state_since = state, at


def severity_of(row: m.Event) -> Severity:
    return Severity.parse(row.severity)
