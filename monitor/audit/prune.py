"""Retention: thin out old checks without weakening what the record attests.

A check is only a row saying "we looked, and saw the same as before" (or "we looked and it
failed"). Within a run of such checks, the first and the last carry the attestation ("the text
was snapshot #3 from March 1 to September 14"); the ones between add nothing an auditor needs
after a while. So prune keeps every snapshot, change and event, every check that a snapshot or
an event names, and the first and last check of each run, and deletes the rest of the checks
older than the cutoff. Checks are chained a batch at a time (each digest keeps every check's
hash), and prune chains a record of the ids it deleted, so the chain still verifies and an
auditor sees what was thinned out, when.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.audit.history import Run, runs
from monitor.store.audit_queries import AuditStore, RunSpan


@dataclass(frozen=True)
class Pruned:
    """What prune deleted (or, on a dry run, would delete)."""

    before: datetime
    deleted: dict[str, int]
    runs: int
    dry_run: bool

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        head = (
            f"{verb} {self.total} check{'s' if self.total != 1 else ''} older than "
            f"{self.before:%Y-%m-%d %H:%M} UTC; kept every snapshot, change and event, and the first "
            f"and last check of each of {self.runs} runs"
        )
        return [head] + [f"  {source}: {n}" for source, n in sorted(self.deleted.items())]


def thinnable(all_runs: Iterable[Run], before: datetime) -> Iterator[RunSpan]:
    """The runs with checks strictly between their ends, some of them older than ``before``."""
    for run in all_runs:
        if run.count > 2 and run.first_at < before:
            yield RunSpan(run.source_id, run.first_id, run.first_at, run.last_id, run.last_at)


def prune(audit: AuditStore, older_than: timedelta, now: datetime, *, dry_run: bool = False) -> Pruned:
    before = now - older_than
    all_runs = list(runs(audit.check_rows()))  # runs are few; the checks stream past
    deleted = audit.prune_checks(thinnable(all_runs, before), before, dry_run=dry_run, now=now)
    return Pruned(before, deleted, len(all_runs), dry_run)
