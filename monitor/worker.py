"""One process's life as a worker in the database: registered, beating, tidy when it goes.

Whatever claims work (``run``, ``check``, ``alerts retry``) is a worker. Claims on sources and on
alerts are short leases that the worker renews with each heartbeat, every third of the lease.
When a worker starts, and with each heartbeat, it gives back at once what workers proven gone
still hold, and removes their rows:

- on SQLite, a worker holds the database lock (``monitor.lock``), which the kernel drops when a
  process dies: every other worker is gone, whatever its row says;
- on PostgreSQL, a worker that missed its heartbeats for a whole lease is gone, and so is an
  earlier worker of the same name (``--worker NAME``, or host:pid in a restarted container).

So a restart after ``kill -9`` delivers the alerts the dead process had claimed at once on
SQLite, and within a lease on PostgreSQL, instead of waiting for long leases to run out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.lock import database_lock
from monitor.store import claims, outbox
from monitor.store.models import Archive
from monitor.store.repo import Store

log = logging.getLogger("monitor.run")

Clock = Callable[[], datetime]
DEFAULT_LEASE = timedelta(seconds=30)
MAX_BEAT = 30.0  # seconds: status --health reads the heartbeat too


def utcnow() -> datetime:
    return datetime.now(UTC)


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Reaped:
    """What was taken back from workers proven gone."""

    workers: tuple[str, ...] = ()
    sources: int = 0
    alerts: int = 0

    def __bool__(self) -> bool:
        return bool(self.workers or self.sources or self.alerts)


class WorkerLife:
    """Register, beat (heartbeat, renew leases, reap the gone), and leave; for one worker name.

    ``alone`` says this process holds the SQLite database lock: no other worker can be alive.
    """

    def __init__(
        self, store: Store, name: str, *, lease: timedelta, alone: bool = False, clock: Clock = utcnow
    ) -> None:
        self.engine = store.engine
        self.name, self.lease, self.alone, self.clock = name, lease, alone, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def beat_every(self) -> float:
        """A third of the lease: two beats may be missed before a claim runs out."""
        return max(0.2, min(MAX_BEAT, self.lease.total_seconds() / 3))

    def start(self) -> Reaped:
        """Take back what gone workers hold (an earlier worker of this name is gone), register."""
        now = self.clock()
        reaped = self._reap(now, starting=True)
        claims.register_worker(
            self.engine, name=self.name, now=now, pid=os.getpid(), host=socket.gethostname()
        )
        return reaped

    def beat(self) -> Reaped:
        """Say we are alive, renew our leases, and take back what silent workers hold."""
        now = self.clock()
        if not claims.heartbeat(self.engine, name=self.name, now=now):
            log.warning(
                "worker %s missed its heartbeats for longer than its lease (%s): others may have taken"
                " its work; registering again",
                self.name,
                self.lease,
                extra={"worker": self.name},
            )
            claims.register_worker(
                self.engine, name=self.name, now=now, pid=os.getpid(), host=socket.gethostname()
            )
        until = now + self.lease
        claims.renew(self.engine, worker=self.name, until=until)
        outbox.renew(self.engine, worker=self.name, until=until)
        return self._reap(now, starting=False)

    def stop(self) -> None:
        """Give back whatever we still hold and leave the workers table."""
        self.stop_beating()
        claims.release_all(self.engine, worker=self.name)
        outbox.release_claims(self.engine, of=[self.name])
        outbox.release_claims(self.engine, of=[self.name], table=Archive)
        claims.unregister_worker(self.engine, self.name)

    # -- a beating thread, for commands that run without the daemon's scheduler ---------------

    def start_beating(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat_loop, name="heartbeat", daemon=True)
        self._thread.start()

    def stop_beating(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _beat_loop(self) -> None:
        while not self._stop.wait(self.beat_every):
            try:
                self.beat()
            except Exception as exc:  # the database is away: try again at the next beat
                log.error("worker %s: heartbeat failed: %s", self.name, exc, extra={"worker": self.name})

    # -- reaping ------------------------------------------------------------------------------

    def _reap(self, now: datetime, *, starting: bool) -> Reaped:
        names: list[str] | None
        if self.alone:  # SQLite: we hold the lock, every other worker is a dead process
            if not starting:
                return Reaped()
            gone, names = claims.workers(self.engine), None
        else:  # PostgreSQL: silent for a lease, or an earlier worker of our name
            gone = claims.silent_workers(self.engine, before=now - self.lease, besides=self.name)
            if starting:
                gone += [w for w in claims.workers(self.engine) if w.name == self.name]
            names = [w.name for w in gone] + ([self.name] if starting else [])
        sources = claims.release_sources(self.engine, of=names)
        alerts = outbox.release_claims(self.engine, of=names)
        outbox.release_claims(self.engine, of=names, table=Archive)  # archive copies they were saving
        claims.remove_workers(self.engine, of=None if names is None else [w.name for w in gone])
        reaped = Reaped(tuple(f"{w.name} (pid {w.pid} on {w.host})" for w in gone), sources, alerts)
        if reaped:
            log.info(
                "workers gone%s: %d source%s and %d alert%s they held are free again",
                f" ({', '.join(reaped.workers)})" if reaped.workers else "",
                sources,
                "" if sources == 1 else "s",
                alerts,
                "" if alerts == 1 else "s",
                extra={"worker": self.name, "sources": sources, "alerts": alerts},
            )
        return reaped

    @contextmanager
    def running(self) -> Iterator[Reaped]:
        """Registered and beating for the block; tidy afterwards, however the block ends."""
        reaped = self.start()
        self.start_beating()
        try:
            yield reaped
        finally:
            self.stop()


@contextmanager
def working(store: Store, url: str, name: str, *, lease: timedelta) -> Iterator[str]:
    """Do a command's work as a registered worker (its name is yielded); on SQLite while holding
    the database lock, so never beside a running daemon: LockError (naming it) if one holds it."""
    lock = database_lock(url)
    if lock is not None:
        lock.acquire()
    try:
        life = WorkerLife(store, name, lease=lease, alone=lock is not None)
        with life.running():
            yield life.name
    finally:
        if lock is not None:
            lock.release()
