"""The daemon's jobs: dispatch due checks, deliver alerts, the daily sweep; reload; heartbeat.

One APScheduler ``BackgroundScheduler`` per process with its in-memory job store: the schedule
itself lives in the database (``sources.next_check_at``), so a restart resumes where it stopped,
and several workers on one PostgreSQL database share it through claims (``store/claims.py``).
Every job runs at most one instance at a time and coalesces missed runs: a slow cycle delays the
next dispatch instead of stacking them up.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from monitor import logs
from monitor.alerts.deliver import DELIVER_BATCH, DeliverySummary, deliver_due
from monitor.checking import CheckResult
from monitor.cycle import CycleSummary, resolve_sources, run_cycle
from monitor.errors import MonitorError, NotFoundError, WatchlistError
from monitor.fetch import Fetcher
from monitor.store import claims
from monitor.store.repo import Store
from monitor.sweep import sweep_now
from monitor.watchlist import (
    Watchlist,
    missing_archive_vars,
    missing_env_vars,
    missing_header_vars,
    parse_watchlist,
)
from monitor.worker import DEFAULT_LEASE, WorkerLife, utcnow

log = logging.getLogger("monitor.run")

Clock = Callable[[], datetime]
SYNC_KEY = 7_460_002  # a PostgreSQL advisory lock: one worker at a time syncs the watchlist
MAX_SPREAD = timedelta(minutes=10)


@dataclass(frozen=True)
class Options:
    """How the daemon runs; the watchlist says what it watches."""

    worker: str
    poll: float = 5.0  # seconds between looks for due sources
    deliver_every: float = 15.0
    heartbeat_every: float = 30.0
    reload_every: float = 2.0
    sweep_every: timedelta = timedelta(days=1)
    witness_every: float = 60.0  # how often to look whether a timestamp or archive copy is due
    lease: timedelta = DEFAULT_LEASE  # claims on sources and alerts; renewed by the heartbeat
    alone: bool = False  # holds the SQLite database lock: every other worker is a dead process
    spread: timedelta | None = None  # None: min(shortest interval, 10 min)
    batch: int | None = None  # sources claimed at a time; None: 4 x concurrency
    concurrency: int | None = None  # overrides defaults.concurrency


class WatchlistWatcher:
    """Notices edits of the watchlist file: cheap stat first, then a content hash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stat = self._stat_now()
        self._digest = self._read_digest()

    def _stat_now(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _read_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None

    def forget(self) -> None:
        """Make the next poll return the file's text even if it did not change."""
        self._stat, self._digest = None, None

    def poll(self, *, force: bool = False) -> bytes | None:
        """The file's new bytes when it changed since the last poll; None otherwise.

        Raises OSError when the file cannot be read (once per change of its state).
        """
        stat = self._stat_now()
        if stat == self._stat and not force:
            return None
        self._stat = stat
        data = self.path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._digest:
            return None
        self._digest = digest
        return data


class Daemon:
    """The jobs of one worker process over one store; ``start``/``shutdown``, or ``run_once``."""

    def __init__(
        self,
        store: Store,
        watchlist: Watchlist,
        options: Options,
        *,
        env: Mapping[str, str] | None = None,
        secrets: logs.SecretFilter | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.store, self.options, self.clock = store, options, clock
        self.env = os.environ if env is None else env
        self.secrets = secrets
        self.watchlist = self._effective(watchlist)
        self.stop = threading.Event()
        self.watcher = WatchlistWatcher(watchlist.path)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=6)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._fetcher: Fetcher | None = None
        self._fetcher_key: tuple[str, int, int, int] | None = None
        self._foreign: set[str] = set()
        self._deliver_again = threading.Event()
        self._reload_lock = threading.Lock()
        self.life = WorkerLife(store, options.worker, lease=options.lease, alone=options.alone, clock=clock)

    @property
    def name(self) -> str:
        return self.options.worker

    # -- life --------------------------------------------------------------------------------

    def start(self) -> None:
        """Register, sync the watchlist, spread what is overdue, and start the jobs."""
        now = self.clock()
        self.life.start()
        self._sync(self.watchlist, now)
        self.resume(now)
        o, first = self.options, datetime.now(UTC)
        jobs: list[tuple[str, Callable[[], object], float, datetime | None]] = [
            ("dispatch", self.dispatch, o.poll, first),
            ("deliver", self.deliver, o.deliver_every, first),
            ("sweep", self.sweep, o.sweep_every.total_seconds(), first),
            ("witness", self.witness, o.witness_every, first),
            ("heartbeat", self.heartbeat, self.heartbeat_every, None),
            ("reload", self.reload, o.reload_every, None),
        ]
        for job_id, func, seconds, next_run in jobs:
            kwargs: dict[str, Any] = {} if next_run is None else {"next_run_time": next_run}
            self.scheduler.add_job(
                _guarded(job_id, func), "interval", seconds=seconds, id=job_id, name=job_id, **kwargs
            )
        self.scheduler.start()
        self._warn_missing_env(self.watchlist)
        log.info(
            "worker %s started: %d sources, %d pledges, %d routes; polling every %gs",
            self.name,
            len(self.watchlist.sources),
            len(self.watchlist.pledges),
            len(self.watchlist.routes),
            o.poll,
            extra={"worker": self.name},
        )

    def shutdown(self) -> None:
        """Stop taking checks, let running jobs finish and record, give back claims, unregister."""
        self.stop.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self._fetcher is not None:
            self._fetcher.close()
        try:
            self.life.stop()
        except Exception as exc:  # the database went away: leases and heartbeats run out by themselves
            log.error("worker %s stopped without tidying up: %s", self.name, exc, extra={"worker": self.name})
            return
        log.info("worker %s stopped", self.name, extra={"worker": self.name})

    def run_once(self) -> None:
        """One pass of everything, for cron and tests: sync, sweep, check what is due, deliver."""
        with self.life.running():
            self._sync(self.watchlist, self.clock())
            self.sweep()
            self.dispatch(once=True)
            self.deliver()
            self.witness()
        if self._fetcher is not None:
            self._fetcher.close()

    @property
    def heartbeat_every(self) -> float:
        """Often enough to renew a lease well before it runs out."""
        return min(self.options.heartbeat_every, self.life.beat_every)

    # -- jobs --------------------------------------------------------------------------------

    def dispatch(self, *, once: bool = False) -> None:
        """Claim due sources and check them, batch after batch, until none is due or we stop."""
        seen: set[str] = set()
        while not self.stop.is_set():
            watchlist = self.watchlist
            ids = claims.claim_due(
                self.store.engine,
                now=self.clock(),
                worker=self.name,
                lease=self.options.lease,
                limit=self.batch_size(watchlist),
                exclude=self._foreign | seen,
            )
            if not ids:
                return
            try:
                ours, foreign = self._checkable(watchlist, ids)
                self._note_foreign(foreign)
                if ours:
                    self._cycle(watchlist, ours)
            finally:
                claims.release(self.store.engine, ids, worker=self.name)
            if once:
                seen.update(ids)

    def deliver(self) -> None:
        """Deliver due alerts; again at once when a dispatch raised events meanwhile."""
        while True:
            self._deliver_again.clear()
            summary = deliver_due(
                self.store,
                self.watchlist,
                now=self.clock(),
                worker=self.name,
                env=self.env,
                lease=self.options.lease,
                batch=DELIVER_BATCH,
            )
            _log_delivery(summary)
            full = summary.claimed >= DELIVER_BATCH
            if self.stop.is_set() or not (full or self._deliver_again.is_set()):
                return

    def sweep(self) -> None:
        """Deadlines and stale sources; one worker at a time so nothing is raised twice."""
        ids = sweep_now(self.store, self.watchlist, self.clock())
        if ids:
            self._log_events(ids)
            self.wake_delivery()

    def witness(self) -> None:
        """Timestamps and archive copies, when due; in their own job so they never hold up checks."""
        from monitor.witness import witness_jobs

        witness_jobs(self.store, self.watchlist, self.clock(), self.env, worker=self.name)

    def heartbeat(self) -> None:
        """Alive: leases renewed; what silent workers held is taken back and delivered."""
        if self.life.beat():
            self.wake_delivery()

    def reload(self, *, force: bool = False) -> bool:
        """Apply an edited watchlist; an invalid edit is logged and the running one kept."""
        with self._reload_lock:
            path = self.watcher.path
            try:
                text = self.watcher.poll(force=force)
            except OSError as exc:
                log.error("cannot read %s (%s); the previous watchlist keeps running", path, exc.strerror)
                return False
            if text is None:
                return False
            try:
                new = parse_watchlist(text, str(path))
            except WatchlistError as exc:
                _log_rejected(path, exc)
                return False
            try:
                self._apply(new)
            except Exception:
                self.watcher.forget()  # not applied: try again at the next poll
                raise
            return True

    def wake_delivery(self) -> None:
        """Deliver now rather than at the next tick (a running pass goes round once more)."""
        self._deliver_again.set()
        if self.scheduler.running:
            with suppress(JobLookupError):
                self.scheduler.modify_job("deliver", next_run_time=datetime.now(UTC))

    # -- helpers -----------------------------------------------------------------------------

    def batch_size(self, watchlist: Watchlist) -> int:
        return self.options.batch or max(10, 4 * watchlist.defaults.concurrency)

    def _effective(self, watchlist: Watchlist) -> Watchlist:
        if self.options.concurrency is None:
            return watchlist
        defaults = watchlist.defaults.model_copy(update={"concurrency": self.options.concurrency})
        return replace(watchlist, defaults=defaults)

    def _sync(self, watchlist: Watchlist, now: datetime) -> None:
        with claims.exclusive(self.store.engine, SYNC_KEY):
            self.store.sync(watchlist, now)

    def resume(self, now: datetime) -> int:
        """After a stop, spread overdue sources out, unless other workers kept the schedule."""
        others = claims.live_workers(self.store.engine, since=now - self.options.lease, besides=self.name)
        if others:
            log.info(
                "other workers beat within the lease (%s): the schedule is theirs too", ", ".join(others)
            )
            return 0
        window = self.options.spread
        if window is None:
            intervals = [s.interval for s in self.watchlist.sources]
            window = min([MAX_SPREAD, *intervals])
        count = claims.spread_overdue(self.store.engine, now=now, window=window)
        if count:
            log.info(
                "%d overdue sources spread over the next %s",
                count,
                _duration(window),
                extra={"overdue": count},
            )
        return count

    def _fetcher_for(self, watchlist: Watchlist) -> Fetcher:
        """One HTTP session, rebuilt when a reload changed what it was made with."""
        d = watchlist.defaults
        key = (d.user_agent, d.concurrency, d.max_body, d.browser_pages)
        if self._fetcher is None or key != self._fetcher_key:
            if self._fetcher is not None:
                self._fetcher.close()
            self._fetcher = Fetcher(
                user_agent=d.user_agent,
                pool_size=d.concurrency,
                max_body=d.max_body,
                sleep=self._pause,
                browser_pages=d.browser_pages,
            )
            self._fetcher_key = key
        return self._fetcher

    def _pause(self, seconds: float) -> None:
        """A retry's wait ends early when we stop: shutdown is not held up by backoff."""
        self.stop.wait(seconds)

    def _cycle(self, watchlist: Watchlist, ids: Sequence[str]) -> CycleSummary:
        def on_result(result: CheckResult) -> None:
            _log_check(watchlist, result)

        summary = run_cycle(
            self.store,
            watchlist,
            self._fetcher_for(watchlist),
            ids,
            clock=self.clock,
            on_result=on_result,
            stop=self.stop,
        )
        if summary.checked > 1:
            log.info(summary.line(), extra={"checked": summary.checked, "events": summary.events})
        events = [eid for record in summary.records for eid in record.event_ids]
        if events:
            self._log_events(events)
            self.wake_delivery()
        return summary

    def _log_events(self, ids: Sequence[int]) -> None:
        for event in self.store.events_by_ids(ids):
            log.info(
                "event #%d [%s] %s: %s",
                event.id,
                event.severity,
                event.kind,
                event.title,
                extra={
                    "event": event.id,
                    "kind": event.kind,
                    "severity": event.severity,
                    "source": event.source_id,
                    "pledge": event.pledge_id,
                },
            )

    def _checkable(self, watchlist: Watchlist, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """Split claimed ids into those this watchlist can check and those it does not know.

        Item pages of feeds are sources of the store, not of the watchlist: ``resolve_sources``
        knows them. A source known to neither comes from another worker's watchlist.
        """
        listed = {s.id for s in watchlist.sources}
        unlisted = [sid for sid in ids if sid not in listed]
        if not unlisted:
            return list(ids), []
        try:
            resolve_sources(self.store, watchlist, unlisted)
            return list(ids), []
        except NotFoundError:
            pass
        foreign = []
        for sid in unlisted:
            try:
                resolve_sources(self.store, watchlist, [sid])
            except NotFoundError:
                foreign.append(sid)
        return [sid for sid in ids if sid not in foreign], foreign

    def _warn_missing_env(self, watchlist: Watchlist) -> None:
        for route, var in missing_env_vars(watchlist, self.env):
            log.warning(
                "%s: routes.%s: ${%s} is not set in the environment; its alerts will fail",
                watchlist.path,
                route,
                var,
                extra={"route": route},
            )
        for source, header, var in missing_header_vars(watchlist, self.env):
            log.warning(
                "%s: source %s: header %s: ${%s} is not set in the environment; its checks will fail",
                watchlist.path,
                source,
                header,
                var,
                extra={"source": source},
            )
        for var in missing_archive_vars(watchlist, self.env):
            log.warning(
                "%s: archive: ${%s} is not set in the environment; no page is saved until it is",
                watchlist.path,
                var,
            )

    def _note_foreign(self, ids: Sequence[str]) -> None:
        for sid in ids:
            if sid not in self._foreign:
                self._foreign.add(sid)
                log.warning(
                    "source %s is due in the database but not in %s (another worker's watchlist?):"
                    " left to others",
                    sid,
                    self.watchlist.path,
                    extra={"source": sid},
                )

    def _apply(self, new: Watchlist) -> None:
        old = self.watchlist
        self._sync(new, self.clock())
        self.watchlist = self._effective(new)
        self._foreign.clear()
        self._warn_missing_env(new)
        if self.secrets is not None:
            self.secrets.update(logs.watchlist_secrets(new, self.env))
        log.info("%s reloaded: %s", new.path, describe_changes(old, new), extra={"sources": len(new.sources)})


def describe_changes(old: Watchlist, new: Watchlist) -> str:
    """``3 sources (+1: acme-blog; -0; ~1: ibm-letter), 2 pledges, 1 route``."""
    parts = []
    for noun, before, after in (
        ("sources", {s.id: s for s in old.sources}, {s.id: s for s in new.sources}),
        ("pledges", {p.id: p for p in old.pledges}, {p.id: p for p in new.pledges}),
        ("routes", {r.name: r for r in old.routes}, {r.name: r for r in new.routes}),
    ):
        added = sorted(after.keys() - before.keys())
        removed = sorted(before.keys() - after.keys())
        changed = sorted(k for k in after.keys() & before.keys() if after[k] != before[k])
        detail = "; ".join(
            f"{sign}{len(ids)}{': ' + ', '.join(ids) if ids else ''}"
            for sign, ids in (("+", added), ("-", removed), ("~", changed))
            if ids
        )
        parts.append(f"{len(after)} {noun}" + (f" ({detail})" if detail else ""))
    return ", ".join(parts)


def _guarded(job: str, func: Callable[[], object]) -> Callable[[], None]:
    """A job that fails logs why and runs again at its next time; the daemon goes on."""

    def run() -> None:
        try:
            func()
        except MonitorError as exc:
            log.error("%s failed: %s", job, exc, extra={"job": job})
        except Exception:
            log.exception("%s failed", job, extra={"job": job})

    return run


def _log_check(watchlist: Watchlist, result: CheckResult) -> None:
    status = f"HTTP {result.status}, " if result.status else ""
    error = f": {result.error}" if result.error else ""
    log.log(
        logging.WARNING if result.error else logging.INFO,
        f"check {result.source_id}: {result.outcome} ({status}{result.ms} ms){error}",
        extra={
            "source": result.source_id,
            "pledges": [p.id for p in watchlist.pledges_for(result.source_id)],
            "outcome": result.outcome,
            "status": result.status,
            "ms": result.ms,
            "error": str(result.error) if result.error else None,
        },
    )


def _log_delivery(summary: DeliverySummary) -> None:
    if not summary.claimed:
        return
    log.log(
        logging.WARNING if summary.failed or summary.retrying else logging.INFO,
        summary.line(),
        extra={
            "sent": summary.sent,
            "retrying": summary.retrying,
            "failed": summary.failed,
            "held": summary.held,
        },
    )


def _log_rejected(path: Path, exc: WatchlistError) -> None:
    count = len(exc.issues)
    log.error(
        "%s: edit rejected (%d problem%s); the previous watchlist keeps running",
        path,
        count,
        "" if count == 1 else "s",
        extra={"file": str(path)},
    )
    for issue in exc.issues:
        log.error("%s", issue, extra={"file": issue.file, "line": issue.line, "key": issue.key})


def _duration(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:g}s"
    return f"{seconds / 60:g} min" if seconds < 7200 else f"{seconds / 3600:g} h"
