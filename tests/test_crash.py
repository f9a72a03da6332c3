"""A process killed between "event stored" and "alert sent": the alert goes out after restart, once.

The crash is real: a child process records a check that raises an event (and its pending alert, in
the same transaction) and then SIGKILLs itself before any delivery. The restarted service delivers
the alert exactly once to a real local webhook, and a further pass delivers nothing more.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.store import models as m
from monitor.store.db import open_engine
from monitor.store.outbox import alert_counts
from tests.receivers import Endpoint, threaded_server
from tests.site import Site, policy_page
from tests.test_run import (
    CountingSite,
    Db,
    Launcher,
    db,
    eventually,
    hook,
    launcher,
    now,
    site,
    started,
    watchlist_yaml,
)

CLAUSE = "we will not sell facial recognition technology to police departments in the United States"
ARTICLE = f"<p>{CLAUSE[0].upper() + CLAUSE[1:]} until there is a national law.</p>"

__all__ = ["db", "hook", "launcher", "site"]  # fixtures, used below

RECORD_THEN_DIE = """
import os, signal, sys
from monitor.cycle import run_cycle
from monitor.fetch import Fetcher
from monitor.store.db import open_engine
from monitor.store.repo import Store
from monitor.watchlist import load_watchlist

watchlist = load_watchlist(sys.argv[1])
store = Store(open_engine(sys.argv[2]))
store.sync(watchlist, __import__("datetime").datetime.now(__import__("datetime").UTC))
with Fetcher(user_agent="crash-test", retries=0) as fetcher:
    summary = run_cycle(store, watchlist, fetcher, [s.id for s in watchlist.sources])
print("events", summary.events, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the crash: events and alerts stored, nothing sent
"""


def keys(hook: Endpoint) -> list[str]:
    """The keys the hook accepted, in order."""
    return [str(post["key"]) for post in list(hook.accepted)]


def test_killed_after_storing_the_event_delivers_once_after_restart(
    site: Site, hook: Endpoint, tmp_path: Path
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(
        textwrap.dedent(
            f"""
            defaults:
              per_host_delay: 0s
            routes:
              hook:
                urls: ["json://{hook.url}"]
            sources:
              - id: policy
                url: {site.url("/policy")}
                select: "#policy"
            pledges:
              - id: no-police-sales
                company: Example Corp
                title: No facial recognition sales to US police
                made_on: 2020-06-11
                sources: [policy]
                clauses: ["{CLAUSE}"]
            """
        )
    )
    db = f"sqlite:///{tmp_path / 'pledge-monitor.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_MONITOR_")}

    def die_after_recording() -> str:
        child = subprocess.run(
            [sys.executable, "-c", RECORD_THEN_DIE, str(watchlist), db],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr
        return child.stdout

    def run_once() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "--watchlist", str(watchlist), "--db", db, "run", "--once"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

    assert "events 0" in die_after_recording()  # the baseline: nothing to tell
    site.put("/policy", policy_page(ARTICLE.replace("will not sell", "will sell")))
    assert "events 1" in die_after_recording()  # pledge.weakened stored, then the crash
    engine = open_engine(db)
    assert alert_counts(engine)["pending"] == 1
    assert hook.accepted == []

    run_once()  # the restart
    assert keys(hook) == ["pm-1-hook"]
    run_once()  # and again: nothing is sent twice
    assert keys(hook) == ["pm-1-hook"]
    assert alert_counts(engine) == {"pending": 0, "sending": 0, "sent": 1, "failed": 0, "muted": 0}
    engine.dispose()


# --------------------------------------------------------------------------- issue 11: kill -9 of `run`


class GatedHook(Endpoint):
    """A webhook that logs each key as the request arrives, then answers only once opened."""

    def __init__(self, server: HTTPServer, path: str) -> None:
        self.open = threading.Event()
        self.arrived: list[str] = []
        super().__init__(server, path)

    def _handle(self, request: Request) -> Response:
        self.arrived.append(str(json.loads(request.get_data())["key"]))
        self.open.wait(30)
        return super()._handle(request)


@pytest.fixture
def gated() -> Iterator[GatedHook]:
    server = threaded_server()
    hook = GatedHook(server, "/hook")
    yield hook
    hook.open.set()
    server.clear()
    server.stop()


def changed_pages(site: CountingSite, count: int, version: str) -> dict[str, str]:
    paths = {f"page-{n}": f"/p{n}" for n in range(count)}
    for n, path in enumerate(paths.values()):
        site.put(path, policy_page(f"<p>Statement {n}: we will not sell face recognition ({version}).</p>"))
    return paths


def test_kill_9_mid_send_a_restart_delivers_at_once_and_only_the_interrupted_alert_twice(
    site: CountingSite, gated: GatedHook, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    paths = changed_pages(site, 5, "v1")
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(watchlist_yaml(site, paths, hook=gated, interval="1h", pledge=False))
    code, out = launcher.run(wl, db.url, "run", "--once")  # the baselines: nothing to tell
    assert code == 0, out
    changed_pages(site, 5, "v2")
    db.make_due(now())
    doomed = launcher.start(wl, db.url, "run", "--poll", "0.1", "--spread", "0s", "--lease", "10m")
    eventually(lambda: db.count(m.Alert) == 5 and bool(gated.arrived), 60, "a send in flight", doomed.log)
    eventually(lambda: db.count(m.Alert, m.Alert.status == "sending") == 5, 30, "every alert claimed")
    doomed.popen.send_signal(signal.SIGKILL)  # while the receiver holds the first send
    assert doomed.wait() == -signal.SIGKILL
    (interrupted,) = gated.arrived
    assert db.workers() == [f"{socket.gethostname()}:{doomed.pid}"]  # its row is left behind
    gated.open.set()

    restarted = launcher.start(wl, db.url, "run", "--poll", "0.1", "--lease", "10m")
    eventually(started(db, restarted), 60, "the restart", restarted.log)
    eventually(lambda: len(set(keys(gated))) == 5, 60, "every alert, long before the lease", restarted.log)
    time.sleep(0.5)  # a further duplicate would come now
    assert restarted.terminate() == 0
    counts = Counter(keys(gated))
    assert counts[interrupted] <= 2
    assert sum(counts.values()) <= 6
    assert db.count(m.Alert, m.Alert.status == "sent") == 5
    log = restarted.text()
    assert f"workers gone ({socket.gethostname()}:{doomed.pid} (pid {doomed.pid}" in log
    assert "5 alerts they held are free again" in log
    assert "other workers" not in log  # the dead one is not taken for alive
    assert db.workers() == []  # the dead worker's row went at the restart, ours at the stop


def test_kill_9_mid_check_a_restart_checks_the_source_at_once(
    site: CountingSite, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    paths = changed_pages(site, 1, "v1")
    wl = tmp_path / "watchlist.yaml"
    wl.write_text(watchlist_yaml(site, paths, interval="1h", pledge=False))
    site.delays["/p0"] = 30.0
    doomed = launcher.start(wl, db.url, "run", "--poll", "0.1", "--lease", "10m")
    eventually(lambda: site.count("/p0") == 1, 30, "the check in flight", doomed.log)
    assert db.sources()["page-0"].claimed_by is not None
    doomed.popen.send_signal(signal.SIGKILL)
    doomed.wait()
    site.delays.clear()

    restarted = launcher.start(wl, db.url, "run", "--poll", "0.1", "--lease", "10m")
    eventually(
        lambda: len(db.checks("page-0")) == 1, 60, "the check, long before the lease ends", restarted.log
    )
    assert restarted.terminate() == 0
    assert "1 source and 0 alerts they held are free again" in restarted.text()
