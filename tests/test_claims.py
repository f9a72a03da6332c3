"""Claims on due sources, the workers table, the start-up spread; on SQLite and on PostgreSQL.

The last tests are issue 7's: three ``run`` workers on one PostgreSQL database share 500 due
sources, each checked and alerted exactly once, and a worker killed mid-cycle loses its share
to the others once its lease runs out.
"""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.orm import Session

from monitor.store import claims
from monitor.store import models as m
from monitor.store.db import open_engine
from monitor.store.repo import Store
from tests import pg
from tests.conftest import WriteWatchlist
from tests.pg import pg_store, pg_url
from tests.receivers import Endpoint
from tests.site import policy_page
from tests.test_run import CountingSite, Db, Launcher, Proc, eventually, hook, keys, launcher, site

__all__ = ["hook", "launcher", "pg_store", "pg_url", "site"]  # fixtures used below

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_store(request: pytest.FixtureRequest) -> Store:
    """The same tests on both databases."""
    return request.getfixturevalue("store" if request.param == "sqlite" else "pg_store")


def add_sources(store: Store, write: WriteWatchlist, count: int, *, due: datetime = T0) -> list[str]:
    ids = [f"s{n:03d}" for n in range(count)]
    sources = "\n".join(f"  - id: {sid}\n    url: https://example.org/{sid}" for sid in ids)
    store.sync(write(f"sources:\n{sources}\n"), due)
    return ids


def set_rows(store: Store, ids: list[str], **values: object) -> None:
    with Session(store.engine) as s, s.begin():
        s.execute(update(m.Source).where(m.Source.id.in_(ids)).values(**values))


def rows(store: Store) -> dict[str, m.Source]:
    with Session(store.engine, expire_on_commit=False) as s:
        return {r.id: r for r in s.scalars(select(m.Source))}


# --------------------------------------------------------------------------- the PostgreSQL fixture


def test_no_postgres_server_skips_but_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    nowhere = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/postgres", connect_args={"connect_timeout": 2}
    )
    reason = pg.unreachable(nowhere)
    assert reason is not None
    assert reason.startswith("PostgreSQL not reachable at ")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: the CI set-up must start PostgreSQL"):
        pg.skip_or_fail(reason)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL not reachable"):
        pg.skip_or_fail(reason)


# --------------------------------------------------------------------------- claims


def test_due_sources_are_claimed_once_most_overdue_first(
    db_store: Store, write_watchlist: WriteWatchlist
) -> None:
    add_sources(db_store, write_watchlist, 6)
    set_rows(db_store, ["s001"], next_check_at=T0 - timedelta(hours=1))
    set_rows(db_store, ["s004"], next_check_at=T0 + timedelta(seconds=1))  # not due yet
    set_rows(db_store, ["s005"], active=False)  # removed from the watchlist
    first = claims.claim_due(db_store.engine, now=T0, worker="a", lease=LEASE, limit=2)
    second = claims.claim_due(db_store.engine, now=T0, worker="b", lease=LEASE, limit=10)
    assert first == ["s001", "s000"]
    assert second == ["s002", "s003"]
    assert claims.claim_due(db_store.engine, now=T0, worker="c", lease=LEASE, limit=10) == []
    assert claims.claimed(db_store.engine) == {
        "s000": ("a", T0 + LEASE),
        "s001": ("a", T0 + LEASE),
        "s002": ("b", T0 + LEASE),
        "s003": ("b", T0 + LEASE),
    }
    assert claims.claimed(db_store.engine, "a").keys() == {"s000", "s001"}


def test_a_lease_that_ran_out_is_taken_over(db_store: Store, write_watchlist: WriteWatchlist) -> None:
    add_sources(db_store, write_watchlist, 2)
    assert claims.claim_due(db_store.engine, now=T0, worker="dead", lease=LEASE, limit=10) == ["s000", "s001"]
    assert claims.claim_due(db_store.engine, now=T0 + LEASE, worker="b", lease=LEASE, limit=10) == []
    later = T0 + LEASE + timedelta(seconds=1)
    assert claims.claim_due(db_store.engine, now=later, worker="b", lease=LEASE, limit=10) == ["s000", "s001"]
    assert claims.claimed(db_store.engine) == {
        "s000": ("b", later + LEASE),
        "s001": ("b", later + LEASE),
    }


def test_release_gives_back_only_ones_own_claims(db_store: Store, write_watchlist: WriteWatchlist) -> None:
    add_sources(db_store, write_watchlist, 3)
    mine = claims.claim_due(db_store.engine, now=T0, worker="a", lease=LEASE, limit=2)
    theirs = claims.claim_due(db_store.engine, now=T0, worker="b", lease=LEASE, limit=1)
    # a's check of s000 was recorded: its next check moved on
    set_rows(db_store, ["s000"], next_check_at=T0 + timedelta(hours=6))
    claims.release(db_store.engine, [*mine, *theirs], worker="a")
    assert claims.claimed(db_store.engine) == {"s002": ("b", T0 + LEASE)}
    # s001 was not checked (a stopped): it is due again, for anyone
    assert claims.claim_due(db_store.engine, now=T0, worker="c", lease=LEASE, limit=10) == ["s001"]
    claims.release_all(db_store.engine, worker="b")
    assert claims.claimed(db_store.engine).keys() == {"s001"}


def test_a_living_worker_renews_its_leases(db_store: Store, write_watchlist: WriteWatchlist) -> None:
    add_sources(db_store, write_watchlist, 3)
    claims.claim_due(db_store.engine, now=T0, worker="a", lease=LEASE, limit=2)
    claims.claim_due(db_store.engine, now=T0, worker="b", lease=LEASE, limit=1)
    later = T0 + timedelta(minutes=8)
    assert claims.renew(db_store.engine, worker="a", until=later + LEASE) == 2
    assert claims.claimed(db_store.engine) == {
        "s000": ("a", later + LEASE),
        "s001": ("a", later + LEASE),
        "s002": ("b", T0 + LEASE),
    }
    after_b = T0 + LEASE + timedelta(seconds=1)
    assert claims.claim_due(db_store.engine, now=after_b, worker="c", lease=LEASE, limit=10) == ["s002"]


def test_excluded_sources_are_not_claimed(db_store: Store, write_watchlist: WriteWatchlist) -> None:
    add_sources(db_store, write_watchlist, 3)
    got = claims.claim_due(db_store.engine, now=T0, worker="a", lease=LEASE, limit=10, exclude={"s001"})
    assert got == ["s000", "s002"]


# --------------------------------------------------------------------------- spread


def test_overdue_sources_are_spread_over_the_window_in_order(
    db_store: Store, write_watchlist: WriteWatchlist
) -> None:
    add_sources(db_store, write_watchlist, 7)
    checked = ["s000", "s001", "s002", "s003"]
    set_rows(db_store, checked, last_check_at=T0 - timedelta(days=3))
    for n, sid in enumerate(checked):  # overdue by 2 days, 1 day, ...: s003 is the most overdue
        set_rows(db_store, [sid], next_check_at=T0 - timedelta(days=2, hours=n))
    set_rows(db_store, ["s004"], last_check_at=T0, next_check_at=T0 + timedelta(hours=1))  # not due
    set_rows(db_store, ["s005"], last_check_at=T0 - timedelta(days=3), next_check_at=T0 - timedelta(days=1))
    assert claims.claim_due(db_store.engine, now=T0, worker="busy", lease=LEASE, limit=1) == ["s003"]
    # s006 was never checked: a new source, due now, not spread

    count = claims.spread_overdue(db_store.engine, now=T0, window=timedelta(minutes=10))
    after = rows(db_store)
    assert count == 4
    step = timedelta(minutes=10) / 4
    assert [(sid, after[sid].next_check_at) for sid in ("s002", "s001", "s000", "s005")] == [
        ("s002", T0),
        ("s001", T0 + step),
        ("s000", T0 + 2 * step),
        ("s005", T0 + 3 * step),
    ]
    assert after["s003"].next_check_at == T0 - timedelta(days=2, hours=3)  # claimed: left alone
    assert after["s004"].next_check_at == T0 + timedelta(hours=1)
    assert after["s006"].next_check_at == T0


def test_nothing_to_spread_changes_nothing(db_store: Store, write_watchlist: WriteWatchlist) -> None:
    add_sources(db_store, write_watchlist, 2)
    set_rows(db_store, ["s000", "s001"], last_check_at=T0, next_check_at=T0 - timedelta(hours=1))
    assert claims.spread_overdue(db_store.engine, now=T0, window=timedelta(0)) == 0
    set_rows(db_store, ["s001"], next_check_at=T0 + timedelta(hours=1))
    assert claims.spread_overdue(db_store.engine, now=T0, window=timedelta(minutes=10)) == 0
    assert rows(db_store)["s000"].next_check_at == T0 - timedelta(hours=1)


# --------------------------------------------------------------------------- workers


def test_workers_register_beat_and_leave(db_store: Store) -> None:
    engine = db_store.engine
    claims.register_worker(engine, name="host:1", now=T0, pid=1, host="host")
    claims.register_worker(engine, name="host:2", now=T0, pid=2, host="host")
    claims.heartbeat(engine, name="host:2", now=T0 + timedelta(minutes=5))
    since = T0 + timedelta(minutes=1)
    assert claims.live_workers(engine, since=since) == ["host:2"]
    assert claims.live_workers(engine, since=T0, besides="host:1") == ["host:2"]
    claims.register_worker(engine, name="host:2", now=T0 + timedelta(hours=1), pid=3, host="host")  # reused
    (w1, w2) = claims.workers(engine)
    assert (w2.name, w2.pid, w2.started_at, w2.heartbeat_at) == (
        "host:2",
        3,
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=1),
    )
    claims.unregister_worker(engine, "host:1")
    assert [w.name for w in claims.workers(engine)] == ["host:2"]
    assert w1.name == "host:1"


# --------------------------------------------------------------------------- PostgreSQL only


@pytest.mark.postgres
def test_postgres_claims_skip_rows_locked_by_another_worker(
    pg_store: Store, write_watchlist: WriteWatchlist
) -> None:
    add_sources(pg_store, write_watchlist, 3)
    with pg_store.engine.connect() as other:
        other.begin()
        other.execute(select(m.Source.id).where(m.Source.id == "s000").with_for_update())
        started = time.monotonic()
        got = claims.claim_due(pg_store.engine, now=T0, worker="a", lease=LEASE, limit=10)
        assert time.monotonic() - started < 2  # did not wait for the lock
        other.rollback()
    assert got == ["s001", "s002"]


@pytest.mark.postgres
def test_postgres_renewal_skips_a_row_being_recorded_instead_of_waiting(
    pg_store: Store, write_watchlist: WriteWatchlist
) -> None:
    """The heartbeat renewing while the same worker records a check must not deadlock with it."""
    add_sources(pg_store, write_watchlist, 2)
    claims.claim_due(pg_store.engine, now=T0, worker="a", lease=LEASE, limit=2)
    with pg_store.engine.connect() as recording:
        recording.begin()
        recording.execute(update(m.Source).where(m.Source.id == "s000").values(failures=1))
        done = threading.Timer(5.0, recording.rollback)  # a renewal that waited would get both rows
        done.start()
        renewed = claims.renew(pg_store.engine, worker="a", until=T0 + 2 * LEASE)
        done.cancel()
        recording.rollback()
    assert renewed == 1
    assert claims.claimed(pg_store.engine) == {"s000": ("a", T0 + LEASE), "s001": ("a", T0 + 2 * LEASE)}


@pytest.mark.postgres
def test_postgres_concurrent_claims_never_overlap(pg_store: Store, write_watchlist: WriteWatchlist) -> None:
    ids = add_sources(pg_store, write_watchlist, 300)
    taken: dict[str, list[str]] = {}
    lock = threading.Lock()

    def worker(name: str) -> None:
        while got := claims.claim_due(pg_store.engine, now=T0, worker=name, lease=LEASE, limit=7):
            with lock:
                for sid in got:
                    taken.setdefault(sid, []).append(name)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, [f"w{n}" for n in range(8)]))
    assert sorted(taken) == ids
    assert all(len(names) == 1 for names in taken.values())
    assert len({names[0] for names in taken.values()}) > 1  # the work really was shared


@pytest.mark.postgres
def test_postgres_exclusive_blocks_take_turns(pg_store: Store) -> None:
    inside: list[int] = []
    overlaps: list[int] = []

    def sweep(n: int) -> None:
        with claims.exclusive(pg_store.engine, 42):
            inside.append(n)
            if len(inside) > 1:
                overlaps.append(n)
            time.sleep(0.05)
            inside.remove(n)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(sweep, range(8)))
    assert overlaps == []


# --------------------------------------------------------------------------- issue 7: several workers


def farm_watchlist(site: CountingSite, hook: Endpoint, count: int) -> str:
    sources = "\n".join(
        f"  - id: p{n:03d}\n    url: {site.url(f'/p/{n}')}\n    select: '#policy'" for n in range(count)
    )
    return (
        "defaults:\n  interval: 1h\n  per_host: 20\n  per_host_delay: 0s\n  concurrency: 8\n  timeout: 10s\n"
        f"routes:\n  hook:\n    urls: json://{hook.url}\n    events: [source.changed]\n"
        f"sources:\n{sources}\n"
    )


def page(n: int, version: str) -> str:
    return policy_page(f"<p>Statement {n}: we will not sell face recognition to police ({version}).</p>")


def stop_all(procs: list[Proc]) -> None:
    """SIGTERM to all at once, then each must exit 0."""
    for proc in procs:
        proc.popen.send_signal(signal.SIGTERM)
    for proc in procs:
        assert proc.wait(20) == 0, proc.text()


def checks_per_source(store: Store) -> dict[str, int]:
    with Session(store.engine) as s:
        return dict(s.execute(select(m.Check.source_id, func.count()).group_by(m.Check.source_id)).all())


@pytest.mark.postgres
def test_three_workers_share_500_sources_each_checked_and_alerted_once(
    pg_url: str, site: CountingSite, hook: Endpoint, launcher: Launcher, tmp_path: Path
) -> None:
    count = 500
    for n in range(count):
        site.put(f"/p/{n}", page(n, "v1"))
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(farm_watchlist(site, hook, count))
    code, out = launcher.run(wl, pg_url, "run", "--once", timeout=180)  # the baselines
    assert code == 0, out
    store = Store(open_engine(pg_url, migrate=False))
    assert set(checks_per_source(store).values()) == {1}

    # three workers start; then the slot: every page changed, every source due now
    workers = [
        launcher.start(wl, pg_url, "run", "--poll", "0.2", "--worker", f"w{n}", "--spread", "0s")
        for n in range(3)
    ]
    eventually(lambda: len(claims.workers(store.engine)) == 3, 60, "three workers", workers[0].log)
    for n in range(count):
        site.put(f"/p/{n}", page(n, "v2"))
    with site.lock:
        site.requests.clear()
    Db(pg_url, store.engine).make_due(datetime.now(UTC))

    def all_delivered() -> bool:
        return len(hook.accepted) >= count

    eventually(all_delivered, 120, "500 alerts", workers[0].log)
    time.sleep(0.5)  # a duplicate would come now
    stop_all(workers)

    assert set(site.counts().values()) == {1}
    assert len(site.counts()) == count
    assert set(checks_per_source(store).values()) == {2}
    assert sorted(keys(hook).values()) == [1] * count  # each alert once
    shares = [sum(1 for line in w.text().splitlines() if " check p" in line) for w in workers]
    assert sum(shares) == count, shares  # every worker took a share
    assert min(shares) > 0, shares  # every worker took a share
    assert claims.claimed(store.engine) == {}
    assert claims.workers(store.engine) == []
    store.engine.dispose()


@pytest.mark.postgres
def test_a_killed_workers_sources_are_taken_over_once_it_missed_its_heartbeat(
    pg_url: str, site: CountingSite, hook: Endpoint, launcher: Launcher, tmp_path: Path
) -> None:
    count = 40
    for n in range(count):
        site.put(f"/p/{n}", page(n, "v1"))
        site.delays[f"/p/{n}"] = 30.0  # the doomed worker's checks hang until it is killed
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(farm_watchlist(site, hook, count))
    store = Store(open_engine(pg_url))
    doomed = launcher.start(wl, pg_url, "run", "--poll", "0.2", "--worker", "doomed", "--lease", "6s")
    eventually(lambda: len(site.requests) >= 8, 40, "the doomed worker's checks in flight", doomed.log)
    held = claims.claimed(store.engine, "doomed")
    assert held
    assert all(until is not None for _, until in held.values())
    doomed.popen.send_signal(signal.SIGKILL)
    doomed.wait(10)
    (last_beat,) = [w.heartbeat_at for w in claims.workers(store.engine) if w.name == "doomed"]
    site.delays.clear()

    others = [
        launcher.start(wl, pg_url, "run", "--poll", "0.2", "--worker", f"w{n}", "--lease", "6s")
        for n in range(2)
    ]
    eventually(lambda: len(checks_per_source(store)) == count, 60, "every source checked", others[0].log)
    # the dead worker's row goes at the first heartbeat after its lease ran out (its claims may
    # have lapsed and been taken a moment before that heartbeat)
    eventually(lambda: "doomed" not in worker_names(store), 30, "the dead worker row gone", others[0].log)
    stop_all(others)

    assert set(checks_per_source(store).values()) == {1}  # the doomed worker recorded nothing
    with Session(store.engine) as s:
        taken = dict(
            s.execute(select(m.Check.source_id, m.Check.at).where(m.Check.source_id.in_(held))).all()
        )
    assert taken.keys() == held.keys()
    silent_for_a_lease = last_beat + timedelta(seconds=6)
    for sid in held:  # taken only once its heartbeat was missed for a whole lease: proven gone
        assert taken[sid] >= silent_for_a_lease, (sid, taken[sid], silent_for_a_lease)
    assert claims.claimed(store.engine) == {}
    assert worker_names(store) == []  # the dead worker's row was removed, the others left cleanly
    assert any("workers gone (doomed (pid" in proc.text() for proc in others)
    store.engine.dispose()


def worker_names(store: Store) -> list[str]:
    return sorted(w.name for w in claims.workers(store.engine))
