"""Alerts delivered: the outbox's due alerts claimed, sent outside any transaction, each result recorded.

Routing is in ``monitor.routes`` and the outbox rows in ``monitor.store.outbox``. Sending happens
outside any transaction; each result is recorded right after, so a crash loses at most the alert
in flight, and that one is sent again (at-least-once). Failed sends are retried with backoff.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import TYPE_CHECKING, TextIO

from monitor.events import ActionTarget
from monitor.store import outbox
from monitor.store.actions import active_mutes
from monitor.store.repo import Store
from monitor.watchlist import RouteSpec, Watchlist

if TYPE_CHECKING:  # rendering (jinja2) and sending (apprise) load only when an alert is due
    from monitor.alerts.render import Message
    from monitor.alerts.send import TargetResult

log = logging.getLogger("monitor.alerts")  # the name log collectors filter on (README)

MAX_ATTEMPTS = 8
DELIVER_BATCH = 100  # alerts claimed by one pass of deliver_all
LEASE = timedelta(seconds=30)  # renewed by the worker's heartbeat while it sends (monitor.worker)
DIGEST_AT = clock(8, 0)  # UTC
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)


@dataclass
class DeliverySummary:
    """What one delivery pass did, counted in alerts (a digest message carries several)."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    muted: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliverySummary) -> None:
        """Count another pass in."""
        self.claimed += other.claimed
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.held += other.held
        self.muted += other.muted
        self.messages += other.messages
        self.errors += other.errors

    def line(self) -> str:
        parts = [f"{self.sent} sent", f"{self.retrying} to retry", f"{self.failed} failed"]
        if self.held:
            parts.append(f"{self.held} held for a digest")
        if self.muted:
            parts.append(f"{self.muted} muted (kept, not sent)")
        return "alerts: " + ", ".join(parts)


def deliver_all(
    store: Store,
    watchlist: Watchlist,
    *,
    clock: Callable[[], datetime],
    worker: str,
    env: Mapping[str, str] | None = None,
    lease: timedelta = LEASE,
) -> DeliverySummary:
    """Delivery passes until one finds less than a full batch: every alert due now, once."""
    total = DeliverySummary()
    while True:
        summary = deliver_due(
            store, watchlist, now=clock(), worker=worker, env=env, lease=lease, batch=DELIVER_BATCH
        )
        total.add(summary)
        if summary.claimed < DELIVER_BATCH:
            return total


def deliver_due(
    store: Store,
    watchlist: Watchlist,
    *,
    now: datetime,
    worker: str = "pledge-monitor",
    env: Mapping[str, str] | None = None,
    batch: int = 100,
    max_attempts: int = MAX_ATTEMPTS,
    lease: timedelta = LEASE,
    digest_at: clock = DIGEST_AT,
    stream: TextIO | None = None,
    rng: random.Random | None = None,
) -> DeliverySummary:
    """One delivery pass: claim due alerts, send them outside any transaction, record each result.

    A route with ``digest: daily`` gets one message a day at
    ``digest_at`` (UTC) listing its events; its alerts wait as pending until then. The claims
    last ``lease``: a pass longer than that needs the worker's heartbeat (``monitor.worker``).
    """
    run = _Run(
        store=store,
        routes={r.name: r for r in watchlist.routes},
        now=now,
        worker=worker,
        env=os.environ if env is None else env,
        max_attempts=max_attempts,
        digest_at=digest_at,
        stream=stream,
        rng=rng or random.Random(),
    )
    mutes = active_mutes(run.store.engine, now)
    run.summary.muted = outbox.hold_muted(
        run.store.engine,
        sources={mute.target for mute in mutes if mute.target_kind == ActionTarget.SOURCE},
        routes={mute.target for mute in mutes if mute.target_kind == ActionTarget.ROUTE},
    )
    items = outbox.claim_due(run.store.engine, now=now, worker=worker, lease=lease, batch=batch)
    run.summary.claimed = len(items)
    for route, group in run.groups(items):
        run.deliver(route, group)
    return run.summary


@dataclass
class _Run:
    store: Store
    routes: dict[str, RouteSpec]
    now: datetime
    worker: str
    env: Mapping[str, str]
    max_attempts: int
    digest_at: clock
    stream: TextIO | None
    rng: random.Random
    started: float = field(default_factory=time.monotonic)
    summary: DeliverySummary = field(default_factory=DeliverySummary)

    def at(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self.started)

    def groups(
        self, items: Sequence[outbox.OutboxItem]
    ) -> Iterator[tuple[RouteSpec, list[outbox.OutboxItem]]]:
        """Alerts that go out as one message: one each, or a route's due digest."""
        digests: dict[tuple[str, frozenset[int]], list[outbox.OutboxItem]] = {}
        for item in items:
            route = self.routes.get(item.route)
            if route is None:
                self.fail([item], f"route '{item.route}' is not in the watchlist any more")
            elif item.attempts > self.max_attempts:
                self.fail(
                    [item],
                    f"{item.attempts - 1} attempts, the last without a result (a crash while sending?)",
                )
            elif route.digest is None:
                yield route, [item]
            elif item.fresh and next_digest(item.due_at, self.digest_at) > self.now:
                self.hold(item, next_digest(item.due_at, self.digest_at))
            else:
                digests.setdefault((route.name, item.progress.done), []).append(item)
        for (name, _), group in digests.items():
            yield self.routes[name], group

    def deliver(self, route: RouteSpec, items: list[outbox.OutboxItem]) -> None:
        mine = outbox.begin(self.store.engine, [i.alert_id for i in items], worker=self.worker)
        items = [i for i in items if i.alert_id in mine]  # a claim taken for lost is not sent
        if not items:
            return
        from monitor.alerts.render import render_digest, render_event
        from monitor.alerts.send import send_to_route

        if route.digest is None:
            message = render_event(items[0].event, route.name, archive_url=items[0].archive_url)
        else:
            copies = {i.event.change_id: i.archive_url for i in items if i.event.change_id and i.archive_url}
            message = render_digest(route.name, [i.event for i in items], copies)
        done = items[0].progress.done
        results = send_to_route(route, message, env=self.env, skip=done, stream=self.stream)
        self.summary.messages += 1
        self.record(message, items, results)

    def record(self, message: Message, items: list[outbox.OutboxItem], results: list[TargetResult]) -> None:
        ids = [i.alert_id for i in items]
        fields = {"event": items[0].event.id, "route": items[0].route}
        failures = [r for r in results if not r.ok]
        if not failures:
            outbox.mark_sent(self.store.engine, ids, self.at())
            self.summary.sent += len(ids)
            log.info(
                "alert %s sent to %s",
                message.key,
                ", ".join(r.target for r in results),
                extra={**fields, "result": "sent"},
            )
            return
        progress = outbox.Progress(
            items[0].progress.done | {r.index for r in results if r.ok},
            "; ".join(r.error or r.target for r in failures),
        )
        attempts = max(i.attempts for i in items)
        if attempts >= self.max_attempts:
            outbox.mark_failed(self.store.engine, ids, worker=self.worker, progress=progress)
            self.summary.failed += len(ids)
            log.warning(
                "alert %s failed for good after %d attempts: %s",
                message.key,
                attempts,
                progress.error,
                extra={**fields, "result": "failed"},
            )
        else:
            next_at = self.at() + backoff(attempts, self.rng)
            outbox.mark_retry(self.store.engine, ids, worker=self.worker, next_at=next_at, progress=progress)
            self.summary.retrying += len(ids)
            log.warning(
                "alert %s not delivered (attempt %d): %s",
                message.key,
                attempts,
                progress.error,
                extra={**fields, "result": "retry"},
            )
        self.summary.errors.append(progress.error or "")

    def fail(self, items: list[outbox.OutboxItem], error: str) -> None:
        progress = outbox.Progress(items[0].progress.done, error)
        ids = [i.alert_id for i in items]
        outbox.mark_failed(self.store.engine, ids, worker=self.worker, progress=progress)
        self.summary.failed += len(items)
        self.summary.errors.append(error)

    def hold(self, item: outbox.OutboxItem, until: datetime) -> None:
        outbox.hold(self.store.engine, [item.alert_id], worker=self.worker, until=until)
        self.summary.held += 1


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """1 min after the first failure, doubling, at most 6 h; plus up to 10% jitter."""
    base = min(FIRST_RETRY * (1 << max(attempts - 1, 0)), MAX_RETRY)
    return base * (1 + (rng or random).uniform(0, 0.1))


def next_digest(after: datetime, at: clock = DIGEST_AT) -> datetime:
    """The first digest time (``at``, UTC) at or after ``after``."""
    after = after.astimezone(UTC)
    slot = after.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return slot if slot >= after else slot + timedelta(days=1)
