"""The alerts outbox: the only database code for delivering Alerts.

One Alert row moves through a small state machine; every step is one short transaction, and
sending happens between steps, outside any transaction::

    pending --claim--> sending --begin--> (send) --mark_sent-->   sent     (final: never claimed again)
                                                 --mark_retry-->  pending  (next_attempt_at = now + backoff)
                                                 --mark_failed--> failed   (``alerts retry --failed``)
                               --hold/release-------------------> pending  (digest not due yet)
    pending --hold_muted--> muted  (final: its source or route was muted; kept, never sent)

A claim is a lease (``claimed_until``) that the worker renews while it lives. A worker that dies
leaves ``sending`` rows behind: a worker that starts releases those of workers proven gone
(``release_claims``), and otherwise the lease runs out and the next claim takes them. Delivery is
at-least-once, and a row marked ``sent`` is never taken again. ``attempts`` counts the sends that
began (``begin``, just before sending), not the claims: a worker killed with a batch claimed made
one attempt at most, on the alert it was sending, and that alert is the only one that may reach
its receiver twice.

``last_error`` holds JSON, ``{"done": [0, 2], "error": "..."}``: the indices of the route's
targets that already accepted the alert (a retry skips them, so they get it once) and the last
error, already free of secrets. The schema has no other place for that progress.

Archive copies (``archives``: a changed page to save at a public web archive) are outbox rows of
the same shape, and go through the same lease functions with ``table=m.Archive``: claimed with a
lease, ``begin`` counts a submission, a worker that dies leaves them to the next, and a row that
is final (``saved``) is never claimed again.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, update
from sqlalchemy.orm import Session

from monitor.events import AlertStatus, ArchiveStatus, EventKind
from monitor.store import models as m

A = m.Alert
S = TypeVar("S", AlertStatus, ArchiveStatus)
Leased = type[m.Alert] | type[m.Archive]  # the outbox tables: same lease columns, same states
LEASED: tuple[Leased, ...] = (m.Alert, m.Archive)


def statuses(table: Leased) -> type[AlertStatus] | type[ArchiveStatus]:
    """An outbox table's own states: the lease steps use those both spell alike (pending,
    sending, failed)."""
    return AlertStatus if table is m.Alert else ArchiveStatus


@dataclass(frozen=True)
class Progress:
    """What ``last_error`` records: targets already done, and the last error."""

    done: frozenset[int] = frozenset()
    error: str | None = None

    def dump(self) -> str:
        return json.dumps({"done": sorted(self.done), "error": self.error})

    @classmethod
    def load(cls, text: str | None) -> Progress:
        """Read ``last_error``; text that is not our JSON is an error message without progress."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            done = frozenset(int(i) for i in data.get("done", ()))
            error = data.get("error")
            return cls(done, None if error is None else str(error))
        except (ValueError, TypeError, AttributeError):
            return cls(frozenset(), text)


@dataclass(frozen=True)
class OutboxItem:
    """A claimed Alert with its Event, ready to render and send."""

    alert_id: int
    route: str
    attempts: int  # including the attempt this claim is for
    due_at: datetime  # next_attempt_at when claimed
    progress: Progress
    fresh: bool  # never tried before (attempts was 0 and nothing recorded)
    event: m.Event = field(compare=False)
    archive_url: str | None = None  # the event's change saved at a web archive, when it is by now


@dataclass(frozen=True)
class FailedAlert:
    """An Alert that gave up, for ``status`` and ``alerts retry --failed``."""

    alert_id: int
    event_id: int
    route: str
    attempts: int
    error: str | None
    kind: EventKind
    title: str
    created_at: datetime


def _due(now: datetime, table: Leased = A) -> ColumnElement[bool]:
    return or_(
        and_(table.status == statuses(table).PENDING, table.next_attempt_at <= now),
        and_(
            table.status == statuses(table).SENDING,
            or_(table.claimed_until.is_(None), table.claimed_until <= now),
        ),
    )


def _claim(s: Session, table: Leased, *, now: datetime, worker: str, lease: timedelta, batch: int) -> Any:
    """Mark up to ``batch`` due rows (and abandoned ones) as ``worker``'s until ``now + lease``."""
    pick: Any = (
        select(table.id).where(_due(now, table)).order_by(table.next_attempt_at, table.id).limit(batch)
    )
    if s.get_bind().dialect.name == "postgresql":
        pick = list(s.scalars(pick.with_for_update(skip_locked=True)))
    # the condition is repeated in the UPDATE: a row another worker took meanwhile is skipped
    return (
        update(table)
        .where(table.id.in_(pick), _due(now, table))
        .values(status=statuses(table).SENDING, claimed_by=worker, claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )


def claim_ids(
    engine: Engine, table: Leased, *, now: datetime, worker: str, lease: timedelta, batch: int = 100
) -> list[int]:
    """Take up to ``batch`` due rows of an outbox table; their ids, oldest due first."""
    with Session(engine) as s, s.begin():
        claim = _claim(s, table, now=now, worker=worker, lease=lease, batch=batch)
        rows = s.execute(claim.returning(table.id, table.next_attempt_at)).all()
    return [rid for rid, _ in sorted(rows, key=lambda r: (r[1], r[0]))]


def claim_due(
    engine: Engine, *, now: datetime, worker: str, lease: timedelta, batch: int = 100
) -> list[OutboxItem]:
    """Take up to ``batch`` due alerts (and abandoned ones) for ``worker`` until ``now + lease``."""
    with Session(engine, expire_on_commit=False) as s, s.begin():
        claim = _claim(s, A, now=now, worker=worker, lease=lease, batch=batch)
        rows = s.execute(
            claim.returning(A.id, A.event_id, A.route, A.attempts, A.next_attempt_at, A.last_error)
        ).all()
        if not rows:
            return []
        events = {
            e.id: e for e in s.scalars(select(m.Event).where(m.Event.id.in_({r.event_id for r in rows})))
        }
        changes = {e.change_id for e in events.values() if e.change_id is not None}
        saved = select(m.Archive.change_id, m.Archive.archive_url).where(
            m.Archive.change_id.in_(changes), m.Archive.status == ArchiveStatus.SAVED
        )
        copies: dict[int | None, str | None] = dict(s.execute(saved).all()) if changes else {}
    items = [
        OutboxItem(
            alert_id=r.id,
            route=r.route,
            attempts=r.attempts + 1,
            due_at=r.next_attempt_at,
            progress=Progress.load(r.last_error),
            fresh=r.attempts == 0 and r.last_error is None,
            event=events[r.event_id],
            archive_url=copies.get(events[r.event_id].change_id),
        )
        for r in rows
    ]
    return sorted(items, key=lambda i: i.alert_id)


def begin(engine: Engine, ids: Collection[int], *, worker: str, table: Leased = A) -> set[int]:
    """Count an attempt just before sending; returns the ids still ours (a lost claim is not sent)."""
    if not ids:
        return set()
    with Session(engine) as s, s.begin():
        rows = s.execute(
            update(table)
            .where(table.id.in_(list(ids)), _mine(worker, table))
            .values(attempts=table.attempts + 1)
            .returning(table.id)
            .execution_options(synchronize_session=False)
        )
        return {row[0] for row in rows}


def renew(engine: Engine, *, worker: str, until: datetime) -> int:
    """Extend the leases of the alerts and archive copies ``worker`` is sending: a living worker
    keeps them.

    Rows locked meanwhile (a result being recorded) are skipped, never waited for.
    """
    count = 0
    with Session(engine) as s, s.begin():
        for table in LEASED:
            mine = select(table.id).where(_mine(worker, table)).order_by(table.id)
            result = s.execute(
                update(table)
                .where(table.id.in_(mine.with_for_update(skip_locked=True).scalar_subquery()))
                .values(claimed_until=until)
                .execution_options(synchronize_session=False)
            )
            count += rowcount(result)
    return count


def release_claims(engine: Engine, *, of: Collection[str] | None, table: Leased = A) -> int:
    """Give back the alerts (or archive copies) claimed by workers proven gone: those named in
    ``of``, or every worker with ``of=None``. A send they began counts as an attempt."""
    if of is not None and not of:
        return 0
    condition = table.status == statuses(table).SENDING
    if of is not None:
        condition = and_(condition, table.claimed_by.in_(list(of)))
    with Session(engine) as s, s.begin():
        result = s.execute(
            update(table)
            .where(condition)
            .values(status=statuses(table).PENDING, claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
    return rowcount(result)


def mark_sent(engine: Engine, ids: Collection[int], at: datetime) -> None:
    """Final: a sent alert is never claimed again, whoever claimed it last."""
    _set(engine, ids, A.status != AlertStatus.SENT, A, status=AlertStatus.SENT, sent_at=at, last_error=None)


def mark_retry(
    engine: Engine,
    ids: Collection[int],
    *,
    worker: str,
    next_at: datetime,
    progress: Progress,
    table: Leased = A,
) -> None:
    _set(
        engine,
        ids,
        _mine(worker, table),
        table,
        status=statuses(table).PENDING,
        next_attempt_at=next_at,
        last_error=progress.dump(),
    )


def mark_failed(
    engine: Engine, ids: Collection[int], *, worker: str, progress: Progress, table: Leased = A
) -> None:
    _set(engine, ids, _mine(worker, table), table, status=statuses(table).FAILED, last_error=progress.dump())


def hold(engine: Engine, ids: Collection[int], *, worker: str, until: datetime, table: Leased = A) -> None:
    """A digest alert waits for its digest time, an archive copy for its job; holding is no attempt."""
    _set(engine, ids, _mine(worker, table), table, status=statuses(table).PENDING, next_attempt_at=until)


def release(engine: Engine, ids: Collection[int], *, worker: str, table: Leased = A) -> None:
    """Give back alerts this worker claimed and did not send (it is stopping)."""
    _set(engine, ids, _mine(worker, table), table, status=statuses(table).PENDING)


def _mine(worker: str, table: Leased = A) -> ColumnElement[bool]:
    return and_(table.status == statuses(table).SENDING, table.claimed_by == worker)


def _set(
    engine: Engine, ids: Collection[int], condition: ColumnElement[bool], table: Leased = A, **values: Any
) -> None:
    if not ids:
        return
    with Session(engine) as s, s.begin():
        s.execute(
            update(table)
            .where(table.id.in_(list(ids)), condition)
            .values(claimed_by=None, claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        )


def requeue(engine: Engine, *, now: datetime, include_failed: bool) -> int:
    """Make alerts waiting for a retry due now, and with ``include_failed`` failed ones too.

    Digest alerts never tried yet keep waiting for their digest time.
    """
    waiting = and_(
        A.status == AlertStatus.PENDING,
        A.next_attempt_at > now,
        or_(A.attempts > 0, A.last_error.is_not(None)),
    )
    with Session(engine) as s, s.begin():
        count = rowcount(s.execute(update(A).where(waiting).values(next_attempt_at=now)))
        if include_failed:
            revived = (
                update(A)
                .where(A.status == AlertStatus.FAILED)
                .values(status=AlertStatus.PENDING, attempts=0, next_attempt_at=now)
            )
            count += rowcount(s.execute(revived))
    return count


def hold_muted(engine: Engine, *, sources: Collection[str], routes: Collection[str]) -> int:
    """Keep pending alerts of muted sources or routes as ``muted``: never sent, still listed."""
    if not sources and not routes:
        return 0
    of_source = A.event_id.in_(select(m.Event.id).where(m.Event.source_id.in_(list(sources))))
    muted = or_(A.route.in_(list(routes)), of_source)
    with Session(engine) as s, s.begin():
        return rowcount(
            s.execute(
                update(A).where(A.status == AlertStatus.PENDING, muted).values(status=AlertStatus.MUTED)
            )
        )


def rowcount(result: Any) -> int:
    return int(result.rowcount or 0)


def alert_counts(engine: Engine) -> dict[AlertStatus, int]:
    """Alerts per status, every AlertStatus in its order; absent statuses are 0."""
    return counts(engine, A, list(AlertStatus))


def counts(engine: Engine, table: Leased, states: Sequence[S]) -> dict[S, int]:
    """Rows of an outbox table per status, for ``states`` in their order; absent ones are 0."""
    with Session(engine) as s:
        found = dict(s.execute(select(table.status, func.count()).group_by(table.status)).all())
    return {state: found.get(state, 0) for state in states}


def failed_alerts(engine: Engine, limit: int | None = None) -> list[FailedAlert]:
    """Failed alerts, newest event first, with their last error (free of secrets)."""
    query = (
        select(A, m.Event)
        .join(m.Event, m.Event.id == A.event_id)
        .where(A.status == AlertStatus.FAILED)
        .order_by(A.event_id.desc(), A.route)
    )
    if limit:
        query = query.limit(limit)
    with Session(engine) as s:
        return [
            FailedAlert(
                alert_id=alert.id,
                event_id=event.id,
                route=alert.route,
                attempts=alert.attempts,
                error=Progress.load(alert.last_error).error,
                kind=event.kind,
                title=event.title,
                created_at=event.created_at,
            )
            for alert, event in s.execute(query)
        ]


def alerts_of_events(engine: Engine, event_ids: Sequence[int]) -> list[m.Alert]:
    """The outbox rows of some events: what became of each alert."""
    with Session(engine, expire_on_commit=False) as s:
        return list(s.scalars(select(A).where(A.event_id.in_(event_ids)).order_by(A.id)))
