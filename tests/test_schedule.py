"""The daemon's jobs in-process: dispatch, delivery, sweep, reload, heartbeat; logs and locks."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from monitor import logs
from monitor.errors import LockError
from monitor.lock import ProcessLock, database_lock
from monitor.schedule import Daemon, Options, WatchlistWatcher, describe_changes
from monitor.store import claims
from monitor.store import models as m
from monitor.store.db import database_secrets, sqlite_path
from monitor.store.repo import Store
from monitor.watchlist import Watchlist
from tests.conftest import WriteWatchlist
from tests.site import Site, policy_page

CLAUSE = "We will not sell facial recognition technology to police departments in the United States"


def watchlist_text(site: Site, ids: list[str], *, routes: str = "", extra: str = "") -> str:
    sources = "\n".join(
        f"  - id: {sid}\n    url: {site.url('/' + sid)}\n    select: '#policy'" for sid in ids
    )
    return (
        f"defaults:\n  interval: 1h\n  per_host_delay: 0s\n{routes}sources:\n{sources}\n"
        "pledges:\n  - id: no-police-sales\n    company: Example Corp\n    title: No sales to US police\n"
        f"    made_on: 2020-06-11\n    sources: [{ids[0]}]\n    clauses: ['{CLAUSE}']\n{extra}"
    )


def daemon_for(store: Store, watchlist: Watchlist, **options: object) -> Daemon:
    return Daemon(store, watchlist, Options(worker="test:1", **options))  # type: ignore[arg-type]


def sources(store: Store) -> dict[str, m.Source]:
    return {row.id: row for row in store.sources()}


def due(row: m.Source) -> datetime:
    assert row.next_check_at is not None
    return row.next_check_at


def set_sources(store: Store, **values: object) -> None:
    with Session(store.engine) as s, s.begin():
        s.execute(update(m.Source).values(**values))


@pytest.fixture
def root_logging() -> Iterator[None]:
    """logs.setup changes the root logger and quietens some libraries': put them back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("apscheduler", "urllib3", "apprise", "alembic")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in quiet.items():
        logging.getLogger(name).setLevel(was)


# --------------------------------------------------------------------------- dispatch


def test_dispatch_checks_what_is_due_and_gives_back_the_claims(
    site: Site, write_watchlist: WriteWatchlist, store: Store
) -> None:
    for sid in ("a", "b"):
        site.put(f"/{sid}", policy_page(f"<p>{CLAUSE}.</p>"))
    wl = write_watchlist(watchlist_text(site, ["a", "b"]))
    daemon = daemon_for(store, wl)
    store.sync(wl, datetime.now(UTC))
    daemon.dispatch()
    rows = sources(store)
    assert [c.outcome for c in store.checks()] == ["baseline", "baseline"]
    assert all(r.claimed_by is None and due(r) > datetime.now(UTC) for r in rows.values())
    daemon.dispatch()  # nothing is due now
    assert len(store.checks()) == 2


def test_a_stopping_daemon_starts_no_check(site: Site, write_watchlist: WriteWatchlist, store: Store) -> None:
    site.put("/a", policy_page(f"<p>{CLAUSE}.</p>"))
    wl = write_watchlist(watchlist_text(site, ["a"]))
    daemon = daemon_for(store, wl)
    store.sync(wl, datetime.now(UTC))
    daemon.stop.set()
    daemon.dispatch()
    assert store.checks() == []
    assert site.hits == {}
    assert claims.claimed(store.engine) == {}


def test_a_source_this_watchlist_does_not_know_is_left_to_others(
    site: Site, write_watchlist: WriteWatchlist, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    site.put("/a", policy_page(f"<p>{CLAUSE}.</p>"))
    wl = write_watchlist(watchlist_text(site, ["a"]))
    store.sync(wl, datetime.now(UTC))
    with Session(store.engine) as s, s.begin():  # synced by a worker with another watchlist
        s.add(m.Source(id="elsewhere", url="https://example.org/x", next_check_at=datetime.now(UTC)))
    daemon = daemon_for(store, wl)
    with caplog.at_level(logging.WARNING, "monitor.run"):
        daemon.dispatch()
        daemon.dispatch()
    assert [c.source_id for c in store.checks()] == ["a"]
    assert claims.claimed(store.engine) == {}  # given back for a worker that knows it
    warnings = [r.getMessage() for r in caplog.records if "elsewhere" in r.getMessage()]
    assert len(warnings) == 1
    assert "not in" in warnings[0]
    assert "left to others" in warnings[0]


def test_concurrency_can_be_overridden(write_watchlist: WriteWatchlist, store: Store, site: Site) -> None:
    wl = write_watchlist(watchlist_text(site, ["a"]))
    daemon = daemon_for(store, wl, concurrency=3)
    assert daemon.watchlist.defaults.concurrency == 3
    assert daemon.batch_size(daemon.watchlist) == 12
    assert daemon_for(store, wl).watchlist.defaults.concurrency == wl.defaults.concurrency


# --------------------------------------------------------------------------- resume, heartbeat


def test_resume_spreads_overdue_sources_unless_another_worker_keeps_the_schedule(
    site: Site, write_watchlist: WriteWatchlist, store: Store
) -> None:
    wl = write_watchlist(watchlist_text(site, ["a", "b", "c"]))
    now = datetime.now(UTC)
    store.sync(wl, now)
    set_sources(store, last_check_at=now - timedelta(days=1), next_check_at=now - timedelta(hours=2))
    claims.register_worker(store.engine, name="other:9", now=now, pid=9, host="other")
    daemon = daemon_for(store, wl, spread=timedelta(minutes=3))
    assert daemon.resume(now) == 0
    assert {r.next_check_at for r in sources(store).values()} == {now - timedelta(hours=2)}

    claims.unregister_worker(store.engine, "other:9")
    assert daemon.resume(now) == 3
    assert sorted(due(r) for r in sources(store).values()) == [
        now,
        now + timedelta(minutes=1),
        now + timedelta(minutes=2),
    ]


def test_the_default_spread_is_the_shortest_interval_up_to_ten_minutes(
    site: Site, write_watchlist: WriteWatchlist, store: Store
) -> None:
    wl = write_watchlist(watchlist_text(site, ["a", "b"]).replace("interval: 1h", "interval: 4m"))
    now = datetime.now(UTC)
    store.sync(wl, now)
    set_sources(store, last_check_at=now - timedelta(days=1), next_check_at=now - timedelta(hours=2))
    assert daemon_for(store, wl).resume(now) == 2
    assert max(due(r) for r in sources(store).values()) == now + timedelta(minutes=2)


def test_heartbeat_renews_the_leases_of_a_living_worker(
    site: Site, write_watchlist: WriteWatchlist, store: Store
) -> None:
    wl = write_watchlist(watchlist_text(site, ["a"]))
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    store.sync(wl, t0)
    clock = [t0]
    daemon = Daemon(store, wl, Options(worker="w", lease=timedelta(seconds=30)), clock=lambda: clock[0])
    claims.register_worker(store.engine, name="w", now=t0, pid=1, host="h")
    assert claims.claim_due(store.engine, now=t0, worker="w", lease=timedelta(seconds=30), limit=5) == ["a"]
    clock[0] = t0 + timedelta(seconds=20)
    daemon.heartbeat()
    assert claims.claimed(store.engine) == {"a": ("w", t0 + timedelta(seconds=50))}
    assert claims.workers(store.engine)[0].heartbeat_at == t0 + timedelta(seconds=20)
    assert daemon.heartbeat_every == 10  # a third of the lease, to renew in time


# --------------------------------------------------------------------------- sweep and delivery


def test_the_sweep_raises_a_deadline_and_delivery_sends_it_once(
    site: Site, write_watchlist: WriteWatchlist, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    routes = "routes:\n  console:\n    urls: console://\n"
    text = watchlist_text(site, ["a"], routes=routes).replace(
        "made_on: 2020-06-11", "made_on: 2020-06-10\n    expires_on: 2021-06-10"
    )
    wl = write_watchlist(text)
    store.sync(wl, datetime.now(UTC))
    daemon = daemon_for(store, wl)
    daemon.sweep()
    (event,) = store.events()
    assert event.kind == "pledge.expired"
    daemon.deliver()
    daemon.sweep()  # said once
    daemon.deliver()
    out = capsys.readouterr().out
    assert out.count("expired on 10 June 2021") == 1


# --------------------------------------------------------------------------- reload


def test_the_watcher_sees_edits_not_touches(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text("sources: []\n")
    watcher = WatchlistWatcher(path)
    assert watcher.poll() is None
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # touched, same bytes
    assert watcher.poll() is None
    path.write_text("sources: []\n# edited\n")
    assert watcher.poll() == b"sources: []\n# edited\n"
    assert watcher.poll() is None
    assert watcher.poll(force=True) is None
    path.unlink()
    with pytest.raises(FileNotFoundError):
        watcher.poll()
    assert watcher.poll() is None  # said once


def test_reload_rejects_an_invalid_edit_and_applies_a_valid_one(
    site: Site, write_watchlist: WriteWatchlist, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    wl = write_watchlist(watchlist_text(site, ["a"]))
    store.sync(wl, datetime.now(UTC))
    daemon = daemon_for(store, wl)
    path = wl.path
    good = path.read_text()
    bad = good.replace("  - id: a\n", "  - id: a\n    selct: article\n")
    line = bad.splitlines().index("    selct: article") + 1
    path.write_text(bad)
    with caplog.at_level(logging.INFO, "monitor.run"):
        assert daemon.reload() is False
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == f"{path}: edit rejected (1 problem); the previous watchlist keeps running"
    assert messages[1] == f"{path}:{line}: sources[0].selct: unknown key 'selct' (did you mean 'select'?)"
    assert caplog.records[1].line == line  # type: ignore[attr-defined]
    assert daemon.watchlist is wl

    caplog.clear()
    path.write_text(watchlist_text(site, ["a", "b"]))
    with caplog.at_level(logging.INFO, "monitor.run"):
        assert daemon.reload() is True
    assert [s.id for s in daemon.watchlist.sources] == ["a", "b"]
    assert sources(store)["b"].active
    assert sources(store)["b"].next_check_at is not None
    assert caplog.records[0].getMessage() == f"{path} reloaded: 2 sources (+1: b), 1 pledges, 0 routes"


def test_describe_changes_names_what_was_added_removed_and_changed(
    site: Site, write_watchlist: WriteWatchlist
) -> None:
    old = write_watchlist(watchlist_text(site, ["a", "b"]))
    text = watchlist_text(site, ["a", "c"]).replace("select: '#policy'", "select: article", 1)
    new = write_watchlist(text + "routes:\n  team:\n    urls: console://\n")
    assert describe_changes(old, new) == "2 sources (+1: c; -1: b; ~1: a), 1 pledges, 1 routes (+1: team)"


# --------------------------------------------------------------------------- start and shutdown


def test_start_runs_the_jobs_and_shutdown_leaves_nothing_behind(
    site: Site, write_watchlist: WriteWatchlist, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    site.put("/a", policy_page(f"<p>{CLAUSE}.</p>"))
    routes = "routes:\n  team:\n    urls: json://hooks.example.org/${PM_TEST_UNSET_TOKEN}\n"
    wl = write_watchlist(watchlist_text(site, ["a"], routes=routes))
    daemon = Daemon(store, wl, Options(worker="test:1", poll=0.1), env={})
    with caplog.at_level(logging.WARNING, "monitor.run"):
        daemon.start()
    assert f"{wl.path}: routes.team: ${{PM_TEST_UNSET_TOKEN}} is not set in the environment" in caplog.text
    try:
        jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
        assert sorted(jobs) == ["deliver", "dispatch", "heartbeat", "reload", "sweep", "witness"]
        assert all(j.max_instances == 1 and j.coalesce for j in jobs.values())
        assert [w.name for w in claims.workers(store.engine)] == ["test:1"]
        deadline = time.monotonic() + 5
        while not store.checks() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [c.outcome for c in store.checks()] == ["baseline"]
    finally:
        daemon.shutdown()
    assert not daemon.scheduler.running
    assert claims.workers(store.engine) == []
    assert claims.claimed(store.engine) == {}


def test_run_once_checks_sweeps_and_delivers(
    site: Site, write_watchlist: WriteWatchlist, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    site.put("/a", policy_page(f"<p>{CLAUSE}.</p>"))
    wl = write_watchlist(watchlist_text(site, ["a"], routes="routes:\n  console:\n    urls: console://\n"))
    daemon_for(store, wl).run_once()
    site.put("/a", policy_page(f"<p>{CLAUSE}.</p><p>And a new paragraph.</p>"))
    set_sources(store, next_check_at=datetime.now(UTC))
    daemon_for(store, wl).run_once()
    assert [c.outcome for c in store.checks()] == ["changed", "baseline"]
    assert "a: text changed" in capsys.readouterr().out
    assert claims.workers(store.engine) == []


def test_run_once_saves_a_changed_page_at_the_archive_after_checking(
    site: Site, write_watchlist: WriteWatchlist, store: Store
) -> None:
    from monitor.store.archives import archive_urls
    from tests.spn import ACCESS, SECRET, running_spn

    keys = {"PLEDGE_MONITOR_IA_ACCESS": ACCESS, "PLEDGE_MONITOR_IA_SECRET": SECRET}
    site.put("/a", policy_page(f"<p>{CLAUSE}.</p>"))
    with running_spn() as spn:
        archive = f"archive:\n  endpoint: {spn.endpoint}\n  poll_every: 0s\n"
        wl = write_watchlist(watchlist_text(site, ["a"], extra=archive))
        Daemon(store, wl, Options(worker="test:1"), env=keys).run_once()
        site.put("/a", policy_page(f"<p>{CLAUSE}.</p><p>And a new paragraph.</p>"))
        set_sources(store, next_check_at=datetime.now(UTC))
        Daemon(store, wl, Options(worker="test:1"), env=keys).run_once()
    assert archive_urls(store.engine, [1]) == {1: spn.archive_url(site.url("/a"))}
    assert len(spn.submissions) == 1
    assert claims.workers(store.engine) == []


# --------------------------------------------------------------------------- logs


def test_text_logs_scrub_secrets_and_url_passwords(root_logging: None) -> None:
    stream = io.StringIO()
    logs.setup("text", stream=stream, secrets={"xoxb-123-secret"})
    log = logging.getLogger("apprise")
    log.warning("posting to slack://xoxb-123-secret/C0 and json://user:pa55word@hooks.example.org/x")
    logging.getLogger("apscheduler.scheduler").warning(
        'Execution of job "dispatch" skipped: maximum number of running instances reached (1)'
    )
    out = stream.getvalue()
    assert "xoxb-123-secret" not in out
    assert "pa55word" not in out
    assert "slack://***/C0 and json://user:***@hooks.example.org/x" in out
    assert "maximum number" not in out  # a long cycle delaying a tick is expected, not a warning
    assert out.count("\n") == 1


def test_json_logs_have_the_fields_and_no_secret(root_logging: None) -> None:
    stream = io.StringIO()
    secrets = logs.setup("json", stream=stream)
    secrets.update({"tok-9f8e7d"})  # a reload brought a new route
    logging.getLogger("monitor.run").info(
        "check %s: %s",
        "ibm-letter",
        "unchanged",
        extra={"source": "ibm-letter", "error": "GET ?k=tok-9f8e7d"},
    )
    try:
        raise RuntimeError("boom tok-9f8e7d")
    except RuntimeError:
        logging.getLogger("monitor.run").exception("dispatch failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "check ibm-letter: unchanged"
    assert first["level"] == "info"
    assert first["logger"] == "monitor.run"
    assert first["source"] == "ibm-letter"
    assert first["error"] == "GET ?k=***"
    assert datetime.fromisoformat(first["ts"]).tzinfo is not None
    assert second["level"] == "error"
    assert "RuntimeError: boom ***" in second["exc"]


def test_secrets_come_from_route_variables_and_the_database_url(write_watchlist: WriteWatchlist) -> None:
    wl = write_watchlist("routes:\n  slack:\n    urls: slack://${TOKEN_A}/${TOKEN_B}/C0\nsources: []\n")
    assert logs.watchlist_secrets(wl, {"TOKEN_A": "aaa-1", "TOKEN_B": "bbb-2", "OTHER": "x"}) == {
        "aaa-1",
        "bbb-2",
    }
    assert database_secrets("postgresql+psycopg://pm:s3cret@db/pledges") == {"s3cret"}
    assert database_secrets("sqlite:///x.db") == set()


def test_secrets_include_the_archive_keys(write_watchlist: WriteWatchlist) -> None:
    wl = write_watchlist("sources: []\narchive:\n  secret_env: IA_SECRET\n")
    env = {
        "PLEDGE_MONITOR_IA_ACCESS": "acc-123",
        "IA_SECRET": "sec-456",
        "PLEDGE_MONITOR_IA_SECRET": "unused",
    }
    assert logs.watchlist_secrets(wl, env) == {"acc-123", "sec-456"}


# --------------------------------------------------------------------------- lock


def test_one_lock_holder_at_a_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pm.db'}"
    first = database_lock(url)
    assert first is not None
    assert first.path == tmp_path / "pm.db"
    with first:
        second = ProcessLock(first.path)
        with pytest.raises(LockError) as info:
            second.acquire()
        assert (
            str(info.value)
            == f"another pledge-monitor run (pid {os.getpid()}) holds the database {first.path}"
        )
        (tmp_path / "elsewhere").mkdir()
        link = tmp_path / "elsewhere" / "link.db"
        os.link(first.path, link)  # another name for the same file: the same lock
        with pytest.raises(LockError, match="another pledge-monitor run"):
            ProcessLock(link).acquire()
    with ProcessLock(first.path):  # released
        pass


def test_only_sqlite_files_need_a_lock(tmp_path: Path) -> None:
    assert sqlite_path("postgresql+psycopg://pm@db/pledges") is None
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    with pytest.raises(LockError, match=r"folder .*missing does not exist"):
        ProcessLock(tmp_path / "missing" / "a.db").acquire()
    (tmp_path / "locked.db").mkdir()  # something in the way
    with pytest.raises(LockError, match=r"cannot open the database .*locked\.db: Is a directory"):
        ProcessLock(tmp_path / "locked.db").acquire()
