"""``pledge-monitor run``: the daemon (or one pass of it with ``--once``)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import timedelta
from types import FrameType
from typing import Any

import click

from monitor import logs
from monitor.cli import App, pass_app
from monitor.lock import database_lock
from monitor.process import limit_malloc_arenas
from monitor.schedule import Daemon, Options
from monitor.store.db import database_secrets
from monitor.watchlist import parse_duration
from monitor.worker import default_worker_name


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()
log = logging.getLogger("monitor.run")


def _at_least_a_second(ctx: click.Context, param: click.Parameter, value: timedelta) -> timedelta:
    if value < timedelta(seconds=1):
        raise click.BadParameter("a lease of less than 1s could not be renewed in time", ctx, param)
    return value


@click.command()
@click.option("--once", is_flag=True, help="One pass (sweep, due checks, alerts), then exit: for cron.")
@click.option(
    "--log-format", type=click.Choice(logs.FORMATS), default="text", show_default=True, help="Log lines."
)
@click.option("--worker", help="This worker's name in the database  [default: host:pid]")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.05),
    default=5.0,
    show_default=True,
    help="Seconds between looks for due sources.",
)
@click.option("--concurrency", type=click.IntRange(min=1), help="Checks at once (overrides the watchlist's).")
@click.option(
    "--spread",
    type=DURATION,
    help="Spread sources overdue at start over this long (0s: check them at once)"
    "  [default: the shortest interval, at most 10m]",
)
@click.option(
    "--lease",
    type=DURATION,
    default="30s",
    show_default=True,
    callback=_at_least_a_second,
    help="Claims on sources and alerts: renewed every third of it while the worker lives;"
    " on PostgreSQL, a worker silent this long is gone and its claims are taken back.",
)
@pass_app
def run(
    app: App,
    once: bool,
    log_format: str,
    worker: str | None,
    poll: float,
    concurrency: int | None,
    spread: timedelta | None,
    lease: timedelta,
) -> None:
    """Check sources when due, deliver alerts, sweep deadlines daily; until SIGTERM.

    Edits of the watchlist are applied without a restart (an invalid edit is logged and ignored);
    SIGHUP re-reads it at once. SIGTERM or Ctrl-C: no new checks, the ones in flight are recorded,
    then exit 0. One process per SQLite database; several on one PostgreSQL database share the work.

    \b
    Examples:
      pledge-monitor run
      pledge-monitor run --log-format json --poll 10
      pledge-monitor --db postgresql+psycopg://pm@db/pledges run --worker worker-2
      pledge-monitor run --once      # from cron, instead of a daemon
    """
    limit_malloc_arenas()
    secrets = logs.setup(log_format, secrets=database_secrets(app.url))
    lock = database_lock(app.url)
    if lock is not None:
        lock.acquire()
    try:
        watchlist = app.watchlist
        secrets.update(logs.watchlist_secrets(watchlist, os.environ) | database_secrets(app.url))
        options = Options(
            worker=worker or default_worker_name(),
            poll=poll,
            lease=lease,
            spread=spread,
            concurrency=concurrency,
            reload_every=min(2.0, max(0.5, 2 * poll)),
            alone=lock is not None,  # SQLite: any other worker in the database is a dead process
        )
        daemon = Daemon(app.store, watchlist, options, secrets=secrets)
        if once:
            with Signals(daemon, threading.Event()):
                daemon.run_once()
        else:
            serve(daemon)
    finally:
        if lock is not None:
            lock.release()


def serve(daemon: Daemon) -> None:
    """Run the daemon until a signal stops it; the main thread only waits and reloads on SIGHUP."""
    wake = threading.Event()
    with Signals(daemon, wake) as flags:
        daemon.start()
        try:
            while not daemon.stop.is_set():
                wake.wait(1.0)
                wake.clear()
                if flags.pop("hup", None):
                    daemon.reload(force=True)
            log.info(
                "%s: stopping; no new checks, those in flight finish and are recorded",
                flags.get("stop", "stop requested"),
            )
        finally:
            daemon.shutdown()


class Signals:
    """SIGTERM/SIGINT stop the daemon; SIGHUP asks for a reload.

    A second stop signal a second or more after the first exits at once (claims and alerts in
    flight are taken back by the next worker to start, or after the lease). Sooner, it is the
    same request delivered twice: ``timeout`` and some supervisors signal the process and its
    group.
    """

    AGAIN_AFTER = 1.0

    def __init__(self, daemon: Daemon, wake: threading.Event) -> None:
        self.daemon, self.wake = daemon, wake
        self.flags: dict[str, str] = {}
        self.previous: dict[int, Any] = {}
        self.first_stop: float | None = None

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if signum == signal.SIGHUP:
            self.flags["hup"] = name
        elif self.first_stop is None:
            self.first_stop = time.monotonic()
            self.flags["stop"] = name
            self.daemon.stop.set()
        elif time.monotonic() - self.first_stop >= self.AGAIN_AFTER:
            again = f"{name} again: exiting now; the next start takes back the claims and alerts in flight"
            os.write(2, f"{again}\n".encode())
            os._exit(1)
        self.wake.set()

    def __enter__(self) -> dict[str, str]:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self.previous[sig] = signal.signal(sig, self.handle)
        return self.flags

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


COMMANDS: list[click.Command] = [run]
