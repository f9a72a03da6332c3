"""``pledge-monitor run``: the daemon as a real subprocess, against a real local site and webhook."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session
from werkzeug import Request, Response

from monitor.store import models as m
from monitor.store.db import open_engine
from tests.receivers import Endpoint, free_port, threaded_server
from tests.site import Site, policy_page

ROOT = Path(__file__).resolve().parents[1]
CLAUSE = "We will not sell facial recognition technology to police departments in the United States"
ARTICLE = f"<h1>Our commitments</h1>\n<p>{CLAUSE} until there is a national law in place.</p>"


# --------------------------------------------------------------------------- helpers (also for test_claims)


@dataclass
class CountingSite(Site):
    """A ``Site`` on a threaded server that logs every request under a lock; pages can be slow."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[tuple[str, float]] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.requests.append((request.path, time.monotonic()))
        until = time.monotonic() + self.delays.get(request.path, 0.0)
        while time.monotonic() < until and request.path in self.delays:  # clearing a delay ends it
            time.sleep(0.02)
        return super().handle(request)

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _ in self.requests if p == path)

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(p for p, _ in self.requests)


@pytest.fixture
def site() -> Iterator[CountingSite]:
    server = threaded_server()
    counting = CountingSite(server)
    server.expect_request(re.compile(".*")).respond_with_handler(counting.handle)
    yield counting
    server.clear()
    server.stop()


@pytest.fixture
def hook() -> Iterator[Endpoint]:
    """A JSON webhook receiver on its own threaded server (route URL: ``json://`` + hook.url)."""
    server = threaded_server()
    yield Endpoint(server, "/hook")
    server.clear()
    server.stop()


def keys(hook: Endpoint) -> Counter[str]:
    return Counter(str(post["key"]) for post in list(hook.accepted))


def eventually(condition: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    """Poll until ``condition`` holds; fail with the daemon's log when it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    if condition():
        return
    tail = f"\n--- daemon log ---\n{log.read_text()[-4000:]}" if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{tail}")


@dataclass
class Proc:
    """A ``pledge-monitor`` subprocess; its stdout and stderr go to ``log``."""

    popen: subprocess.Popen[bytes]
    log: Path
    _out: IO[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 20.0) -> int:
        self.popen.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float = 20.0) -> int:
        try:
            return self.popen.wait(timeout)
        finally:
            self._out.close()


class Launcher:
    """Starts ``python -m monitor`` processes and kills any left running when the test ends."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.env = env or {}
        self.procs: list[Proc] = []

    def start(self, watchlist: Path, db: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        log = self.folder / f"run-{len(self.procs) + 1}.log"
        out = log.open("wb")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_MONITOR_")}
        full_env.update({"PYTHONUNBUFFERED": "1", **self.env, **(env or {})})
        command = [sys.executable, "-m", "monitor", "--watchlist", str(watchlist), "--db", db, *args]
        popen = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=full_env)
        proc = Proc(popen, log, out)
        self.procs.append(proc)
        return proc

    def run(self, watchlist: Path, db: str, *args: str, timeout: float = 30.0) -> tuple[int, str]:
        proc = self.start(watchlist, db, *args)
        code = proc.wait(timeout)
        return code, proc.text()

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.popen.kill()
                proc.popen.wait(10)
            proc._out.close()


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path)
    yield launcher
    launcher.cleanup()


def watchlist_yaml(
    site: CountingSite,
    paths: dict[str, str],
    *,
    hook: Endpoint | None = None,
    interval: str = "2s",
    pledge: bool = True,
    defaults: str = "",
    hook_url: str | None = None,
) -> str:
    """Sources (id -> path on the site), a pledge on the first one, a webhook route."""
    sources = "\n".join(
        f"  - id: {sid}\n    url: {site.url(path)}\n    select: '#policy'" for sid, path in paths.items()
    )
    routes = ""
    if hook is not None:
        routes = f"routes:\n  hook:\n    urls: {hook_url or 'json://' + hook.url}\n"
    first = next(iter(paths))
    pledges = (
        f"pledges:\n  - id: no-police-sales\n    company: Example Corp\n    title: No sales to US police\n"
        f'    made_on: 2020-06-11\n    sources: [{first}]\n    clauses:\n      - "{CLAUSE}"\n'
        if pledge
        else ""
    )
    extra = textwrap.indent(textwrap.dedent(defaults).strip(), "  ") + "\n" if defaults.strip() else ""
    head = f"defaults:\n  interval: {interval}\n  per_host: 10\n  per_host_delay: 0s\n  timeout: 5s\n{extra}"
    return f"{head}{routes}sources:\n{sources}\n{pledges}"


@dataclass
class Db:
    url: str
    engine: Engine

    def count(self, model: type[m.Base], *where: Any) -> int:
        with Session(self.engine) as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def checks(self, source_id: str) -> list[m.Check]:
        with Session(self.engine, expire_on_commit=False) as s:
            return list(s.scalars(select(m.Check).where(m.Check.source_id == source_id).order_by(m.Check.id)))

    def sources(self) -> dict[str, m.Source]:
        with Session(self.engine, expire_on_commit=False) as s:
            return {row.id: row for row in s.scalars(select(m.Source))}

    def workers(self) -> list[str]:
        with Session(self.engine) as s:
            return list(s.scalars(select(m.Worker.name)))

    def make_due(self, at: datetime, *ids: str) -> None:
        with Session(self.engine) as s, s.begin():
            query = update(m.Source).values(next_check_at=at)
            s.execute(query.where(m.Source.id.in_(ids)) if ids else query)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Db]:
    url = f"sqlite:///{tmp_path / 'pledge-monitor.db'}"
    engine = open_engine(url)
    yield Db(url, engine)
    engine.dispose()


def now() -> datetime:
    return datetime.now(UTC)


def started(db: Db, proc: Proc) -> Callable[[], bool]:
    """The daemon registered itself (it has synced and spread the schedule)."""
    return lambda: f":{proc.pid}" in "".join(db.workers()) or proc.popen.poll() is not None


# --------------------------------------------------------------------------- tests


def test_a_changed_page_is_picked_up_within_one_interval_and_alerted(
    site: CountingSite, hook: Endpoint, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(watchlist_yaml(site, {"policy": "/policy"}, hook=hook))
    proc = launcher.start(wl, db.url, "run", "--poll", "0.2")
    eventually(lambda: len(db.checks("policy")) == 1, 30, "the baseline check", proc.log)

    site.put("/policy", policy_page(ARTICLE + "\n<p>We publish a transparency report every year.</p>"))
    changed_at = now()

    def alerted() -> bool:
        return any(p["alert"]["kind"] == "source.changed" for p in list(hook.accepted))

    eventually(alerted, 8, "the source.changed alert", proc.log)
    # interval 2s (+10% jitter) and a 0.2s poll: picked up within one interval (and some slack)
    picked_up = next(c for c in db.checks("policy") if c.outcome == "changed")
    assert (picked_up.at - changed_at).total_seconds() < 2.2 + 0.2 + 1.0
    (post,) = [p for p in hook.accepted if p["alert"]["kind"] == "source.changed"]
    assert post["alert"]["source_id"] == "policy"
    assert "transparency report" in json.dumps(post)
    assert proc.terminate() == 0
    log = proc.text()
    assert "check policy: baseline (HTTP 200" in log
    assert "check policy: changed (HTTP 200" in log
    assert re.search(r"event #\d+ \[info\] source\.changed: policy: text changed", log)
    assert re.search(rf"alert pm-\d+-hook sent to json://127\.0\.0\.1:{hook.server.port}/\*\*\*", log)
    assert "SIGTERM: stopping" in log
    assert re.search(rf"worker \S+:{proc.pid} started", log)
    assert db.workers() == []


def test_a_restart_resumes_the_schedule_without_a_burst(
    site: CountingSite, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    paths = {f"page-{n}": f"/p{n}" for n in range(6)}
    for path in paths.values():
        site.put(path, policy_page(f"<p>Page {path}: {CLAUSE}.</p>"))
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(watchlist_yaml(site, paths, interval="1h", pledge=False))
    code, out = launcher.run(wl, db.url, "run", "--once")
    assert code == 0, out
    assert site.counts() == dict.fromkeys(paths.values(), 1)

    # nothing is due: a restart fetches nothing
    proc = launcher.start(wl, db.url, "run", "--poll", "0.2")
    eventually(started(db, proc), 30, "the daemon to start", proc.log)
    time.sleep(0.6)  # three polls
    assert sum(site.counts().values()) == 6
    assert proc.terminate() == 0

    # down for two hours: every source is overdue, and they are spread over --spread, in order
    db.make_due(now() - timedelta(hours=2))
    proc = launcher.start(wl, db.url, "run", "--poll", "0.1", "--spread", "2s", "--log-format", "json")
    eventually(lambda: sum(site.counts().values()) == 12, 30, "every source checked again", proc.log)
    assert proc.terminate() == 0
    records = [json.loads(line) for line in proc.text().splitlines()]
    (spread,) = [r for r in records if r["msg"] == "6 overdue sources spread over the next 2s"]
    spread_at = datetime.fromisoformat(spread["ts"]) - timedelta(seconds=0.2)  # logged just after
    second = sorted(db.checks(sid)[1].at for sid in paths)
    step = timedelta(seconds=2) / 6
    # none before its turn (a busy machine may make them late, never early): not all at once
    assert all(at >= spread_at + i * step for i, at in enumerate(second)), (spread_at, second)


def test_a_second_run_on_the_same_sqlite_database_is_refused(
    site: CountingSite, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(watchlist_yaml(site, {"policy": "/policy"}, interval="1h"))
    first = launcher.start(wl, db.url, "run", "--poll", "0.2")
    eventually(started(db, first), 30, "the first daemon to start", first.log)

    code, out = launcher.run(wl, db.url, "run")
    database = tmp_path / "pledge-monitor.db"
    assert code == 1
    assert out.strip() == f"Error: another pledge-monitor run (pid {first.pid}) holds the database {database}"
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "elsewhere" / "linked.db"
    os.link(database, link)  # the same file under another name: the same lock
    code, out = launcher.run(wl, f"sqlite:///{link}", "run")
    assert code == 1
    assert out.strip() == f"Error: another pledge-monitor run (pid {first.pid}) holds the database {link}"
    code, out = launcher.run(wl, str(link), "check", "--all")  # cron's check, by a plain path
    assert code == 1
    assert "another pledge-monitor run" in out
    code, out = launcher.run(wl, db.url, "run", "--once")  # cron on top of a daemon: refused too
    assert code == 1
    assert "another pledge-monitor run" in out
    assert first.popen.poll() is None  # the first one runs on, untroubled

    assert first.terminate() == 0
    code, out = launcher.run(wl, db.url, "run", "--once")  # the lock went with the process
    assert code == 0, out


def test_sigterm_records_the_check_in_flight_and_loses_no_alert(
    site: CountingSite, hook: Endpoint, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    paths = {"first": "/a", "second": "/b"}
    for path in paths.values():
        site.put(path, policy_page(f"<p>{CLAUSE}, says page {path}.</p>"))
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(watchlist_yaml(site, paths, hook=hook, interval="1h", pledge=False))
    code, out = launcher.run(wl, db.url, "run", "--once")
    assert code == 0, out
    assert len(hook.accepted) == 0  # baselines raise no alert

    for path in paths.values():
        site.put(path, policy_page(f"<p>{CLAUSE}, says page {path}, updated.</p>"))
        site.delays[path] = 1.5
    db.make_due(now())
    proc = launcher.start(wl, db.url, "run", "--poll", "0.1", "--concurrency", "1", "--spread", "0s")
    eventually(lambda: sum(site.counts().values()) == 3, 30, "a check in flight", proc.log)
    in_flight = next(sid for sid, path in paths.items() if site.count(path) == 2)
    waiting = next(sid for sid in paths if sid != in_flight)

    assert proc.terminate() == 0
    # the check in flight finished and was recorded; the other one was never started
    assert [c.outcome for c in db.checks(in_flight)] == ["baseline", "changed"]
    assert [c.outcome for c in db.checks(waiting)] == ["baseline"]
    assert site.count(paths[waiting]) == 1
    rows = db.sources()
    assert all(r.claimed_by is None and r.claimed_until is None for r in rows.values())
    waiting_due = rows[waiting].next_check_at
    assert waiting_due is not None
    assert waiting_due <= now()
    assert db.workers() == []
    assert db.count(m.Alert) == 1
    assert len(hook.accepted) <= 1

    # the next start delivers what was pending and checks what was left; nothing twice
    site.delays.clear()
    code, out = launcher.run(wl, db.url, "run", "--once")
    assert code == 0, out
    code, out = launcher.run(wl, db.url, "run", "--once")
    assert code == 0, out
    assert db.count(m.Alert) == 2
    assert db.count(m.Alert, m.Alert.status == "sent") == 2
    assert sorted(keys(hook).values()) == [1, 1]
    assert {p["alert"]["source_id"] for p in hook.accepted} == set(paths)


def test_an_invalid_edit_is_rejected_and_checks_go_on(
    site: CountingSite, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    wl = tmp_path / "watchlist.yaml"
    good = watchlist_yaml(site, {"policy": "/policy"}, interval="1s")
    wl.write_text(good)
    proc = launcher.start(wl, db.url, "run", "--poll", "0.2")
    eventually(lambda: len(db.checks("policy")) >= 1, 30, "the first check", proc.log)

    bad = good.replace("  interval: 1s", "  interval: every second")
    line = bad.splitlines().index("  interval: every second") + 1
    wl.write_text(bad)
    message = f"{wl}:{line}: defaults.interval: expected a duration like 30m, 6h or 1d, got 'every second'"
    eventually(lambda: message in proc.text(), 20, "the rejection in the log", proc.log)
    assert f"{wl}: edit rejected (1 problem); the previous watchlist keeps running" in proc.text()
    checks = len(db.checks("policy"))
    eventually(lambda: len(db.checks("policy")) >= checks + 2, 20, "checks going on", proc.log)
    assert proc.popen.poll() is None
    assert proc.terminate() == 0
    assert "reloaded" not in proc.text()


def test_a_valid_edit_adds_a_source_without_a_restart(
    site: CountingSite, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    site.put("/new", policy_page("<p>A new statement on facial recognition.</p>"))
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(watchlist_yaml(site, {"policy": "/policy"}, interval="1h"))
    proc = launcher.start(wl, db.url, "run", "--poll", "0.2")
    eventually(lambda: len(db.checks("policy")) == 1, 30, "the first check", proc.log)

    wl.write_text(watchlist_yaml(site, {"policy": "/policy", "added": "/new"}, interval="1h"))
    eventually(lambda: len(db.checks("added")) == 1, 20, "the added source's first check", proc.log)
    assert site.count("/new") == 1
    assert site.count("/policy") == 1
    assert proc.popen.poll() is None
    assert f"{wl} reloaded: 2 sources (+1: added), 1 pledges, 0 routes" in proc.text()

    wl.write_text(watchlist_yaml(site, {"added": "/new"}, interval="1h", pledge=False))
    eventually(lambda: not db.sources()["policy"].active, 20, "the removed source to go inactive", proc.log)
    assert proc.terminate() == 0


def test_json_logs_carry_fields_and_no_secret(
    site: CountingSite, hook: Endpoint, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    secret = "hunter2-very-secret"
    site.put("/policy", policy_page(ARTICLE))
    wl = tmp_path / "watchlist.yaml"
    url = f"json://alerts:${{HOOK_PASSWORD}}@{hook.url}"
    wl.write_text(watchlist_yaml(site, {"policy": "/policy"}, hook=hook, hook_url=url, interval="1h"))
    code, out = launcher.run(wl, db.url, "run", "--once", "--log-format", "json")
    assert code == 0, out
    site.put("/policy", policy_page(ARTICLE + "<p>Updated.</p>"))
    db.make_due(now())
    launcher.env["HOOK_PASSWORD"] = secret
    code, out = launcher.run(wl, db.url, "run", "--once", "--log-format", "json")
    assert code == 0, out
    assert len(hook.accepted) == 1
    assert "authorization" in {k.lower() for k in hook.headers[0]}

    records = [json.loads(line) for line in out.splitlines()]
    assert all({"ts", "level", "logger", "msg"} <= r.keys() for r in records)
    check = next(r for r in records if r["msg"].startswith("check policy"))
    assert check["source"] == "policy"
    assert check["outcome"] == "changed"
    assert check["status"] == 200
    assert check["pledges"] == ["no-police-sales"]
    assert isinstance(check["ms"], int)
    event = next(r for r in records if r["msg"].startswith("event #"))
    assert event["kind"] == "source.changed"
    assert event["pledge"] == "no-police-sales"
    assert any(r["msg"].startswith("alert pm-") and r["logger"] == "monitor.alerts" for r in records)
    assert secret not in out


def test_a_failing_route_leaves_no_secret_in_the_logs(
    site: CountingSite, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    """apprise reports a refused connection with the URL it used: the resolved token is scrubbed."""
    secret = "tok-3f9a7c1e5b"
    site.put("/policy", policy_page(ARTICLE))
    wl = tmp_path / "watchlist.yaml"
    url = f"json://127.0.0.1:{free_port()}/hook/${{HOOK_TOKEN}}"  # nobody listens there
    wl.write_text(watchlist_yaml(site, {"policy": "/policy"}, hook=None, interval="1h"))
    wl.write_text(wl.read_text() + f"routes:\n  hook:\n    urls: {url}\n")
    launcher.env["HOOK_TOKEN"] = secret
    code, out = launcher.run(wl, db.url, "run", "--once")
    assert code == 0, out
    site.put("/policy", policy_page(ARTICLE + "<p>Updated.</p>"))
    db.make_due(now())
    code, out = launcher.run(wl, db.url, "run", "--once")
    assert code == 0, out
    assert "alert pm-" in out
    assert "not delivered" in out
    assert secret not in out


def test_a_repeated_stop_signal_waits_and_a_later_one_exits_at_once(
    site: CountingSite, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(watchlist_yaml(site, {"policy": "/policy"}, interval="1h"))
    site.delays["/policy"] = 1.0
    proc = launcher.start(wl, db.url, "run", "--poll", "0.1")
    eventually(lambda: site.count("/policy") == 1, 30, "a check in flight", proc.log)
    proc.popen.send_signal(signal.SIGTERM)  # as `timeout` does: to the process, then its group
    time.sleep(0.2)
    proc.popen.send_signal(signal.SIGTERM)  # the same request twice: still a clean stop
    assert proc.wait() == 0, proc.text()
    assert [c.outcome for c in db.checks("policy")] == ["baseline"]  # the check was waited for

    db.make_due(now())
    site.delays["/policy"] = 30.0
    proc = launcher.start(wl, db.url, "run", "--poll", "0.1", "--spread", "0s")
    eventually(lambda: site.count("/policy") == 2, 30, "a slow check in flight", proc.log)
    proc.popen.send_signal(signal.SIGTERM)
    time.sleep(1.2)
    proc.popen.send_signal(signal.SIGTERM)
    started_at = time.monotonic()
    assert proc.wait() == 1
    assert time.monotonic() - started_at < 2
    again = "SIGTERM again: exiting now; the next start takes back the claims and alerts in flight"
    assert again in proc.text()
    site.delays.clear()
    assert len(db.checks("policy")) == 1
    assert db.sources()["policy"].claimed_by is not None  # left to its lease


BAD_WATCHLISTS = ROOT / "tests" / "fixtures" / "watchlists" / "bad"
HOSTILE = [
    "yaml-alias-bomb",
    "yaml-nul-byte",
    "yaml-nested-brackets",
    "not-utf8",
    "interval-overflowing",
    "interval-over-a-year",
    "route-unknown-scheme",
]


def test_hostile_edits_are_rejected_the_fix_is_applied_and_sigterm_still_stops_it(
    site: CountingSite, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    """Each file that once hung, crashed or bloated the daemon: rejected with file, line and key
    while the last good watchlist runs on; the fix written after them is applied; SIGTERM stops it."""
    site.put("/policy", policy_page(ARTICLE))
    site.put("/new", policy_page("<p>A new statement on facial recognition.</p>"))
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(watchlist_yaml(site, {"policy": "/policy"}, interval="1s"))
    proc = launcher.start(wl, db.url, "run", "--poll", "0.2")
    eventually(lambda: len(db.checks("policy")) >= 1, 10, "the first check", proc.log)

    for name in HOSTILE:
        data = (BAD_WATCHLISTS / f"{name}.yaml").read_bytes()
        expected = data.decode("utf-8", "replace").splitlines()[0].removeprefix(f"# expect: {name}.yaml")
        wl.write_bytes(data)
        eventually(lambda e=expected: f"{wl}{e}" in proc.text(), 10, f"{name} rejected", proc.log)
        assert proc.popen.poll() is None
    checks = len(db.checks("policy"))
    eventually(
        lambda: len(db.checks("policy")) >= checks + 2, 8, "the last good watchlist checking on", proc.log
    )

    wl.write_text(watchlist_yaml(site, {"policy": "/policy", "added": "/new"}, interval="1s"))
    eventually(lambda: len(db.checks("added")) >= 1, 10, "the fixed file's new source checked", proc.log)
    assert f"{wl} reloaded: 2 sources (+1: added)" in proc.text()
    assert proc.terminate(timeout=10) == 0
    assert "Traceback" not in proc.text()
