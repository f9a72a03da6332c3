"""Recording a batch of checks: rows, blobs, the integrity ledger, events and their alerts.

Everything a batch writes happens in the one transaction its caller (the Store) opens, so an Event
is never stored without its Alerts, nor a Snapshot without its ledger entry. Quiet checks (nothing
new, nothing to tell) take a bulk path: one INSERT and one UPDATE for the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from monitor import pledge_state
from monitor.audit import chain
from monitor.checking import CheckResult, ItemRecord
from monitor.clauses import clause_key
from monitor.diff import summarize, to_delta
from monitor.errors import NotFoundError
from monitor.events import AlertStatus, CheckOutcome, EventKind, SourceHealth
from monitor.lifecycle import EventDraft
from monitor.routes import routes_for
from monitor.store import blobs
from monitor.store import models as m
from monitor.watchlist import SourceKind, Watchlist


@dataclass(frozen=True)
class Recorded:
    """What recording one check produced, for the summary and the logs."""

    source_id: str
    check_id: int
    outcome: CheckOutcome
    change_id: int | None
    event_ids: tuple[int, ...]


def record_batch(
    s: Session, items: Sequence[tuple[CheckResult, datetime]], watchlist: Watchlist
) -> list[Recorded]:
    quiet = [(r, at) for r, at in items if _is_quiet(r)]
    loud = [(r, at) for r, at in items if not _is_quiet(r)]
    _lock_ledger(s)
    out = _record_quiet(s, quiet)
    ledger = _Ledger(s)
    if loud:
        # the session's identity map holds rows weakly: keep these alive while recording
        preloaded = _preload(s, [result.source_id for result, _ in loud])
        for result, next_at in loud:
            out.append(_record_one(s, ledger, result, next_at, watchlist))
        _refresh_pledges(s, {e.pledge_id for r in loud for e in _drafts(r[0]) if e.pledge_id}, loud)
        del preloaded
    chain_checks(s, ledger)
    return out


def add_events(s: Session, drafts: Iterable[EventDraft], watchlist: Watchlist, now: datetime) -> list[int]:
    _lock_ledger(s)
    ledger = _Ledger(s)
    drafts = list(drafts)
    ids = [_add_event(s, ledger, d, None, None, now, watchlist) for d in drafts]
    refresh_pledges(s, {d.pledge_id for d in drafts if d.pledge_id}, now)  # an expiry changes the state
    return ids


class _Ledger:
    """Appends to the integrity chain inside the recording transaction."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.last = s.scalar(select(m.Ledger.hash).order_by(m.Ledger.seq.desc()).limit(1)) or chain.GENESIS
        self.appended = 0

    def append(self, record_type: str, row: Any, at: datetime) -> None:
        """``row`` is an ORM row (flushed here for its id) or a row written with ``_insert``: the
        content hashed is the same values either way, so the chain is too."""
        if isinstance(row, m.Base):
            self.s.flush()
        digest = chain.content_hash(chain.CONTENT[record_type](row))
        entry_hash = chain.link(self.last, record_type, row.id, digest)
        values = {
            "record_type": record_type,
            "record_id": row.id,
            "content_hash": digest,
            "prev_hash": self.last,
            "hash": entry_hash,
            "at": at,
        }
        self.s.connection().execute(_INSERT_LEDGER, values)  # in order: seq follows the chain
        self.last = entry_hash
        self.appended += 1


def _table(model: type[m.Base]) -> Table:
    return cast(Table, model.__table__)


_INSERT_LEDGER = insert(_table(m.Ledger))
_RETURNING_ID: dict[type[m.Base], Any] = {
    model: insert(_table(model)).returning(_table(model).c.id)
    for model in (m.Check, m.Snapshot, m.Change, m.Event)
}


def _insert(s: Session, model: type[m.Base], values: dict[str, Any]) -> SimpleNamespace:
    """One row written with a Core statement, its id read back: a unit-of-work flush per row cost
    about 1 ms, five times per change. The row's values, with its id, as the ledger hashes them."""
    row_id = s.connection().execute(_RETURNING_ID[model], values).scalar_one()
    return SimpleNamespace(id=row_id, **values)


_T_CHECKS = cast(Table, m.Check.__table__)


SEAL_EVERY = 1000  # checks: a digest is chained at least this often...


def chain_checks(s: Session, ledger: _Ledger, *, force: bool = False) -> None:
    """Seal the checks not yet in a digest into one, chained: when this batch chained anything
    else, when a new UTC day began since the oldest of them, when there are SEAL_EVERY, or when
    forced (before a timestamp). A quiet source checked a few times a day so costs one ledger
    entry a day, not one per check."""
    s.flush()
    covered = s.scalar(select(func.max(m.CheckDigest.last_id))) or 0
    newer = _T_CHECKS.c.id > covered
    count, first_at, last_at = s.execute(
        select(func.count(), func.min(_T_CHECKS.c.at), func.max(_T_CHECKS.c.at)).where(newer)
    ).one()
    if not count:
        return
    new_day = first_at is not None and last_at is not None and first_at.date() < last_at.date()
    if not (force or ledger.appended or new_day or count >= SEAL_EVERY):
        return
    rows = s.execute(select(_T_CHECKS).where(newer).order_by(_T_CHECKS.c.id)).all()
    digest = m.CheckDigest(
        first_id=rows[0].id,
        last_id=rows[-1].id,
        ids=chain.id_ranges(r.id for r in rows),
        leaves=b"".join(chain.check_leaf(r) for r in rows),
        at=max(r.at for r in rows),
    )
    s.add(digest)
    ledger.append("checks", digest, digest.at)


def seal_checks(s: Session) -> None:
    """Chain every check not yet in a digest now (before the head is timestamped)."""
    _lock_ledger(s)
    chain_checks(s, _Ledger(s), force=True)


def record_prune(s: Session, ids: Sequence[int], before: datetime, at: datetime) -> None:
    """Chain what prune deleted, so the digests that name those checks still add up."""
    if not ids:
        return
    _lock_ledger(s)
    row = m.Prune(at=at, before=before, ids=chain.id_ranges(ids), count=len(ids))
    s.add(row)
    _Ledger(s).append("prune", row, at)


def chain_archive(s: Session, row: m.Archive, at: datetime) -> None:
    """Chain an archive copy once saved: editing its URL afterwards makes ``verify`` fail."""
    _lock_ledger(s)
    _Ledger(s).append("archive", row, at)


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
    check = _insert(s, m.Check, _check_values(result))
    change_id = None
    if result.snapshot is not None:
        snap = _snapshot_row(s, result, check.id)
        ledger.append("snapshot", snap, result.at)
        s.connection().execute(_SET_SNAPSHOT, {"b_id": check.id, "b_snapshot": snap.id})
        if result.diff is not None and result.prev_snapshot_id is not None:
            change = _insert(s, m.Change, _change_values(result, snap.id))
            ledger.append("change", change, result.at)
            change_id = change.id
            if watchlist.archive is not None and watchlist.archive.enabled:
                # its archive copy is an outbox row, queued with the change like an alert
                archive = {
                    "change_id": change.id,
                    "url": snap.url,
                    "attempts": 0,
                    "next_attempt_at": result.at,
                }
                s.connection().execute(insert(_table(m.Archive)), archive)
        source.snapshot_id = snap.id
    _update_health(source, result, next_at)
    _save_clauses(s, result)
    for item in result.items:
        _record_item(s, ledger, source, item, result.at, next_at)
    event_ids = [
        _add_event(s, ledger, draft, _change_of(s, draft, change_id), check.id, result.at, watchlist)
        for draft in _drafts(result)
        if not _told_before(s, draft)
    ]
    return Recorded(result.source_id, check.id, result.outcome, change_id, tuple(event_ids))


def _change_of(s: Session, draft: EventDraft, change_id: int | None) -> int | None:
    """An event is about this check's Change, or (a removal confirmed by a re-check) about the
    last Change of its source up to the check that first missed the clause."""
    if draft.change_at is None:
        return change_id
    earlier = s.scalar(
        select(m.Change.id)
        .where(m.Change.source_id == draft.source_id, m.Change.detected_at <= draft.change_at)
        .order_by(m.Change.detected_at.desc(), m.Change.id.desc())
        .limit(1)
    )
    return earlier if earlier is not None else change_id


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
            kind=SourceKind.ITEM,
            rules=page.rules,
            active=bool(item.pledge_ids),
            interval_s=feed.interval_s,
            next_check_at=next_at,
            last_check_at=at,
            last_good_at=at,
            health=SourceHealth.OK,
            failures=0,
            body_hash=page.body_hash,
            parent_id=feed.id,
            pledge_ids=list(item.pledge_ids),
        )
    )
    s.flush()
    check = m.Check(
        source_id=item.page_source_id, at=at, ms=0, status=page.status, outcome=CheckOutcome.BASELINE
    )
    s.add(check)
    s.flush()
    page_result = CheckResult(
        source_id=item.page_source_id,
        at=at,
        ms=0,
        outcome=CheckOutcome.BASELINE,
        snapshot=page,
        status=page.status,
    )
    snap = _snapshot_row(s, page_result, check.id)
    ledger.append("snapshot", snap, at)
    check.snapshot_id = snap.id
    row.snapshot_id = snap.id
    source = s.get(m.Source, item.page_source_id)
    assert source is not None
    source.snapshot_id = snap.id


def _told_before(s: Session, draft: EventDraft) -> bool:
    """One statement, one alert per pledge: a press release reached through a feed and through a
    listing (the same canonical address) was already told the first time."""
    statement = draft.details.get("statement")
    if draft.kind != EventKind.STATEMENT_NEW or not draft.pledge_id or not statement:
        return False
    s.flush()
    told = s.scalars(
        select(m.Event.details).where(
            m.Event.kind == EventKind.STATEMENT_NEW, m.Event.pledge_id == draft.pledge_id
        )
    )
    return any((d or {}).get("statement", (d or {}).get("link")) == statement for d in told)


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
        gone_checks=bindparam("b_gone_checks"),
        suspect_hash=bindparam("b_suspect_hash"),
        suspect_since=bindparam("b_suspect_since"),
        moved_to=bindparam("b_moved_to"),
        next_check_at=bindparam("b_next"),
    )
)


_INSERT_CHECKS = insert(_T_CHECKS).returning(_T_CHECKS.c.id, sort_by_parameter_order=True)
_INSERT_CHECKS_WITH_IDS = insert(_T_CHECKS)


def _record_quiet(s: Session, items: Sequence[tuple[CheckResult, datetime]]) -> list[Recorded]:
    """Bulk path: what _record_one does for a quiet check, as two executemany statements."""
    if not items:
        return []
    connection = s.connection()  # Core, not the ORM's bulk path: these rows are never ORM objects
    ids = _insert_checks(connection, [_check_values(result) for result, _ in items])
    connection.execute(_TOUCH_SOURCE, [_touch_values(result, next_at) for result, next_at in items])
    return [
        Recorded(r.source_id, check_id, r.outcome, None, ())
        for (r, _), check_id in zip(items, ids, strict=True)
    ]


def _insert_checks(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert check rows, their ids in order. SQLAlchemy can only read SQLite's ids back one INSERT
    per row; after the first row this transaction holds SQLite's one write lock, so the others
    take the ids that follow it, named here, in one executemany."""
    if connection.dialect.name != "sqlite":
        return list(connection.execute(_INSERT_CHECKS, rows).scalars().all())
    first = connection.execute(_RETURNING_ID[m.Check], rows[0]).scalar_one()
    ids = list(range(first, first + len(rows)))
    if len(rows) > 1:
        connection.execute(
            _INSERT_CHECKS_WITH_IDS, [{**row, "id": i} for row, i in zip(rows[1:], ids[1:], strict=True)]
        )
    return ids


def _touch_values(result: CheckResult, next_at: datetime) -> dict[str, Any]:
    transition, validators = result.transition, result.validators
    assert transition is not None
    assert transition.health is not None
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
        "b_gone_checks": health.gone_checks,
        "b_suspect_hash": health.suspect,
        "b_suspect_since": health.suspect_since,
        "b_moved_to": health.moved_to,
        "b_next": min(next_at, recheck) if recheck else next_at,
    }


def _preload(s: Session, source_ids: list[str]) -> list[object]:
    """One query each for the batch's sources and clause states, instead of one per check."""
    rows: list[object] = list(s.scalars(select(m.Source).where(m.Source.id.in_(source_ids))))
    rows += s.scalars(select(m.ClauseState).where(m.ClauseState.source_id.in_(source_ids)))
    return rows


_T_SNAPSHOTS = _table(m.Snapshot)
_PREVIOUS_HASHES = select(_T_SNAPSHOTS.c.body_hash, _T_SNAPSHOTS.c.text_hash).where(
    _T_SNAPSHOTS.c.id == bindparam("b_id")
)
_SET_SNAPSHOT = (
    update(_T_CHECKS).where(_T_CHECKS.c.id == bindparam("b_id")).values(snapshot_id=bindparam("b_snapshot"))
)


def _check_values(result: CheckResult) -> dict[str, Any]:
    validators = result.validators
    return {
        "source_id": result.source_id,
        "at": result.at,
        "ms": result.ms,
        "status": result.status,
        "outcome": result.outcome,
        "final_url": result.final_url,
        "redirects": [list(r) for r in result.redirects] or None,
        "etag": validators.etag if validators else None,
        "last_modified": validators.last_modified if validators else None,
        "error": str(result.error) if result.error else None,
        "note": result.note,
    }


def _snapshot_row(s: Session, result: CheckResult, check_id: int) -> SimpleNamespace:
    snapshot = result.snapshot
    assert snapshot is not None
    # blobs and snapshots are written with Core statements: no ORM row of theirs awaits a flush
    previous = (
        s.connection().execute(_PREVIOUS_HASHES, {"b_id": result.prev_snapshot_id}).first()
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
    screenshot_hash = None
    if snapshot.screenshot is not None:
        screenshot_hash = sha256(snapshot.screenshot).hexdigest()
        _put_blob(s, screenshot_hash, snapshot.screenshot, None)  # a PNG: no delta to gain
    values = {
        "source_id": result.source_id,
        "check_id": check_id,
        "fetched_at": result.at,
        "url": snapshot.url,
        "status": snapshot.status,
        "headers": dict(snapshot.headers),
        "request_headers": dict(snapshot.request_headers),
        "body_hash": snapshot.body_hash,
        "text_hash": snapshot.text_hash,
        "rules": snapshot.rules,
        "screenshot_hash": screenshot_hash,
    }
    return _insert(s, m.Snapshot, values)


def _put_blob(
    s: Session, digest: str, data: bytes, base_hash: str | None, base_raw: bytes | None = None
) -> None:
    """Store once per content; as a delta against the previous version when that is smaller."""
    wanted = [digest, base_hash] if base_hash else [digest]
    rows = s.connection().execute(_DEPTHS, {"b_hashes": wanted}).all()
    depths = dict(rows)  # one query for the blob and its base
    if digest in depths:
        return
    base_depth = depths.get(base_hash) if base_hash else None
    base = None
    if base_hash and base_depth is not None:
        base = (base_hash, base_raw if base_raw is not None else load_blob(s, base_hash), base_depth)
    packed = blobs.pack(data, base)
    row = {
        "hash": digest,
        "size": len(data),
        "codec": packed.codec,
        "base": packed.base,
        "depth": packed.depth,
        "data": packed.data,
    }
    s.connection().execute(insert(_T_BLOBS), row)


_T_BLOBS = cast(Table, m.Blob.__table__)
_DEPTHS = select(_T_BLOBS.c.hash, _T_BLOBS.c.depth).where(
    _T_BLOBS.c.hash.in_(bindparam("b_hashes", expanding=True))
)


def load_blob(s: Session, digest: str) -> bytes:
    return read_blob(s.connection(), digest)


_BLOB = select(_T_BLOBS.c.data, _T_BLOBS.c.codec, _T_BLOBS.c.base).where(_T_BLOBS.c.hash == bindparam("h"))


def read_blob(connection: Connection, digest: str) -> bytes:
    row = connection.execute(_BLOB, {"h": digest}).first()
    if row is None:
        raise NotFoundError(f"no stored content with hash {digest}")
    data, codec, base = row
    return blobs.unpack(data, codec, lambda: read_blob(connection, base) if base else b"")


def _change_values(result: CheckResult, to_snapshot_id: int) -> dict[str, Any]:
    diff = result.diff
    assert diff is not None
    assert result.prev_snapshot_id is not None
    return {
        "source_id": result.source_id,
        "from_snapshot_id": result.prev_snapshot_id,
        "to_snapshot_id": to_snapshot_id,
        "detected_at": result.at,
        "added_words": diff.added_words,
        "removed_words": diff.removed_words,
        "delta": to_delta(diff),
        "summary": summarize(diff),
    }


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
        source.gone_checks = health.gone_checks
        source.suspect_hash, source.suspect_since = health.suspect, health.suspect_since
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
    values = {
        "kind": draft.kind,
        "severity": draft.severity.label,
        "created_at": at,
        "pledge_id": draft.pledge_id,
        "source_id": draft.source_id,
        "change_id": change_id,
        "check_id": check_id,
        "title": draft.title,
        "details": draft.details,
    }
    row = _insert(s, m.Event, values)
    ledger.append("event", row, at)
    alerts = [
        {
            "event_id": row.id,
            "route": route,
            "status": AlertStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": at,
        }
        for route in routes_for(draft, watchlist)
    ]
    if alerts:
        s.connection().execute(insert(_table(m.Alert)), alerts)
    return int(row.id)


STATE_EVENTS = (*pledge_state.AFTER, pledge_state.EXPIRED)


def pledge_clauses(s: Session, pledge: m.Pledge) -> pledge_state.Clauses:
    """What the store knows of a pledge's clauses, as ``pledge_state`` reads it: the (source,
    clause) pairs the watchlist has it watch now, and each one's recorded state."""
    spec = pledge.spec or {}
    watched = frozenset(
        (source_id, clause_key(clause))
        for source_id in spec.get("sources", ())
        for clause in spec.get("clauses", ())
    )
    rows = s.execute(
        select(m.ClauseState.source_id, m.ClauseState.clause_key, m.ClauseState.state).where(
            m.ClauseState.pledge_id == pledge.id
        )
    )
    return pledge_state.Clauses(
        watched, {(sid, key): state for sid, key, state in rows}, spec.get("effective_expiry")
    )


def pledge_events(s: Session, pledge_id: str) -> list[m.Event]:
    """The events a pledge's state is folded from."""
    return list(
        s.scalars(
            select(m.Event)
            .where(m.Event.pledge_id == pledge_id, m.Event.kind.in_(STATE_EVENTS))
            .order_by(m.Event.id)
        )
    )


def refresh_pledges(s: Session, pledge_ids: Iterable[str], at: datetime) -> None:
    """Store each pledge's state as ``pledge_state`` computes it, so every reader sees the same."""
    ids = set(pledge_ids)
    if not ids:
        return
    s.flush()
    for pledge in s.scalars(select(m.Pledge).where(m.Pledge.id.in_(ids))):
        now = pledge_state.current(pledge_events(s, pledge.id), pledge_clauses(s, pledge))
        if now.state != pledge.state:
            pledge.state, pledge.state_since = now.state, now.start or at
        elif now.start is not None:
            pledge.state_since = now.start


def _refresh_pledges(s: Session, pledge_ids: set[str], items: Sequence[tuple[CheckResult, datetime]]) -> None:
    touched = set(pledge_ids)
    for result, _ in items:
        if result.transition:
            touched.update(pid for pid, _key in result.transition.clauses)
    if touched and items:
        refresh_pledges(s, touched, items[0][0].at)
