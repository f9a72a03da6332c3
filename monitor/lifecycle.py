"""State transitions of a source and of the clauses it carries, and the Events they raise.

Pure: given what was known before a check and what the check saw, say what is known now.
Two rules keep alerts credible: an event is raised on a transition, never on every check;
and a lapse (a clause gone, a page gone) is only reported once a later check agrees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.clauses import ClauseMatch, clause_key
from monitor.errors import ExtractError, FetchError
from monitor.events import ClauseState, EventKind, Severity, SourceHealth, default_severity
from monitor.fetch import Fetched
from monitor.watchlist import PledgeSpec, SourceSpec

GONE_MIN_CHECKS = 3  # a page is gone only once this many checks across gone_after saw it gone


@dataclass(frozen=True)
class ClauseRecord:
    """The stored state of one clause on one source."""

    pledge_id: str
    clause: str
    state: ClauseState = ClauseState.UNKNOWN
    pending: ClauseState | None = None  # NOT_FOUND, awaiting confirmation
    pending_since: datetime | None = None
    location: int | None = None
    passage: str | None = None
    similarity: float | None = None
    context: str | None = None  # the sentence around the clause when last found intact


@dataclass(frozen=True)
class EventDraft:
    """An Event before it has an id; the store adds the change id and fans it out to routes."""

    kind: EventKind
    severity: Severity
    title: str
    pledge_id: str | None
    source_id: str
    details: dict[str, Any]
    change_at: datetime | None = None  # the check whose Change this event is about, when earlier


@dataclass(frozen=True)
class Health:
    """A source's health: consecutive failures, since when it looks gone, where it moved."""

    state: SourceHealth = SourceHealth.NEW
    failures: int = 0
    gone_since: datetime | None = None
    moved_to: str | None = None
    gone_checks: int = 0  # checks in a row since gone_since that saw the page gone
    suspect: str | None = None  # the hash of a suspect text seen, awaiting its re-check
    suspect_since: datetime | None = None


NEW = Health()


@dataclass(frozen=True)
class Transition:
    """What one check changes: the source's health, its clauses, the events, an early re-check."""

    health: Health | None = None
    clauses: dict[tuple[str, str], ClauseRecord] = field(default_factory=dict)
    events: tuple[EventDraft, ...] = ()
    recheck_at: datetime | None = None


def assess_source(
    source: SourceSpec,
    pledges: tuple[PledgeSpec, ...],
    clauses: Mapping[tuple[str, str], ClauseRecord],
    matches: Mapping[tuple[str, str], ClauseMatch] | None,
    fetched: Fetched | None,
    now: datetime,
    *,
    error: FetchError | ExtractError | None = None,
    gone: str | None = None,
    health: Health = NEW,
    around: Mapping[tuple[str, str], tuple[str, str]] | None = None,
) -> Transition:
    """The transition for one check. ``matches`` is None when the text did not change; then
    ``around`` says what stands where each pending clause stood, for the removal alert. ``gone``
    says why the page looks gone (a not-found page served with 200, say)."""
    if gone is not None:
        return _gone_candidate(source, pledges, health, now, gone)
    if error is not None:
        return _failure(source, pledges, health, error, now)
    assert fetched is not None
    if unrelated_redirect(source, fetched):
        return _gone_candidate(source, pledges, health, now, f"redirected to {fetched.final_url}")
    events: list[EventDraft] = []
    health_before = health
    health = _recovered(source, health_before, events)
    updates, clause_events, recheck = _clauses(source, pledges, clauses, matches, fetched, now, around or {})
    events.extend(clause_events)
    moved = _moved(source, pledges, health_before, fetched, updates, clauses)
    if moved is not None:
        events.append(moved)
        health = replace(health, moved_to=fetched.final_url)
    return Transition(health=health, clauses=updates, events=tuple(events), recheck_at=recheck)


# -- source health ---------------------------------------------------------------------------


def _failure(
    source: SourceSpec,
    pledges: tuple[PledgeSpec, ...],
    health: Health,
    error: FetchError | ExtractError,
    now: datetime,
) -> Transition:
    """Never a lapse: a failed check counts towards source.failing, after failing_after in a row.

    Only a 404 or 410 may mean the page is gone, and only once every check across gone_after agrees.
    """
    if isinstance(error, FetchError) and error.status in (404, 410):
        return _gone_candidate(source, pledges, health, now, f"HTTP {error.status}")
    health = replace(health, gone_since=None, gone_checks=0)  # gone needs every check to agree
    return _count_failure(source, health, str(error))


def _count_failure(source: SourceSpec, health: Health, why: str) -> Transition:
    """One more failed check; failing_after of them in a row raise source.failing, once."""
    failures = health.failures + 1
    health_state = health.state
    events: list[EventDraft] = []
    if failures == source.failing_after and health_state not in (SourceHealth.GONE, SourceHealth.FAILING):
        health_state = SourceHealth.FAILING
        events.append(
            _source_event(
                EventKind.SOURCE_FAILING,
                source,
                f"{source.id}: {failures} checks in a row failed",
                {"failures": failures, "error": why, "url": source.url},
            )
        )
    return Transition(health=replace(health, state=health_state, failures=failures), events=tuple(events))


def _gone_candidate(
    source: SourceSpec, pledges: tuple[PledgeSpec, ...], health: Health, now: datetime, why: str
) -> Transition:
    """A 404, an unrelated redirect or a not-found page: ``source.gone`` only once every check
    across gone_after (and at least GONE_MIN_CHECKS of them) saw it; until then a failed check."""
    gone_since = health.gone_since or now
    seen = replace(health, gone_since=gone_since, gone_checks=health.gone_checks + 1)
    if health.state is SourceHealth.GONE:
        return Transition(health=replace(seen, failures=health.failures + 1))
    if now - gone_since >= source.gone_after and seen.gone_checks >= GONE_MIN_CHECKS:
        return _gone(source, pledges, replace(seen, failures=health.failures + 1), why)
    counted = _count_failure(source, seen, why)
    due = gone_since + source.gone_after
    step = source.gone_after / (GONE_MIN_CHECKS - 1)
    recheck = min(now + step, due) if now < due else now + step
    return replace(counted, recheck_at=recheck)


def _gone(source: SourceSpec, pledges: tuple[PledgeSpec, ...], health: Health, why: str) -> Transition:
    carries = _carries_clauses(pledges)
    severity = Severity.CRITICAL if carries else default_severity(EventKind.SOURCE_GONE)
    since = health.gone_since
    assert since is not None
    details = {
        "url": source.url,
        "why": why,
        "since": since.isoformat(),
        "checks": health.gone_checks,
        "pledges": [p.id for p in pledges],
    }
    event = EventDraft(
        kind=EventKind.SOURCE_GONE,
        severity=severity,
        title=f"{source.id}: page gone ({why})",
        pledge_id=pledges[0].id if len(pledges) == 1 else None,
        source_id=source.id,
        details=details,
    )
    return Transition(health=replace(health, state=SourceHealth.GONE), events=(event,))


def _recovered(source: SourceSpec, health: Health, events: list[EventDraft]) -> Health:
    if health.state in (SourceHealth.FAILING, SourceHealth.GONE):
        events.append(
            _source_event(
                EventKind.SOURCE_RECOVERED,
                source,
                f"{source.id}: checks succeed again",
                {"url": source.url, "after_failures": health.failures, "was": health.state},
            )
        )
    return Health(SourceHealth.OK, 0, None, health.moved_to)


def unrelated_redirect(source: SourceSpec, fetched: Fetched) -> bool:
    """A redirect to a home page, a search page or a not-found page is no move: the page is gone."""
    if not fetched.redirects or fetched.final_url == source.url:
        return False
    path = urlsplit(fetched.final_url).path.lower().rstrip("/")
    original = urlsplit(source.url).path.lower().rstrip("/")
    if path == original:
        return False
    return path in ("", "/index.html", "/home") or any(
        word in path for word in ("search", "404", "not-found", "notfound", "error")
    )


def _moved(
    source: SourceSpec,
    pledges: tuple[PledgeSpec, ...],
    health: Health,
    fetched: Fetched,
    updates: Mapping[tuple[str, str], ClauseRecord],
    before: Mapping[tuple[str, str], ClauseRecord],
) -> EventDraft | None:
    """A permanent redirect to a page that still carries the clauses is a move, said once."""
    if not fetched.permanently_moved or unrelated_redirect(source, fetched):
        return None
    if health.moved_to == fetched.final_url:
        return None
    current = {**before, **updates}
    if any(r.state is ClauseState.NOT_FOUND or r.pending for r in current.values()):
        return None
    return EventDraft(
        kind=EventKind.SOURCE_MOVED,
        severity=default_severity(EventKind.SOURCE_MOVED),
        title=f"{source.id}: page moved to {fetched.final_url}",
        pledge_id=pledges[0].id if len(pledges) == 1 else None,
        source_id=source.id,
        details={"url": source.url, "moved_to": fetched.final_url, "pledges": [p.id for p in pledges]},
    )


def _carries_clauses(pledges: tuple[PledgeSpec, ...]) -> bool:
    return any(p.clauses for p in pledges)


def _source_event(kind: EventKind, source: SourceSpec, title: str, details: dict[str, Any]) -> EventDraft:
    return EventDraft(kind, default_severity(kind), title, None, source.id, details)


# -- clauses ---------------------------------------------------------------------------------


def _clauses(
    source: SourceSpec,
    pledges: tuple[PledgeSpec, ...],
    before: Mapping[tuple[str, str], ClauseRecord],
    matches: Mapping[tuple[str, str], ClauseMatch] | None,
    fetched: Fetched,
    now: datetime,
    around: Mapping[tuple[str, str], tuple[str, str]],
) -> tuple[dict[tuple[str, str], ClauseRecord], list[EventDraft], datetime | None]:
    by_id = {p.id: p for p in pledges}
    updates: dict[tuple[str, str], ClauseRecord] = {}
    events: list[EventDraft] = []
    recheck: datetime | None = None
    current = {(p.id, clause_key(c)) for p in pledges for c in p.clauses}
    keys = set(matches or {}) | {k for k, r in before.items() if r.pending}
    for key in sorted(keys & current):  # a clause no longer in the watchlist is no longer watched
        pledge = by_id[key[0]]
        record = before.get(key)
        match = (matches or {}).get(key)
        stands = match.around if match is not None else around.get(key)
        new, event = _clause_step(source, pledge, record, match, key, fetched, now, stands)
        if new != record:
            updates[key] = new
        if event is not None:
            events.append(event)
        if new.pending and new.pending_since is not None:
            due = new.pending_since + source.confirm_after
            recheck = due if recheck is None else min(recheck, due)
    return updates, events, recheck


def _clause_step(
    source: SourceSpec,
    pledge: PledgeSpec,
    record: ClauseRecord | None,
    match: ClauseMatch | None,
    key: tuple[str, str],
    fetched: Fetched,
    now: datetime,
    stands: tuple[str, str] | None = None,
) -> tuple[ClauseRecord, EventDraft | None]:
    if record is None:
        assert match is not None
        record = ClauseRecord(pledge_id=pledge.id, clause=match.clause)
    if match is None:  # text unchanged since a pending outcome: the page still says the same
        return _confirm_pending(source, pledge, record, fetched, now, stands)
    outcome = ClauseState(match.outcome)
    located = replace(
        record,
        location=match.start if match.start is not None else record.location,
        passage=match.passage,
        similarity=match.similarity,
    )
    if record.state is ClauseState.UNKNOWN:
        context = match.sentence if outcome is ClauseState.EXACT else None
        return replace(located, state=outcome, pending=None, pending_since=None, context=context), None
    if outcome is ClauseState.NOT_FOUND:
        # where it stood, in this text: the re-check reads what stands there now
        record = replace(record, location=match.stood_at if match.stood_at is not None else record.location)
        if record.state is ClauseState.NOT_FOUND:
            return replace(record, pending=None, pending_since=None), None
        if record.pending is ClauseState.NOT_FOUND:
            return _confirm_pending(source, pledge, record, fetched, now, stands)
        return replace(record, pending=ClauseState.NOT_FOUND, pending_since=now), None
    settled = replace(located, state=outcome, pending=None, pending_since=None)
    if outcome is ClauseState.EXACT:
        settled = replace(settled, context=match.sentence or settled.context)
    changed_passage = match.passage != record.passage
    if outcome is record.state and (outcome is ClauseState.EXACT or not changed_passage):
        return settled, None
    if outcome is ClauseState.EXACT:
        return settled, _clause_event(EventKind.PLEDGE_RESTORED, source, pledge, match, fetched, record)
    kind = EventKind.PLEDGE_WEAKENED if outcome is ClauseState.WEAKENED else EventKind.PLEDGE_REWORDED
    return settled, _clause_event(kind, source, pledge, match, fetched, record)


def _confirm_pending(
    source: SourceSpec,
    pledge: PledgeSpec,
    record: ClauseRecord,
    fetched: Fetched,
    now: datetime,
    stands: tuple[str, str] | None = None,
) -> tuple[ClauseRecord, EventDraft | None]:
    if record.pending is not ClauseState.NOT_FOUND or record.pending_since is None:
        return record, None
    if now - record.pending_since < source.confirm_after:
        return record, None
    confirmed = replace(record, state=ClauseState.NOT_FOUND, pending=None, pending_since=None)
    details = {
        "clause": record.clause,
        "previous_state": record.state,
        "last_passage": record.passage,
        "url": fetched.final_url,
        "first_missed": record.pending_since.isoformat(),
        "confirmed": now.isoformat(),
    }
    if stands is not None:
        details["now_before"], details["now_after"] = stands
    title = f"{pledge.company}: {pledge.title}: clause removed"
    event = EventDraft(
        EventKind.PLEDGE_REMOVED,
        Severity.CRITICAL,
        title,
        pledge.id,
        source.id,
        details,
        change_at=record.pending_since,  # the change that took it away, not this re-check
    )
    return confirmed, event


def _clause_event(
    kind: EventKind,
    source: SourceSpec,
    pledge: PledgeSpec,
    match: ClauseMatch,
    fetched: Fetched,
    before: ClauseRecord,
) -> EventDraft:
    verb = {
        EventKind.PLEDGE_RESTORED: "restored",
        EventKind.PLEDGE_WEAKENED: "weakened",
        EventKind.PLEDGE_REWORDED: "reworded",
    }
    details = {
        "clause": match.clause,
        "passage": match.passage,
        "previous_passage": before.passage,
        "previous_state": before.state,
        "similarity": round(match.similarity, 3),
        "word_ops": [list(op) for op in match.word_ops],
        "clause_marks": [list(m) for m in match.clause_marks],
        "passage_marks": [list(m) for m in match.passage_marks],
        "related": match.related,
        "signals": [{"kind": s.kind, "words": s.words, "explanation": s.explanation} for s in match.signals],
        "url": fetched.final_url,
    }
    title = f"{pledge.company}: {pledge.title}: clause {verb[kind]}"
    return EventDraft(kind, default_severity(kind), title, pledge.id, source.id, details)
