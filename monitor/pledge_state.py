"""A pledge's state, computed in one place: ``status``, ``export``, the report and the history's
attestation all read it from here, so they agree at every moment.

The state is a fold of the pledge's recorded events over its clauses' starting states: a pledge is
as bad as its worst clause on any source that carries it (each of those transitions was alerted,
so the state never says less than the alerts did), and a pledge whose deadline passed without a
renewal, its clauses intact, is ``expired``. Pure: the store hands in rows, this says what they mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from monitor.clauses import clause_key
from monitor.events import ClauseState, EventKind

ORDER = ("intact", "reworded", "weakened", "removed")  # from best to worst
# ClauseRecord.state -> the pledge's word for it
OF_CLAUSE: dict[str, str] = {  # also read from events' details, where a state is plain text
    ClauseState.EXACT: "intact",
    ClauseState.REWORDED: "reworded",
    ClauseState.WEAKENED: "weakened",
    ClauseState.NOT_FOUND: "removed",
}
# a clause event -> the clause's state from then on
AFTER = {
    EventKind.PLEDGE_REWORDED: "reworded",
    EventKind.PLEDGE_WEAKENED: "weakened",
    EventKind.PLEDGE_REMOVED: "removed",
    EventKind.PLEDGE_RESTORED: "intact",
}
EXPIRED = EventKind.PLEDGE_EXPIRED

Key = tuple[str, str]  # (source id, clause key)


class EventLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> EventKind: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def source_id(self) -> str | None: ...
    @property
    def details(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Span:
    """A stretch of time over which the pledge stayed in one state."""

    state: str  # intact|reworded|weakened|removed|expired|unknown
    start: datetime | None  # None: from the first check
    end: datetime | None  # None: still so
    event_ids: tuple[int, ...] = ()  # the events that began it


@dataclass(frozen=True)
class Clauses:
    """What the store knows of a pledge's clauses: which (source, clause) pairs it watches now,
    and the state each was last recorded in."""

    watched: frozenset[Key]
    recorded: Mapping[Key, ClauseState]  # ClauseRecord.state per (source id, clause key)
    expiry: str | None = None  # the effective expiry (ISO date) as the watchlist says now


def combine(states: Iterable[str]) -> str:
    """The worst of the clause states; ``unknown`` while none was assessed."""
    known = [s for s in states if s in ORDER]
    return max(known, key=ORDER.index) if known else "unknown"


def event_key(event: EventLike) -> Key | None:
    clause = event.details.get("clause")
    if not isinstance(clause, str) or event.source_id is None:
        return None
    return (event.source_id, clause_key(clause))


def effective_time(event: EventLike) -> datetime:
    """When the page first showed what the event reports: a removal is confirmed later than seen."""
    first_missed = event.details.get("first_missed") if event.kind == EventKind.PLEDGE_REMOVED else None
    if isinstance(first_missed, str):
        try:
            return datetime.fromisoformat(first_missed)
        except ValueError:
            pass
    return event.created_at


def spans(events: Sequence[EventLike], clauses: Clauses) -> list[Span]:
    """The pledge's state over time, from its clause events (and its expiry) in time order."""
    relevant = sorted((e for e in events if _counts(e, clauses)), key=lambda e: (effective_time(e), e.id))
    current = _starting_states(relevant, clauses)
    expired = False
    result = [Span(_state(current, expired), None, None)]
    for event in relevant:
        if event.kind == EXPIRED:
            expired = True
        else:
            key = event_key(event)
            assert key is not None
            current[key] = AFTER[event.kind]
        state, at, last = _state(current, expired), effective_time(event), result[-1]
        if state == last.state:
            if last.start == at and last.event_ids:  # several clauses at once
                result[-1] = replace(last, event_ids=(*last.event_ids, event.id))
            continue
        if last.start == at and last.event_ids:  # same instant, a worse clause: one span
            result[-1] = replace(last, state=state, event_ids=(*last.event_ids, event.id))
            continue
        result[-1] = replace(last, end=at)
        result.append(Span(state, at, None, (event.id,)))
    return result


def current(events: Sequence[EventLike], clauses: Clauses) -> Span:
    """The state now, and since when (None: since the first check)."""
    return spans(events, clauses)[-1]


def _counts(event: EventLike, clauses: Clauses) -> bool:
    if event.kind == EXPIRED:
        return clauses.expiry is not None and event.details.get("expires_on") == clauses.expiry
    return event.kind in AFTER and event_key(event) in clauses.watched


def _starting_states(events: Sequence[EventLike], clauses: Clauses) -> dict[Key, str]:
    """Each watched clause before its first event: what that event says it was, else (no event
    yet) what the store recorded."""
    start = {k: OF_CLAUSE.get(s, "unknown") for k, s in clauses.recorded.items() if k in clauses.watched}
    seen: set[Key] = set()
    for event in events:
        key = event_key(event)
        if key is None or key in seen:
            continue
        seen.add(key)
        start[key] = OF_CLAUSE.get(str(event.details.get("previous_state")), "intact")
    return start


def _state(current: Mapping[Key, str], expired: bool) -> str:
    state = combine(current.values())
    return "expired" if expired and state in ("intact", "unknown") else state
