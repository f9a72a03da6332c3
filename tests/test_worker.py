"""A worker's life: what it takes back from workers proven gone, its heartbeat, its leaving.

On both databases: SQLite with the database lock held (every other worker is a dead process) and
the PostgreSQL rule (a worker silent for a lease is gone; so is an earlier worker of our name).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import LockError
from monitor.store import claims, outbox
from monitor.store import models as m
from monitor.store.db import open_engine
from monitor.store.repo import Store
from monitor.worker import Reaped, WorkerLife, working
from tests.conftest import WriteWatchlist
from tests.test_outbox import WATCHLIST, add_events

BOTH_BACKENDS = True
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def claimed_alerts(store: Store) -> dict[int, tuple[str, str | None]]:
    with Session(store.engine) as s:
        return {a.id: (a.status, a.claimed_by) for a in s.scalars(select(m.Alert).order_by(m.Alert.id))}


def setup(store: Store, write_watchlist: WriteWatchlist) -> None:
    """Two workers that held a source and an alert each: ``dead`` last beat 5 minutes ago, ``alive`` now."""
    other = "    sources:\n      - id: other\n        url: https://example.org/other\n"
    watchlist = write_watchlist(WATCHLIST.replace("    sources:\n", other, 1))
    store.sync(watchlist, T0)
    add_events(store, watchlist, 3)
    for name, beat in (("dead", T0 - timedelta(minutes=5)), ("alive", T0)):
        claims.register_worker(store.engine, name=name, now=beat, pid=4242, host="elsewhere")
        claims.claim_due(store.engine, now=T0, worker=name, lease=timedelta(hours=1), limit=1)
        outbox.claim_due(store.engine, now=T0, worker=name, lease=timedelta(hours=1), batch=1)


def test_with_the_sqlite_lock_every_other_worker_is_gone_at_once(
    store: Store, write_watchlist: WriteWatchlist, caplog: pytest.LogCaptureFixture
) -> None:
    setup(store, write_watchlist)
    life = WorkerLife(store, "me", lease=LEASE, alone=True, clock=lambda: T0)
    with caplog.at_level(logging.INFO, "monitor.run"):
        reaped = life.start()
    # the leases had an hour to run, the heartbeat of "alive" is fresh: the lock proves them dead
    assert reaped == Reaped(("alive (pid 4242 on elsewhere)", "dead (pid 4242 on elsewhere)"), 2, 2)
    assert claims.claimed(store.engine) == {}
    assert claimed_alerts(store) == {1: ("pending", None), 2: ("pending", None), 3: ("pending", None)}
    assert [w.name for w in claims.workers(store.engine)] == ["me"]
    assert "workers gone (alive (pid 4242 on elsewhere), dead (pid 4242 on elsewhere)): 2 sources and" in (
        caplog.text
    )
    assert life.beat() == Reaped()  # nobody else can come while we hold the lock


def test_without_the_lock_a_worker_silent_for_a_lease_is_gone(
    store: Store, write_watchlist: WriteWatchlist
) -> None:
    setup(store, write_watchlist)
    life = WorkerLife(store, "me", lease=LEASE, clock=lambda: T0)
    assert life.start() == Reaped(("dead (pid 4242 on elsewhere)",), 1, 1)
    assert {by for by, _ in claims.claimed(store.engine).values()} == {"alive"}
    assert claimed_alerts(store) == {1: ("pending", None), 2: ("sending", "alive"), 3: ("pending", None)}
    assert [w.name for w in claims.workers(store.engine)] == ["alive", "me"]


def test_a_worker_that_stops_beating_is_taken_back_at_the_next_beat(
    store: Store, write_watchlist: WriteWatchlist
) -> None:
    setup(store, write_watchlist)
    clock = [T0]
    life = WorkerLife(store, "me", lease=LEASE, clock=lambda: clock[0])
    life.start()
    clock[0] = T0 + timedelta(seconds=20)
    assert life.beat() == Reaped()  # "alive" beat 20 s ago: within the lease
    clock[0] = T0 + LEASE + timedelta(seconds=1)
    assert life.beat() == Reaped(("alive (pid 4242 on elsewhere)",), 1, 1)
    assert claims.claimed(store.engine) == {}
    assert [w.name for w in claims.workers(store.engine)] == ["me"]


def test_a_restart_under_the_same_name_takes_back_what_the_earlier_process_held(
    store: Store, write_watchlist: WriteWatchlist
) -> None:
    setup(store, write_watchlist)
    life = WorkerLife(store, "alive", lease=LEASE, clock=lambda: T0)  # e.g. --worker alive
    reaped = life.start()
    assert "alive (pid 4242 on elsewhere)" in reaped.workers
    assert reaped.sources == 2
    assert reaped.alerts == 2
    (me,) = [w for w in claims.workers(store.engine) if w.name == "alive"]
    assert me.host != "elsewhere" or me.pid != 4242  # our row now


def test_the_heartbeat_renews_our_leases_and_leaving_gives_everything_back(
    store: Store, write_watchlist: WriteWatchlist, caplog: pytest.LogCaptureFixture
) -> None:
    watchlist = write_watchlist(WATCHLIST)
    store.sync(watchlist, T0)
    add_events(store, watchlist, 1)
    clock = [T0]
    life = WorkerLife(store, "me", lease=LEASE, clock=lambda: clock[0])
    life.start()
    claims.claim_due(store.engine, now=T0, worker="me", lease=LEASE, limit=1)
    outbox.claim_due(store.engine, now=T0, worker="me", lease=LEASE)
    clock[0] = T0 + timedelta(seconds=25)
    life.beat()
    with Session(store.engine) as s:
        alert = s.scalars(select(m.Alert)).one()
    assert claims.claimed(store.engine) == {"amazon-post": ("me", clock[0] + LEASE)}
    assert alert.claimed_until == clock[0] + LEASE
    assert claims.workers(store.engine)[0].heartbeat_at == clock[0]
    assert life.beat_every == 10

    claims.unregister_worker(store.engine, "me")  # as another worker would, had we been silent
    with caplog.at_level(logging.WARNING, "monitor.run"):
        life.beat()
    assert "missed its heartbeats for longer than its lease" in caplog.text
    assert [w.name for w in claims.workers(store.engine)] == ["me"]

    life.stop()
    assert claims.claimed(store.engine) == {}
    assert claims.workers(store.engine) == []
    assert claimed_alerts(store) == {1: ("pending", None)}


def test_working_on_sqlite_holds_the_lock_and_registers_the_worker_while_it_works(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pm.db'}"
    store = Store(open_engine(url))
    with working(store, url, "alerts-retry:test", lease=LEASE) as worker:
        assert worker == "alerts-retry:test"
        assert [w.name for w in claims.workers(store.engine)] == ["alerts-retry:test"]
        with pytest.raises(LockError, match="holds the database"), working(store, url, "second", lease=LEASE):
            pytest.fail("a second worker ran beside the first")
        assert [w.name for w in claims.workers(store.engine)] == ["alerts-retry:test"]
    assert claims.workers(store.engine) == []  # left, and the lock is free again:
    with working(store, url, "second", lease=LEASE) as worker:
        assert worker == "second"
    store.engine.dispose()
