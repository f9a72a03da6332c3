"""The service's picture and health: status lines (pledges, sources, alerts) and health problems.

Used by ``status`` (and ``status --health``, the container HEALTHCHECK) and by the demo; plain
lines, no printing: the CLI prints them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.events import AlertStatus, ArchiveStatus, PledgeState, SourceHealth
from monitor.store import archives, outbox
from monitor.store.repo import FailingSource, Store

STATE_MARK = {
    PledgeState.INTACT: "ok",
    PledgeState.REWORDED: "REWORDED",
    PledgeState.WEAKENED: "WEAKENED",
    PledgeState.REMOVED: "REMOVED",
    PledgeState.EXPIRED: "EXPIRED",
    PledgeState.UNKNOWN: "not checked yet",
}


def _ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    seconds = int((now - at).total_seconds())
    if seconds < 0:
        return f"in {_span(-seconds)}"
    return f"{_span(seconds)} ago"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _health(state: SourceHealth, failures: int, checked: bool) -> str:
    """A source's health in a few words; failures short of failing_after show as a count."""
    if state is SourceHealth.NEW:
        return f"{failures} failed" if failures else ("checked" if checked else "not checked yet")
    return f"ok, {failures} failed" if failures and state is SourceHealth.OK else state


def _failing_line(failing: FailingSource, now: datetime) -> str:
    """Why a failing source fails, and when people were last told."""
    error = failing.last_error or "no error recorded"
    reported = f"reported {_ago(failing.reported_at, now)}" if failing.reported_at else "not reported yet"
    checks = f"{failing.failures} check{'s' if failing.failures != 1 else ''} in a row"
    return f"failing: {checks}, last error: {error}; {reported}"


def status_lines(store: Store, now: datetime) -> list[str]:
    """The whole picture in plain lines: pledges, sources, alerts."""
    lines = ["Pledges:"]
    pledges = [p for p in store.pledges() if p.active]
    sources = [s for s in store.sources() if s.active]
    width = max((len(i) for i in [*(p.id for p in pledges), *(s.id for s in sources)]), default=0)
    company = max((len(p.company) for p in pledges), default=0)
    for p in pledges:
        since = (
            f" since {p.state_since:%Y-%m-%d}" if p.state_since and p.state is not PledgeState.UNKNOWN else ""
        )
        expiry = p.spec.get("effective_expiry")
        deadline = f"; expires {expiry}" if expiry else ""
        mark = STATE_MARK.get(p.state, p.state)
        lines.append(f"  {p.id:<{width}}  {p.company:<{company}}  {mark}{since}{deadline}")
    if not pledges:
        lines.append("  (none)")
    lines.append("Sources:")
    failing = {f.source_id: f for f in store.failing_sources()}
    for src in sources:
        health = _health(src.health, src.failures, src.last_check_at is not None)
        moved = f"; moved to {src.moved_to}" if src.moved_to else ""
        lines.append(
            f"  {src.id:<{width}}  {health:<15} last good check {_ago(src.last_good_at, now)}; "
            f"next {_ago(src.next_check_at, now)}{moved}"
        )
        if src.id in failing:
            lines.append(f"  {'':<{width}}  {_failing_line(failing[src.id], now)}")
    counts = outbox.alert_counts(store.engine)
    lines.append("Alerts: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    lines.extend(
        f"  failed: alert #{failed.alert_id} to {failed.route} ({failed.kind}: {failed.title}) "
        f"after {failed.attempts} attempts: {failed.error or 'no error recorded'}"
        for failed in outbox.failed_alerts(store.engine, limit=10)
    )
    lines.extend(_archive_lines(store))
    return lines


def _archive_lines(store: Store) -> list[str]:
    """Archive copies, once there are any: those waiting or failed, and why the last failed."""
    counts = archives.counts(store.engine)
    if not any(counts.values()):
        return []
    saved, failed = counts[ArchiveStatus.SAVED], counts[ArchiveStatus.FAILED]
    waiting = counts[ArchiveStatus.PENDING] + counts[ArchiveStatus.SENDING]
    lines = [f"Archive copies: {saved} saved, {waiting} pending, {failed} failed"]
    lines.extend(
        f"  failed: change #{failed.change_id} ({failed.url}) after {failed.attempts} "
        f"submission{'s' if failed.attempts != 1 else ''}: "
        f"{failed.error or 'no error recorded'}"
        for failed in archives.failed(store.engine, limit=5)
    )
    return lines


def health_problems(store: Store, now: datetime, stale_after: timedelta) -> list[str]:
    """Why the service is unhealthy, if it is: a stale scheduler, failing or stuck alerts."""
    problems = []
    workers = store.workers()
    if not workers:
        problems.append("no scheduler has registered: is `pledge-monitor run` running?")
    elif max(w.heartbeat_at for w in workers) < now - stale_after:
        newest = max(w.heartbeat_at for w in workers)
        problems.append(f"scheduler is stale: last heartbeat {_ago(newest, now)}")
    counts = outbox.alert_counts(store.engine)
    if counts[AlertStatus.FAILED]:
        problems.append(f"{counts[AlertStatus.FAILED]} alert(s) failed for good: see `pledge-monitor status`")
    overdue = store.overdue_alerts(now - timedelta(hours=1))
    if overdue:
        problems.append(f"{overdue} alert(s) pending for over an hour")
    return problems
