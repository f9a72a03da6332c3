"""Crash safety: `pledge-monitor run` killed with SIGKILL at random moments, and restarted (issue 11).

    .venv/bin/python benchmarks/chaos.py                     # SQLite, then PostgreSQL: a few minutes
    .venv/bin/python benchmarks/chaos.py --db sqlite --kills 5
    .venv/bin/python benchmarks/chaos.py --no-fail           # report, never exit 1

A local site serves 200 pages that keep changing; a local webhook receiver logs the idempotency
key of every alert it gets (and takes 20 ms to answer, as a real service does, so that kills land
mid-send too). ``pledge-monitor run`` runs as a real subprocess and is killed with SIGKILL at a
random moment of its work (1 to 8 s after it registered) 20 times, then restarted at once; a
last run is left to finish and stopped with SIGTERM. A page changes again only once its previous
change is recorded, so every change made can be recorded.

It prints the changes made and recorded, the alerts delivered once, twice and never, the kills
that landed mid-send (the run had sent an alert the database did not record as sent yet: a send
the kill cut short, the one alert a kill may duplicate), and the worst delay between a restart and
the delivery of an alert that was pending when it restarted (and of one the killed run had
claimed). Targets: nothing missing, duplicates <= sends cut short, worst delay < 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text

from monitor.store import models as m
from monitor.store.db import open_engine

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get(
    "PLEDGE_MONITOR_TEST_PG", "postgresql+psycopg://postgres@/postgres?host=/var/run/postgresql"
)
TARGET_DELAY = 60.0
ANSWER_AFTER = 0.02  # seconds the receiver takes to answer


# -- the site and the receiver ------------------------------------------------------------------


class Site:
    """Pages /p/N, each at a version that only the driver moves on."""

    def __init__(self, pages: int) -> None:
        self.versions = [1] * pages
        self.lock = threading.Lock()

    def body(self, page: int) -> bytes:
        with self.lock:
            version = self.versions[page]
        article = f"<p>Statement {page}: we will not sell face recognition to police (version {version}).</p>"
        return f"<html><body><nav>Home</nav><article id='policy'>{article}</article></body></html>".encode()


class Receiver:
    """Logs the key of every alert as it arrives, with the time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[str, float]] = []

    def log(self, key: str) -> None:
        with self.lock:
            self.received.append((key, time.monotonic()))

    def snapshot(self) -> list[tuple[str, float]]:
        with self.lock:
            return list(self.received)


class QuietServer(ThreadingHTTPServer):
    """A client killed mid-request resets its connection: that is the point here, not an error."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(site: Site, receiver: Receiver) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            try:
                page = int(self.path.rsplit("/", 1)[-1])
                body = site.body(page)
            except (ValueError, IndexError):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                receiver.log(str(json.loads(data)["key"]))
            except (ValueError, KeyError):
                self.send_error(400)
                return
            time.sleep(ANSWER_AFTER)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:
            pass

    server = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def watchlist_yaml(port: int, pages: int, interval: str) -> str:
    sources = "\n".join(
        f"  - id: p{n:03d}\n    url: http://127.0.0.1:{port}/p/{n}\n    select: '#policy'"
        for n in range(pages)
    )
    return (
        f"defaults:\n  interval: {interval}\n  per_host: 8\n  per_host_delay: 0s\n  concurrency: 8\n"
        "  timeout: 10s\n"
        f"routes:\n  hook:\n    urls: json://127.0.0.1:{port}/hook\n    events: [source.changed]\n"
        f"sources:\n{sources}\n"
    )


# -- the database -------------------------------------------------------------------------------


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'chaos.db'}"
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"pm_chaos_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def changes_per_source(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        rows = c.execute(select(m.Change.source_id, func.count()).group_by(m.Change.source_id)).all()
    return dict(rows)


def alert_keys(engine: Engine) -> dict[str, str]:
    """Idempotency key -> status, for every alert."""
    with engine.connect() as c:
        rows = c.execute(select(m.Alert.event_id, m.Alert.route, m.Alert.status)).all()
    return {f"pm-{event}-{route}": status for event, route, status in rows}


# -- one run ------------------------------------------------------------------------------------


@dataclass
class Result:
    db: str
    kills: int = 0
    changes_made: int = 0
    changes_recorded: int = 0
    alerts: int = 0
    once: int = 0
    twice: int = 0
    more: int = 0
    missing: int = 0
    kills_mid_send: int = 0
    sends_cut: int = 0
    worst_delay: float = 0.0
    delays: list[float] = field(default_factory=list)
    held_delays: list[float] = field(default_factory=list)  # alerts the killed run had claimed
    elapsed: float = 0.0

    @property
    def duplicates(self) -> int:
        return self.twice + 2 * self.more

    def ok(self) -> bool:
        return (
            self.missing == 0
            and self.changes_recorded == self.changes_made
            and self.duplicates <= self.sends_cut
            and self.worst_delay < TARGET_DELAY
        )


class Monitor:
    """Starts `pledge-monitor run` subprocesses; each one's output goes to its own log."""

    def __init__(self, folder: Path, watchlist: Path, url: str) -> None:
        self.folder, self.watchlist, self.url = folder, watchlist, url
        self.count = 0
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_MONITOR_")}

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def start(self) -> subprocess.Popen[bytes]:
        self.count += 1
        log = (self.folder / f"run-{self.count:02d}.log").open("wb")
        command = [sys.executable, "-m", "monitor", "-w", str(self.watchlist), "--db", self.url]
        proc = subprocess.Popen(
            [*command, "run", "--poll", "0.5"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=self.env
        )
        log.close()  # the child has its own copy
        self.procs.append(proc)
        return proc


class Driver(threading.Thread):
    """Moves pages on to their next version, but only pages whose last change is recorded."""

    def __init__(self, site: Site, engine: Engine, rng: random.Random, per_round: int) -> None:
        super().__init__(daemon=True)
        self.site, self.engine, self.rng, self.per_round = site, engine, rng, per_round
        self.stop = threading.Event()
        self.made = 0

    def run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                recorded = changes_per_source(self.engine)
            except Exception:  # the database is busy or being created: next round
                continue
            with self.site.lock:
                ready = [n for n, v in enumerate(self.site.versions) if recorded.get(f"p{n:03d}", 0) == v - 1]
                for n in self.rng.sample(ready, min(self.per_round, len(ready))):
                    self.site.versions[n] += 1
                    self.made += 1


def run_chaos(kind: str, args: argparse.Namespace, say: Any) -> Result:
    result = Result(kind)
    started = time.monotonic()
    site, receiver = Site(args.pages), Receiver()
    with tempfile.TemporaryDirectory(prefix=f"chaos-{kind}-") as tmp, serve(site, receiver) as port:
        folder = Path(tmp)
        with database(kind, folder) as url:
            engine = open_engine(url)
            watchlist = folder / "watchlist.yaml"
            watchlist.write_text(watchlist_yaml(port, args.pages, args.interval))
            monitor = Monitor(folder, watchlist, url)
            try:
                pending_at = kill_and_restart(args, result, site, receiver, engine, monitor, say)
                statuses = alert_keys(engine)
            finally:
                monitor.stop_all()
                engine.dispose()
    received = receiver.snapshot()
    counts = Counter(key for key, _ in received)
    result.alerts = len(statuses)
    result.once = sum(1 for key in statuses if counts[key] == 1)
    result.twice = sum(1 for key in statuses if counts[key] == 2)
    result.more = sum(1 for key in statuses if counts[key] > 2)
    result.missing = sum(1 for key in statuses if counts[key] == 0)
    arrivals: dict[str, list[float]] = {}
    for key, at in received:
        arrivals.setdefault(key, []).append(at)
    for restart, pending, held in pending_at:
        for key in pending:
            after = [at for at in arrivals.get(key, []) if at >= restart]
            if after:
                result.delays.append(after[0] - restart)
                if key in held:
                    result.held_delays.append(after[0] - restart)
    result.worst_delay = max(result.delays, default=0.0)
    result.elapsed = time.monotonic() - started
    return result


def kill_and_restart(
    args: argparse.Namespace,
    result: Result,
    site: Site,
    receiver: Receiver,
    engine: Engine,
    monitor: Monitor,
    say: Any,
) -> list[tuple[float, set[str], set[str]]]:
    """The kills; returns each restart's time, the alerts pending when it restarted and those
    the killed run held (claimed, not sent)."""
    rng = random.Random(args.seed)
    proc = monitor.start()
    baselines = wait_for(lambda: _checked(engine) >= args.pages, 180)
    say(f"  {result.db}: {args.pages} baselines in {baselines:.0f} s; now {args.kills} kills")
    driver = Driver(site, engine, rng, args.per_round)
    driver.start()
    pending_at: list[tuple[float, set[str], set[str]]] = []
    before: Counter[str] = Counter()
    for n in range(args.kills):
        wait_for(partial(_registered, engine, proc.pid), 60)  # a start takes seconds on a busy host
        time.sleep(rng.uniform(args.min_run, args.max_run))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        result.kills += 1
        time.sleep(0.2)  # the receiver finishes what it was given
        statuses = alert_keys(engine)
        got = Counter(key for key, _ in receiver.snapshot())
        # received from this run, and the database does not say sent: the kill cut that send short
        cut = {key for key in got if got[key] > before[key] and statuses.get(key, "sent") != "sent"}
        result.kills_mid_send += 1 if cut else 0
        result.sends_cut += len(cut)
        before = got
        held = {key for key, status in statuses.items() if status == "sending" and key not in cut}
        pending = {key for key, status in statuses.items() if status != "sent" and key not in got}
        proc = monitor.start()
        pending_at.append((time.monotonic(), pending, held))
        if (n + 1) % 5 == 0:
            say(f"    {n + 1} kills, {driver.made} changes made, {len(statuses)} alerts so far")
    driver.stop.set()
    driver.join()
    result.changes_made = driver.made

    def settled() -> bool:
        recorded = sum(changes_per_source(engine).values())
        return recorded >= driver.made and all(s == "sent" for s in alert_keys(engine).values())

    wait_for(settled, args.settle)
    time.sleep(1.0)  # a late duplicate would come now
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    result.changes_recorded = sum(changes_per_source(engine).values())
    return pending_at


def _registered(engine: Engine, pid: int) -> bool:
    try:
        with engine.connect() as c:
            return bool(c.execute(select(func.count()).where(m.Worker.pid == pid)).scalar())
    except Exception:
        return False


def _checked(engine: Engine) -> int:
    try:
        with engine.connect() as c:
            return int(c.execute(select(func.count(func.distinct(m.Check.source_id)))).scalar() or 0)
    except Exception:
        return 0


def wait_for(condition: Any, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            break
        time.sleep(0.25)
    return time.monotonic() - started


# -- report -------------------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    rows: list[tuple[str, Callable[[Result], str]]] = [
        ("kills (SIGKILL, then restart at once)", lambda r: f"{r.kills}"),
        ("changes made / recorded", lambda r: f"{r.changes_made} / {r.changes_recorded}"),
        ("alerts (one per change)", lambda r: f"{r.alerts}"),
        ("delivered once", lambda r: f"{r.once}"),
        ("delivered twice (or more)", lambda r: f"{r.twice} ({r.more})"),
        ("missing", lambda r: f"{r.missing}"),
        ("kills that landed mid-send (sends cut)", lambda r: f"{r.kills_mid_send} ({r.sends_cut})"),
        ("alerts pending at a restart", lambda r: f"{len(r.delays)}"),
        ("  of which the killed run had claimed", lambda r: f"{len(r.held_delays)}"),
        ("worst delay after restart", lambda r: f"{r.worst_delay:.1f} s"),
        ("  of an alert the killed run had claimed", lambda r: f"{max(r.held_delays, default=0):.1f} s"),
        ("median delay after restart", lambda r: f"{_median(r.delays):.1f} s"),
        ("run time", lambda r: f"{r.elapsed:.0f} s"),
        ("targets met", lambda r: "yes" if r.ok() else "NO"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{'':<{width}}  " + "  ".join(f"{r.db:>12}" for r in results)]
    for name, cell in rows:
        lines.append(f"{name:<{width}}  " + "  ".join(f"{cell(r):>12}" for r in results))
    return "\n".join(lines)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--interval", default="5s", help="the sources' check interval")
    parser.add_argument("--per-round", type=int, default=1, help="pages changed every half second")
    parser.add_argument(
        "--min-run", type=float, default=0.5, help="seconds a run works before its kill, at least"
    )
    parser.add_argument("--max-run", type=float, default=8.0, help="and at most")
    parser.add_argument("--settle", type=float, default=120.0, help="seconds the last run may take")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--no-fail", action="store_true", help="never exit 1")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stopped: its runs are stopped too

    def say(line: str) -> None:
        print(line, flush=True)

    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    for kind in kinds:
        say(f"{kind}: {args.pages} pages changing, `run` killed {args.kills} times")
        results.append(run_chaos(kind, args, say))
    say("")
    say(table(results))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))
    failed = [r.db for r in results if not r.ok()]
    if failed:
        say(f"targets missed on {', '.join(failed)}")
    return 1 if failed and not args.no_fail else 0


if __name__ == "__main__":
    sys.exit(main())
