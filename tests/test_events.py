"""The event vocabulary: its enums keep the strings the store, routes, templates and exports use."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text

from monitor.checking import CheckResult
from monitor.events import (
    EVENT_KINDS,
    CheckOutcome,
    ClauseState,
    EventKind,
    Severity,
    SourceHealth,
    default_severity,
    kind_matches,
)
from monitor.lifecycle import ClauseRecord, EventDraft, Transition
from monitor.store import models as m
from monitor.store.repo import Store
from monitor.watchlist import parse_watchlist

BOTH_BACKENDS = True
NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)

# The values as rows, routes (`events: [pledge.*]`), exports and alerts have always spelled them:
# changing one would orphan every stored event of that kind.
STORED_KINDS = [
    "pledge.reworded",
    "pledge.weakened",
    "pledge.removed",
    "pledge.restored",
    "pledge.expiring",
    "pledge.expired",
    "source.changed",
    "source.gone",
    "source.moved",
    "source.failing",
    "source.recovered",
    "statement.new",
]


def test_event_kinds_keep_their_stored_values_and_each_has_a_severity() -> None:
    assert [kind.value for kind in EventKind] == STORED_KINDS
    assert set(EVENT_KINDS) == set(EventKind)
    assert default_severity(EventKind.PLEDGE_WEAKENED) is Severity.CRITICAL


def test_an_event_kind_is_its_string_for_routes_and_templates() -> None:
    kind = EventKind.PLEDGE_REMOVED
    assert kind == "pledge.removed"
    assert f"{kind}" == str(kind) == "pledge.removed"
    assert kind_matches(kind, ["pledge.*"])
    assert not kind_matches(EventKind.SOURCE_GONE, ["pledge.*"])
    assert [k for k in EventKind if k.about_pledge] == [k for k in EventKind if k.startswith("pledge.")]


def test_the_store_writes_each_event_kind_as_its_value_and_reads_back_the_enum(store: Store) -> None:
    watchlist = parse_watchlist(
        "sources:\n  - {id: policy, url: 'https://example.org/policy'}\n"
        "pledges:\n  - {id: p, company: C, title: T, made_on: 2020-06-08, sources: [policy], clauses: [c]}\n"
    )
    store.sync(watchlist, NOW)
    drafts = [EventDraft(kind, default_severity(kind), kind.value, "p", "policy", {}) for kind in EventKind]
    store.add_events(drafts, watchlist, NOW)
    with store.engine.connect() as connection:
        written = connection.execute(text("SELECT kind FROM events ORDER BY id")).scalars().all()
    assert written == STORED_KINDS
    read = [event.kind for event in store.events()]
    assert read == list(EventKind)
    assert all(type(kind) is EventKind for kind in read)


STORED_OUTCOMES = ["baseline", "not_modified", "unchanged", "same_text", "changed", "rebaseline", "failed"]


def test_check_outcomes_keep_their_stored_values() -> None:
    assert [outcome.value for outcome in CheckOutcome] == STORED_OUTCOMES
    assert [o for o in CheckOutcome if o.quiet] == ["not_modified", "unchanged", "same_text"]


def test_the_store_writes_each_check_outcome_as_its_value_and_reads_back_the_enum(store: Store) -> None:
    watchlist = parse_watchlist("sources:\n  - {id: policy, url: 'https://example.org/policy'}\n")
    store.sync(watchlist, NOW)
    checks = [(CheckResult("policy", NOW, 1, outcome), NOW) for outcome in CheckOutcome]
    recorded = store.record(checks, watchlist)
    assert [r.outcome for r in recorded] == list(CheckOutcome)
    with store.engine.connect() as connection:
        written = connection.execute(text("SELECT outcome FROM checks ORDER BY id")).scalars().all()
    assert written == STORED_OUTCOMES
    with store.session() as s:
        read = s.scalars(select(m.Check.outcome).order_by(m.Check.id)).all()
    assert read == list(CheckOutcome)
    assert all(type(outcome) is CheckOutcome for outcome in read)


STORED_CLAUSE_STATES = ["unknown", "exact", "reworded", "weakened", "not_found"]


def test_clause_states_keep_their_stored_values() -> None:
    assert [state.value for state in ClauseState] == STORED_CLAUSE_STATES


def test_the_store_writes_each_clause_state_as_its_value_and_reads_back_the_enum(store: Store) -> None:
    clauses = "\n".join(f"      - clause {state}" for state in ClauseState)
    watchlist = parse_watchlist(
        "sources:\n  - {id: policy, url: 'https://example.org/policy'}\n"
        "pledges:\n  - id: p\n    company: C\n    title: T\n    made_on: 2020-06-08\n"
        f"    sources: [policy]\n    clauses:\n{clauses}\n"
    )
    store.sync(watchlist, NOW)
    records = {
        ("p", f"key-{n}"): ClauseRecord("p", f"clause {state}", state=state, pending=ClauseState.NOT_FOUND)
        for n, state in enumerate(ClauseState)
    }
    result = CheckResult("policy", NOW, 1, CheckOutcome.CHANGED, transition=Transition(clauses=records))
    store.record([(result, NOW)], watchlist)
    with store.engine.connect() as connection:
        written = connection.execute(
            text("SELECT state, pending FROM clause_states ORDER BY clause_key")
        ).all()
    assert [tuple(row) for row in written] == [(state, "not_found") for state in STORED_CLAUSE_STATES]
    read = sorted(store.clause_states("p"), key=lambda c: c.clause_key)
    assert [(c.state, c.pending) for c in read] == [(state, ClauseState.NOT_FOUND) for state in ClauseState]
    assert all(type(c.state) is ClauseState for c in read)


def test_each_value_is_spelled_once_in_the_code() -> None:
    """Stages compare with the members: a kind, outcome or clause state written out as a string
    elsewhere in monitor/ is one the enum would not catch when it changes. (The values that are
    also everyday words, "changed" or "failed", are left out: they have other meanings there.)"""
    package = Path(__file__).resolve().parents[1] / "monitor"
    values = [*STORED_KINDS, *(o for o in STORED_OUTCOMES if "_" in o), "not_found"]
    spelled = re.compile("|".join(rf"[\"']{re.escape(value)}[\"']" for value in values))
    member = re.compile(r"^\s*[A-Z_]+ = ")  # an enum's own definition (clauses.Outcome too)
    found = [
        f"{path.relative_to(package)}:{n}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "events.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if spelled.search(line) and not member.match(line)
    ]
    assert found == []


def test_source_health_keeps_its_stored_values_and_the_store_reads_it_back(store: Store) -> None:
    assert [health.value for health in SourceHealth] == ["new", "ok", "failing", "gone", "stale"]
    watchlist = parse_watchlist(
        "sources:\n" + "".join(f"  - {{id: s-{h}, url: 'https://example.org/{h}'}}\n" for h in SourceHealth)
    )
    store.sync(watchlist, NOW)
    for health in SourceHealth:
        store.mark_health([f"s-{health}"], health)
    with store.engine.connect() as connection:
        written = dict(connection.execute(text("SELECT id, health FROM sources")).all())
    assert written == {f"s-{h}": h.value for h in SourceHealth}
    states = store.states([f"s-{h}" for h in SourceHealth])
    assert {sid: state.health.state for sid, state in states.items()} == {f"s-{h}": h for h in SourceHealth}
    assert all(type(state.health.state) is SourceHealth for state in states.values())
