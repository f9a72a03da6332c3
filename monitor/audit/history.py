"""The timeline of a pledge or a source, and the attestation summary an auditor can quote.

Pure: the store streams check rows in, these functions fold them into runs (consecutive checks
of one source that saw the same thing) and sentences. A year of six-hourly checks is 1,460 rows
per source but only a handful of runs, which is what a person (and ``prune``) needs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from monitor import pledge_state
from monitor.events import CheckOutcome, EventKind, PledgeState

FAILED = CheckOutcome.FAILED


class CheckLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def source_id(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def outcome(self) -> CheckOutcome: ...
    @property
    def status(self) -> int | None: ...
    @property
    def snapshot_id(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def note(self) -> str | None: ...


class EventLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> EventKind: ...
    @property
    def severity(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def source_id(self) -> str | None: ...
    @property
    def change_id(self) -> int | None: ...
    @property
    def title(self) -> str: ...
    @property
    def details(self) -> dict[str, Any]: ...


class ChangeLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def source_id(self) -> str: ...
    @property
    def detected_at(self) -> datetime: ...
    @property
    def summary(self) -> str: ...


@dataclass(frozen=True)
class Run:
    """Consecutive checks of one source with the same outcome class and the same snapshot."""

    source_id: str
    kind: str  # "fetched" or "failed"
    snapshot_id: int | None  # the snapshot these checks saw again (None: not known in the window)
    first_id: int
    first_at: datetime
    last_id: int
    last_at: datetime
    count: int
    new_snapshot: bool  # the first check of the run stored a new snapshot
    error: str | None = None  # the first error of a failed run
    note: str | None = None  # the first note of the run's checks (a repaired page, say)


def outcome_class(outcome: CheckOutcome) -> str:
    return FAILED if outcome == FAILED else "fetched"


def runs(rows: Iterable[CheckLike]) -> Iterator[Run]:
    """Fold checks, ordered by source then time, into runs; streams (one run in memory)."""
    current: Run | None = None
    snapshot: int | None = None
    for row in rows:
        if current is None or row.source_id != current.source_id:
            snapshot = None
        kind = outcome_class(row.outcome)
        snapshot = row.snapshot_id or snapshot
        starts = (
            current is None
            or row.source_id != current.source_id
            or kind != current.kind
            or row.snapshot_id is not None
        )
        if starts:
            if current is not None:
                yield current
            error = row.error if kind == FAILED else None
            current = Run(
                row.source_id,
                kind,
                snapshot,
                row.id,
                row.at,
                row.id,
                row.at,
                1,
                row.snapshot_id is not None,
                error,
                row.note,
            )
        else:
            assert current is not None
            note = current.note or row.note
            current = replace(current, last_id=row.id, last_at=row.at, count=current.count + 1, note=note)
    if current is not None:
        yield current


# -- clause state over time -------------------------------------------------------------------

ClauseSpan = pledge_state.Span  # the pledge's state over time, as pledge_state folds it


def clip(spans: Sequence[ClauseSpan], since: datetime | None) -> list[ClauseSpan]:
    """Only what overlaps the window that starts at ``since``."""
    if since is None:
        return list(spans)
    kept = [s for s in spans if s.end is None or s.end > since]
    return [replace(s, start=since) if s.start is None or s.start < since else s for s in kept]


# -- the summary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attestation:
    """What the record shows: how often we looked, when, and what the clauses were meanwhile."""

    checks: int
    failed: int
    first_at: datetime | None
    last_at: datetime | None
    runs: int
    spans: tuple[ClauseSpan, ...] = ()
    clauses: int = 1

    def text(self) -> str:
        parts = [self._checked()]
        if self.checks and self.spans:
            parts.append(self._clause_story())
        return "; ".join(parts)

    def _checked(self) -> str:
        if not self.checks or self.first_at is None or self.last_at is None:
            return "not checked yet"
        if self.checks == 1:
            line = f"checked once, on {_day(self.first_at)}"
        else:
            line = f"checked {self.checks} times between {_day(self.first_at)} and {_day(self.last_at)}"
        return line + (f" ({self.failed} failed)" if self.failed else "")

    def _clause_story(self) -> str:
        noun = "clause" if self.clauses == 1 else "clauses"
        every = "every successful check" if self.failed else "every check"
        first, rest = self.spans[0], self.spans[1:]
        if first.state is PledgeState.UNKNOWN and not rest:
            return f"{noun} not assessed yet"
        when = _moments([s.start for s in rest if s.start is not None])
        line = f"{noun} {first.state} on {every}" + (f" until {when(first.end)}" if first.end else "")
        for span in rest:
            again = " again" if span.state is PledgeState.INTACT else ""
            event = _events(span.event_ids)
            since = f" from {when(span.start)}" if span.start else ""
            line += f"; {span.state}{again}{since}{event}"
        return line


def _moments(times: Sequence[datetime]) -> Callable[[datetime], str]:
    """Days, and the time of day where two transitions fell on the same day."""
    days = Counter(_day(t) for t in times)
    return lambda at: f"{at:%Y-%m-%d %H:%M} UTC" if days[_day(at)] > 1 else _day(at)


def _events(ids: tuple[int, ...]) -> str:
    if not ids:
        return ""
    return f" (event #{ids[0]})" if len(ids) == 1 else " (events " + ", ".join(f"#{i}" for i in ids) + ")"


def attest(all_runs: Iterable[Run], spans: Sequence[ClauseSpan] = (), clauses: int = 1) -> Attestation:
    checks = failed = count = 0
    first: datetime | None = None
    last: datetime | None = None
    for run in all_runs:
        count += 1
        checks += run.count
        failed += run.count if run.kind == FAILED else 0
        first = run.first_at if first is None else min(first, run.first_at)
        last = run.last_at if last is None else max(last, run.last_at)
    return Attestation(checks, failed, first, last, count, tuple(spans), clauses)


def _day(at: datetime) -> str:
    return f"{at:%Y-%m-%d}"


# -- the timeline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: a run of checks, a change or an event."""

    at: datetime
    kind: str  # "checks" | "change" | "event"
    source_id: str | None
    text: str
    ref: int | None = None  # the change or event id
    end: datetime | None = None  # the last check of a run
    severity: str | None = None
    run: Run | None = None
    change_id: int | None = None  # for an event: its change


def entry_link(entry: Entry, page: Callable[[str, int], str]) -> tuple[str | None, str]:
    """Where a timeline line links to, and its own anchor: the dashboard and the report differ
    only in how a change's or a snapshot's page is addressed (``page(kind, id)``)."""
    if entry.kind == "change" and entry.ref is not None:
        return page("change", entry.ref), f"change-{entry.ref}"
    if entry.kind == "event":
        anchor = f"event-{entry.ref}"
        return (f"{page('change', entry.change_id)}#{anchor}" if entry.change_id else None), anchor
    if entry.run is not None:
        snapshot = entry.run.snapshot_id
        return (page("snapshot", snapshot) if snapshot else None), f"check-{entry.run.first_id}"
    return None, ""


RANK = {"change": 0, "event": 1, "checks": 2}  # a change and its events, then the checks that follow


def timeline(
    all_runs: Iterable[Run],
    changes: Iterable[ChangeLike],
    events: Iterable[EventLike],
    archives: Mapping[int, str] | None = None,
) -> list[Entry]:
    """Runs, changes and events in time order (runs are few, so a list); a change with a saved
    public archive copy names it."""
    copies = archives or {}
    entries = [_run_entry(r) for r in all_runs]
    entries += [
        Entry(
            c.detected_at,
            "change",
            c.source_id,
            f"change #{c.id} {c.source_id}: {c.summary}"
            + (f" (archive copy: {copies[c.id]})" if c.id in copies else ""),
            c.id,
        )
        for c in changes
    ]
    entries += [
        Entry(
            e.created_at,
            "event",
            e.source_id,
            f"event  #{e.id} [{e.severity}] {e.kind}: {e.title}",
            e.id,
            severity=e.severity,
            change_id=e.change_id,
        )
        for e in events
    ]
    return sorted(entries, key=lambda e: (e.at, RANK[e.kind], e.ref or 0))


def describe_run(run: Run) -> str:
    """'policy: 12 checks, same text as snapshot #3' / 'policy: 3 checks failed (HTTP 503 ...)',
    with the checks' note where one was kept ('; note: ...'): an auditor sees the page was repaired."""
    described = _describe_checks(run)
    return f"{described}; note: {run.note}" if run.note else described


def _describe_checks(run: Run) -> str:
    n = "1 check" if run.count == 1 else f"{run.count} checks"
    if run.kind == FAILED:
        return f"{run.source_id}: {n} failed" + (f" ({run.error})" if run.error else "")
    if run.new_snapshot:
        rest = run.count - 1
        tail = f", then {rest} more with the same text" if rest else ""
        return f"{run.source_id}: new text stored as snapshot #{run.snapshot_id}{tail}"
    seen = f" as snapshot #{run.snapshot_id}" if run.snapshot_id else ""
    return f"{run.source_id}: {n}, same text{seen}"


def _run_entry(run: Run) -> Entry:
    return Entry(run.first_at, "checks", run.source_id, describe_run(run), end=run.last_at, run=run)


def format_entry(entry: Entry) -> str:
    start = f"{entry.at:%Y-%m-%d %H:%M}"
    span = f"{start} .. {entry.end:%Y-%m-%d %H:%M}" if entry.end and entry.end != entry.at else start
    return f"{span:<36}  {entry.text}"


# -- one scope, start to end ------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a history is about: one pledge (its sources), one source, or everything."""

    kind: str  # "pledge" | "source" | "all"
    id: str | None = None
    source_ids: tuple[str, ...] | None = None  # None: every source
    pledge: pledge_state.Clauses | None = None  # a pledge's clauses, to fold its state from
    clauses: int = 0

    @property
    def label(self) -> str:
        return f"{self.kind} {self.id}" if self.id else "all sources"


@dataclass(frozen=True)
class History:
    scope: Scope
    attestation: Attestation
    entries: list[Entry]
    changes: int


def build(
    scope: Scope,
    checks: Iterable[CheckLike],
    changes: Sequence[ChangeLike],
    events: Sequence[EventLike],
    since: datetime | None = None,
    archives: Mapping[int, str] | None = None,
) -> History:
    """The timeline and the summary of one scope. ``events`` may reach back before ``since``:
    a clause's state at the start of the window comes from them."""
    all_runs = list(runs(checks))
    spans: list[pledge_state.Span] = []
    if scope.kind == "pledge" and scope.pledge is not None:
        spans = clip(pledge_state.spans(events, scope.pledge), since)
    shown_events = [e for e in events if since is None or e.created_at >= since]
    shown_changes = [c for c in changes if since is None or c.detected_at >= since]
    attestation = attest(all_runs, spans, max(scope.clauses, 1))
    entries = timeline(all_runs, shown_changes, shown_events, archives)
    return History(scope, attestation, entries, len(shown_changes))


def summary(history: History) -> str:
    """The attestation, and for a source or everything, how often the text changed."""
    text = history.attestation.text()
    if history.scope.kind != "pledge" and history.attestation.checks:
        n = history.changes
        text += "; text changed " + ("once" if n == 1 else f"{n} times") if n else "; text never changed"
    return text
