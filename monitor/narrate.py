"""A check told in one line, for people: what ``check`` prints per source, and the demo too.

``unchanged: check logged, nothing stored``, ``text changed: change #3; 1 clause weakened``,
``text changed: change #4; 2 clauses missing: re-check due``,
``FAILED: HTTP 503 Service Unavailable (1 in a row; not a lapse)``.
"""

from __future__ import annotations

from collections import Counter

from monitor.checking import CheckResult
from monitor.events import CheckOutcome, ClauseState
from monitor.store.recording import Recorded

OUTCOMES = {
    CheckOutcome.BASELINE: "first check: baseline stored",
    CheckOutcome.UNCHANGED: "unchanged: check logged, nothing stored",
    CheckOutcome.NOT_MODIFIED: "not modified (HTTP 304): check logged, nothing stored",
    CheckOutcome.SAME_TEXT: "same text (only markup changed): check logged",
    CheckOutcome.CHANGED: "text changed",
    CheckOutcome.REBASELINE: "new extraction rules: new baseline",
}
FOUND = {
    ClauseState.EXACT: "found exactly",
    ClauseState.REWORDED: "reworded",
    ClauseState.WEAKENED: "weakened",
    ClauseState.NOT_FOUND: "NOT found",
}


def describe_check(result: CheckResult, record: Recorded | None) -> str:
    """What one check did, with its change id and how its clauses were found."""
    if result.outcome is CheckOutcome.FAILED:
        failures = result.transition.health.failures if result.transition and result.transition.health else 0
        reason = short_error(str(result.error))
        return f"FAILED: {reason} ({failures} in a row; not a lapse)"
    text = OUTCOMES.get(result.outcome, result.outcome)
    if result.outcome is CheckOutcome.CHANGED and record is not None and record.change_id is not None:
        text = f"text changed: change #{record.change_id}"
    if result.redirects:
        hops = ", ".join(f"{status}" for _, status, _ in result.redirects)
        text += f"; redirected ({hops}) to {result.final_url}"
    clauses = clause_summary(result)
    return f"{text}{'; ' + clauses if clauses else ''}"


def worth_telling(result: CheckResult, record: Recorded | None) -> bool:
    """Anything but a quiet unchanged check: a change, a failure, an event, a re-check due."""
    return not result.outcome.quiet or bool(record and record.event_ids) or recheck_due(result)


def recheck_due(result: CheckResult) -> bool:
    """A clause went missing: a re-check confirms it before anyone is told."""
    clauses = result.transition.clauses.values() if result.transition else ()
    return any(record.pending for record in clauses)


def clause_summary(result: CheckResult) -> str:
    """How the clauses this check looked at were found, e.g. '2 clauses found exactly'."""
    if result.transition is None or not result.transition.clauses:
        return ""
    states: Counter[str] = Counter()
    for record in result.transition.clauses.values():
        state = (
            "missing: re-check due"
            if record.pending is ClauseState.NOT_FOUND
            else FOUND.get(record.state, "")
        )
        states[state] += 1
    return ", ".join(f"{n} clause{'s' if n != 1 else ''} {state}" for state, n in states.items() if state)


def short_error(error: str) -> str:
    """The error without the URL in front: the source id is already on the line."""
    _, sep, rest = error.partition(": ")
    return rest if sep and error.startswith("http") else error
