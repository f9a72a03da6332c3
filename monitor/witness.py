"""The jobs that take evidence outside the machine, run once checks are recorded.

Trusted timestamps of the chain head (monitor/stamping.py) and, where configured, public archive
copies of changed pages. Each is best effort: a service that is down is tried again on a later
run, and its failure is reported, never raised, so it cannot stop or undo a check.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.store.repo import Store
    from monitor.watchlist import Watchlist

log = logging.getLogger("monitor.witness")


def witness_jobs(
    store: Store,
    watchlist: Watchlist,
    now: datetime,
    env: Mapping[str, str],
    *,
    worker: str = "pledge-monitor",
) -> list[str]:
    """Run what is due; one line per thing done or failed."""
    lines: list[str] = []
    if watchlist.timestamps is not None:
        from monitor.stamping import stamp_due  # cryptography loads only when there is work

        try:
            lines += [one.line() for one in stamp_due(store, watchlist, now)]
        except MonitorError as exc:
            log.error("timestamps: %s", exc)
            lines.append(f"timestamps: {exc}")
    if watchlist.archive is not None and watchlist.archive.enabled:
        from monitor.archiving import capture_due

        try:
            lines += [one.line() for one in capture_due(store, watchlist.archive, env, worker=worker)]
        except MonitorError as exc:  # the database went away: the captures wait for the next run
            log.error("archive copies: %s", exc)
            lines.append(f"archive copies: {exc}")
    return lines
