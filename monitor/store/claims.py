"""Sharing the schedule between workers: claims on due sources, the workers table, start-up spread.

Several ``run`` workers on one PostgreSQL database each take a share of the due sources::

    due (next_check_at <= now, no live claim) --claim_due--> claimed by one worker until a lease ends
    claimed --(the check is recorded: next_check_at moves on)--> release --> not due until its time

A worker renews the leases of what it holds while it lives (its heartbeat, ``monitor.worker``).
A worker that dies stops beating: once it is proven gone its claims are given back at once
(``release_sources``, and ``outbox.release_claims`` for alerts) and its row is removed; otherwise
its leases run out. PostgreSQL picks rows with ``FOR UPDATE SKIP LOCKED`` so workers never wait
on each other; SQLite (one process per database, see ``monitor.lock``) ignores the row lock and
the single UPDATE statement is atomic anyway.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, bindparam, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from monitor.store import models as m

S = m.Source


def _claimable(now: datetime) -> ColumnElement[bool]:
    return and_(
        S.active.is_(True),
        S.next_check_at <= now,
        or_(S.claimed_until.is_(None), S.claimed_until < now),
    )


def claim_due(
    engine: Engine,
    *,
    now: datetime,
    worker: str,
    lease: timedelta,
    limit: int,
    exclude: Collection[str] = (),
) -> list[str]:
    """Take up to ``limit`` due sources for ``worker`` until ``now + lease``; most overdue first."""
    pick = (
        select(S.id)
        .where(_claimable(now), S.id.not_in(list(exclude)))
        .order_by(S.next_check_at, S.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders no row lock
        .scalar_subquery()
    )
    # the condition is repeated: a row another worker took meanwhile is left alone
    claim = (
        update(S)
        .where(S.id.in_(pick), _claimable(now))
        .values(claimed_by=worker, claimed_until=now + lease)
        .returning(S.id, S.next_check_at)
        .execution_options(synchronize_session=False)
    )
    with Session(engine) as s, s.begin():
        rows = s.execute(claim).all()
    return [sid for sid, _ in sorted(rows, key=lambda r: (r[1], r[0]))]


def release(engine: Engine, ids: Collection[str], *, worker: str) -> None:
    """Give back sources after their checks were recorded (or not started); others' claims stay."""
    if not ids:
        return
    with Session(engine) as s, s.begin():
        s.execute(
            update(S)
            .where(S.id.in_(list(ids)), S.claimed_by == worker)
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


def release_all(engine: Engine, *, worker: str) -> None:
    """Give back whatever ``worker`` still holds (on shutdown)."""
    with Session(engine) as s, s.begin():
        s.execute(
            update(S)
            .where(S.claimed_by == worker)
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


def renew(engine: Engine, *, worker: str, until: datetime) -> int:
    """Extend every lease ``worker`` holds: a living worker keeps its sources however long checks take.

    Rows locked meanwhile (the worker is recording their checks) are skipped, never waited for:
    waiting could deadlock with that recording, which releases them anyway.
    """
    mine = (
        select(S.id)
        .where(S.claimed_by == worker, S.claimed_until.is_not(None))
        .order_by(S.id)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders no row lock
        .scalar_subquery()
    )
    with Session(engine) as s, s.begin():
        result: Any = s.execute(
            update(S)
            .where(S.id.in_(mine))
            .values(claimed_until=until)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount or 0)


def claimed(engine: Engine, worker: str | None = None) -> dict[str, tuple[str | None, datetime | None]]:
    """Source id -> (worker, lease end) of the claims held now, for one worker or all."""
    query = select(S.id, S.claimed_by, S.claimed_until).where(S.claimed_by.is_not(None))
    if worker is not None:
        query = query.where(S.claimed_by == worker)
    with Session(engine) as s:
        return {sid: (by, until) for sid, by, until in s.execute(query)}


def spread_overdue(engine: Engine, *, now: datetime, window: timedelta) -> int:
    """Spread the sources that are overdue (and unclaimed) over ``window``, keeping their order.

    After a stop of hours or days every source is overdue; checking them all at once would hammer
    the sites and take one long cycle. The i-th of n overdue sources becomes due at
    ``now + i * window / n``: the first is due now, the order of the schedule is kept. Sources
    never checked yet are left due now: a new watchlist gets its baselines at once.
    """
    with Session(engine) as s, s.begin():
        overdue = select(S.id).where(_claimable(now), S.last_check_at.is_not(None))
        ids = list(s.scalars(overdue.order_by(S.next_check_at, S.id)))
        if len(ids) < 2 or window <= timedelta(0):
            return 0
        step = window / len(ids)
        table = m.Base.metadata.tables["sources"]
        s.connection().execute(
            update(table).where(table.c.id == bindparam("sid")),
            [{"sid": sid, "next_check_at": now + step * i} for i, sid in enumerate(ids)],
        )
    return len(ids)


# -- workers ----------------------------------------------------------------------------------


def register_worker(engine: Engine, *, name: str, now: datetime, pid: int, host: str) -> None:
    """Record a starting worker; a name left by an earlier process is taken over."""
    with Session(engine) as s, s.begin():
        s.execute(delete(m.Worker).where(m.Worker.name == name))
        s.add(m.Worker(name=name, started_at=now, heartbeat_at=now, pid=pid, host=host))


def heartbeat(engine: Engine, *, name: str, now: datetime) -> bool:
    """Say this worker is alive (``status --health`` reads it); False when its row is gone
    (another worker took it for dead)."""
    with Session(engine) as s, s.begin():
        result: Any = s.execute(update(m.Worker).where(m.Worker.name == name).values(heartbeat_at=now))
    return bool(result.rowcount)


def silent_workers(engine: Engine, *, before: datetime, besides: str) -> list[m.Worker]:
    """Workers whose last heartbeat is older than ``before``: they missed theirs, they are gone."""
    query = select(m.Worker).where(m.Worker.heartbeat_at < before, m.Worker.name != besides)
    with Session(engine, expire_on_commit=False) as s:
        return list(s.scalars(query.order_by(m.Worker.name)))


def release_sources(engine: Engine, *, of: Collection[str] | None) -> int:
    """Give back the sources claimed by workers proven gone: those named in ``of``, or
    every worker with ``of=None``."""
    if of is not None and not of:
        return 0
    condition: ColumnElement[bool] = S.claimed_by.is_not(None)
    if of is not None:
        condition = and_(condition, S.claimed_by.in_(list(of)))
    with Session(engine) as s, s.begin():
        result: Any = s.execute(
            update(S)
            .where(condition)
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount or 0)


def remove_workers(engine: Engine, *, of: Collection[str] | None) -> int:
    """Delete the rows of workers proven gone (``of``, or all with ``of=None``)."""
    if of is not None and not of:
        return 0
    query = delete(m.Worker)
    if of is not None:
        query = query.where(m.Worker.name.in_(list(of)))
    with Session(engine) as s, s.begin():
        result: Any = s.execute(query)
    return int(result.rowcount or 0)


def unregister_worker(engine: Engine, name: str) -> None:
    with Session(engine) as s, s.begin():
        s.execute(delete(m.Worker).where(m.Worker.name == name))


def workers(engine: Engine) -> list[m.Worker]:
    with Session(engine, expire_on_commit=False) as s:
        return list(s.scalars(select(m.Worker).order_by(m.Worker.name)))


def live_workers(engine: Engine, *, since: datetime, besides: str | None = None) -> list[str]:
    """Names of the workers that beat since ``since`` (other than ``besides``)."""
    query = select(m.Worker.name).where(m.Worker.heartbeat_at >= since)
    if besides is not None:
        query = query.where(m.Worker.name != besides)
    with Session(engine) as s:
        return list(s.scalars(query.order_by(m.Worker.name)))


@contextmanager
def exclusive(engine: Engine, key: int) -> Iterator[None]:
    """One worker at a time in this block (the sweep): a PostgreSQL session advisory lock.

    SQLite needs none: only one process runs against a SQLite database.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(select(func.pg_advisory_lock(key)))
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()
