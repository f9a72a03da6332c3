"""One pass over many sources: checks run in threads, politely per host, recorded in batches."""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from queue import Empty, SimpleQueue
from urllib.parse import urlsplit

from monitor.check import crashed_check, run_check
from monitor.checking import CheckResult, SourceState
from monitor.events import CheckOutcome
from monitor.fetch import Fetcher
from monitor.store.recording import Recorded
from monitor.store.repo import Store
from monitor.watchlist import FeedSource, ListingSource, PledgeSpec, SourceSpec, Watchlist

Clock = Callable[[], datetime]

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class CycleSummary:
    """What a pass did, for the CLI's closing line and the logs."""

    checked: int = 0
    outcomes: Counter[CheckOutcome] = field(default_factory=Counter)
    events: int = 0
    changes: int = 0
    elapsed: float = 0.0
    records: list[Recorded] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (source id, why)

    def line(self) -> str:
        parts = ", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items()))
        return (
            f"checked {self.checked} source{'s' if self.checked != 1 else ''} in {self.elapsed:.1f}s"
            f" ({parts or 'nothing due'}); {self.changes} change{'s' if self.changes != 1 else ''},"
            f" {self.events} event{'s' if self.events != 1 else ''}"
        )


class HostGate:
    """At most ``limit`` checks at once per host, and ``delay`` between starts on one host."""

    def __init__(self, limit: int, delay: float, workers: int | None = None) -> None:
        self.limit, self.delay = max(1, limit), delay
        # with no more checks at once than the limit and no delay, the gate never holds one back
        self.open = delay <= 0 and workers is not None and workers <= self.limit
        self._lock = threading.Lock()
        self._sems: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}

    def enter(self, url: str) -> str:
        host = urlsplit(url).netloc.lower()
        if self.open:
            return host
        with self._lock:
            sem = self._sems.setdefault(host, threading.Semaphore(self.limit))
        sem.acquire()
        if self.delay > 0:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, 0.0))
                self._next_start[host] = start + self.delay
            if start > now:
                time.sleep(start - now)
        return host

    def leave(self, host: str) -> None:
        if not self.open:
            self._sems[host].release()


def next_check_time(source: SourceSpec, at: datetime, jitter: float, rng: random.Random) -> datetime:
    """Interval plus jitter, so sources added together do not stay in lockstep forever."""
    spread = 1.0 + rng.uniform(-jitter, jitter) if jitter > 0 else 1.0
    return at + timedelta(seconds=source.interval.total_seconds() * spread)


def resolve_sources(
    store: Store, watchlist: Watchlist, source_ids: Sequence[str]
) -> tuple[list[SourceSpec], dict[str, tuple[PledgeSpec, ...]]]:
    """The specs of the sources to check: from the watchlist, or derived from their feed for the
    pages of feed items; and for each, the pledges it concerns."""
    listed = {s.id: s for s in watchlist.sources}
    items = store.item_pages([sid for sid in source_ids if sid not in listed])
    pledges = {p.id: p for p in watchlist.pledges}
    carried: dict[str, list[PledgeSpec]] = {}  # one pass, not pledges_for() per source: O(S + P)
    for pledge in watchlist.pledges:
        for carrier in pledge.sources:
            carried.setdefault(carrier, []).append(pledge)
    specs: list[SourceSpec] = []
    pledges_of: dict[str, tuple[PledgeSpec, ...]] = {}
    for sid in source_ids:
        if sid in listed:
            specs.append(listed[sid])
            pledges_of[sid] = tuple(carried.get(sid, ()))
        elif sid in items and items[sid][0] in listed:
            feed_id, url, pledge_ids = items[sid]
            from monitor.statements import item_spec  # feeds' modules load only where there are feeds

            specs.append(item_spec(listed[feed_id], sid, url))
            pledges_of[sid] = tuple(pledges[p] for p in pledge_ids if p in pledges)
        else:
            watchlist.source(sid)  # raises NotFoundError, with a did-you-mean
    return specs, pledges_of


STATES_AT_ONCE = 500  # sources whose past is read from the store in one query
BATCH_BYTES = 2 * 2**20  # new bodies and texts held for one write: 100 large pages are not held at once


def _with_states(store: Store, specs: Sequence[SourceSpec]) -> Iterator[tuple[SourceSpec, SourceState]]:
    """Each source with what the store knows of it, read a block at a time: memory stays flat."""
    for start in range(0, len(specs), STATES_AT_ONCE):
        block = specs[start : start + STATES_AT_ONCE]
        states = store.states([spec.id for spec in block])
        for spec in block:
            yield spec, states.get(spec.id) or SourceState(source_id=spec.id)


def run_cycle(
    store: Store,
    watchlist: Watchlist,
    fetcher: Fetcher,
    source_ids: Sequence[str],
    *,
    clock: Clock = utcnow,
    on_result: Callable[[CheckResult], None] | None = None,
    batch_size: int = 100,
    batch_seconds: float = 0.5,
    rng: random.Random | None = None,
    stop: threading.Event | None = None,
) -> CycleSummary:
    """Check the given sources now; only this thread writes to the store."""
    started = time.perf_counter()
    rng = rng or random.Random()
    specs, pledges_of = resolve_sources(store, watchlist, source_ids)
    summary = CycleSummary()
    pending: list[tuple[CheckResult, datetime]] = []
    pending_bytes = 0
    last_flush = time.perf_counter()

    def check_one(spec: SourceSpec, state: SourceState) -> CheckResult:
        if isinstance(spec, FeedSource | ListingSource):
            from monitor.statements import run_feed_check

            return run_feed_check(spec, pledges_of[spec.id], state, fetcher, clock())
        pledges = pledges_of[spec.id]
        return run_check(spec, pledges, state, fetcher, store.load_text, clock(), store.load_blob)

    def task(spec: SourceSpec, state: SourceState) -> CheckResult | None:
        if stop is not None and stop.is_set():
            return None
        host = gate.enter(spec.url)
        try:
            if stop is not None and stop.is_set():
                return None
            return check_one(spec, state)
        except Exception as exc:  # a bug in one check must not stop the others: it is that check's failure
            log.exception("check of %s stopped on an unexpected error", spec.id)
            return crashed_check(spec, pledges_of[spec.id], state, clock(), exc)
        finally:
            gate.leave(host)

    def flush() -> None:
        nonlocal last_flush, pending_bytes
        if pending:
            recorded = store.record(pending, watchlist)
            summary.records.extend(recorded)
            summary.changes += sum(1 for r in recorded if r.change_id)
            summary.events += sum(len(r.event_ids) for r in recorded)
            pending.clear()
            pending_bytes = 0
        last_flush = time.perf_counter()

    by_id = {spec.id: spec for spec in specs}
    workers = max(1, min(watchlist.defaults.concurrency, len(specs)))
    gate = HostGate(watchlist.defaults.per_host, watchlist.defaults.per_host_delay.total_seconds(), workers)
    window = workers * 4  # checks in flight stay bounded: flat memory, and wait() stays cheap
    queue = _with_states(store, specs)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
        finished: SimpleQueue[Done] = SimpleQueue()
        order: dict[Done, int] = {}  # in flight, with its submission number
        submitted = 0
        while True:
            for spec, state in itertools.islice(queue, window - len(order)):
                future = pool.submit(task, spec, state)
                order[future] = submitted
                submitted += 1
                future.add_done_callback(finished.put)
            if not order:
                break
            # checks that finish together are recorded in the order they were started
            for future in sorted(_finished(finished, batch_seconds), key=order.pop):
                result = future.result()
                if result is None:
                    continue
                spec = by_id[result.source_id]
                pending.append((result, next_check_time(spec, result.at, watchlist.defaults.jitter, rng)))
                pending_bytes += _held_bytes(result)
                summary.checked += 1
                summary.outcomes[result.outcome] += 1
                if result.error is not None:
                    summary.failures.append((result.source_id, str(result.error)))
                if on_result is not None:
                    on_result(result)
            full = len(pending) >= batch_size or pending_bytes >= BATCH_BYTES
            if full or time.perf_counter() - last_flush >= batch_seconds:
                flush()
    flush()
    summary.elapsed = time.perf_counter() - started
    return summary


Done = Future[CheckResult | None]


def _finished(finished: SimpleQueue[Done], timeout: float) -> list[Done]:
    """The checks done by now, waiting up to ``timeout`` for the first: a queue the pool's
    threads fill, where ``wait()`` would install a waiter on every check in flight each time."""
    try:
        done = [finished.get(timeout=timeout)]
    except Empty:
        return []
    while True:
        try:
            done.append(finished.get_nowait())
        except Empty:
            return done


def _held_bytes(result: CheckResult) -> int:
    """What a result holds until it is written: new bodies and texts (its own, its items' pages)."""
    snapshots = [result.snapshot, *(item.page for item in result.items)]
    return sum(len(n.body) + len(n.text) + len(n.base_text or "") for n in snapshots if n is not None)
