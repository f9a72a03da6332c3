"""The event vocabulary: its enums keep the strings the store, routes, templates and exports use."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import InstrumentedAttribute

from monitor.audit import chain
from monitor.checking import CheckResult
from monitor.events import (
    EVENT_KINDS,
    ActionKind,
    ActionTarget,
    AlertStatus,
    ArchiveStatus,
    CheckOutcome,
    ClauseState,
    EventKind,
    PledgeState,
    Severity,
    SourceHealth,
    StampStatus,
    default_severity,
    kind_matches,
)
from monitor.lifecycle import ClauseRecord, EventDraft, Transition
from monitor.store import archives, outbox, stamps
from monitor.store import models as m
from monitor.store.repo import Store
from monitor.watchlist import SourceKind, parse_watchlist

BOTH_BACKENDS = True
NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


# The values as rows, routes (`events: [pledge.*]`), exports and alerts have always spelled them:
# changing one would orphan every stored event of that kind.
def assert_kept_as_strings(
    store: Store, column: InstrumentedAttribute[Any], stored: list[str], enum: type[StrEnum]
) -> None:
    """The rows hold the plain strings, in id order, and the store reads the members back."""
    table = column.class_.__tablename__
    with store.engine.connect() as connection:
        written = connection.execute(text(f"SELECT {column.key} FROM {table} ORDER BY id")).scalars().all()
    assert written == stored
    with store.session() as s:
        read = s.scalars(select(column).order_by(column.class_.id)).all()
    assert read == [enum(value) for value in stored]
    assert all(type(value) is enum for value in read)


def one_event(store: Store) -> m.Event:
    """A source and one event of it, for the rows that hang off an event (alerts, actions)."""
    watchlist = parse_watchlist("sources:\n  - {id: policy, url: 'https://example.org/policy'}\n")
    store.sync(watchlist, NOW)
    kind = EventKind.SOURCE_CHANGED
    store.add_events([EventDraft(kind, default_severity(kind), "t", None, "policy", {})], watchlist, NOW)
    (event,) = store.events()
    return event


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
    assert_kept_as_strings(store, m.Check.outcome, STORED_OUTCOMES, CheckOutcome)


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


# The outbox rows and the actions as stored, counted by `status` and filtered on by the dashboard
# and the API: a changed spelling would strand every row already written (the columns are VARCHAR).
STORED_ALERT_STATUSES = ["pending", "sending", "sent", "failed", "muted"]
STORED_ARCHIVE_STATUSES = ["pending", "sending", "saved", "failed"]
STORED_ACTION_KINDS = ["ack", "mute"]  # also part of each action's content in the ledger
STORED_ACTION_TARGETS = ["event", "source", "route"]  # the same
STORED_STAMP_STATUSES = ["stamped", "failed"]  # the timestamps rows: a token, or a failed request


def test_alert_statuses_keep_their_stored_values() -> None:
    assert [status.value for status in AlertStatus] == STORED_ALERT_STATUSES
    assert f"{AlertStatus.MUTED}" == str(AlertStatus.MUTED) == "muted"


def test_the_store_writes_each_alert_status_as_its_value_and_reads_back_the_enum(store: Store) -> None:
    event = one_event(store)
    with store.session.begin() as s:
        s.add(m.Alert(event_id=event.id, route="default", next_attempt_at=NOW))  # pending by default
        for status in list(AlertStatus)[1:]:
            s.add(m.Alert(event_id=event.id, route=f"r-{status}", status=status, next_attempt_at=NOW))
    assert_kept_as_strings(store, m.Alert.status, STORED_ALERT_STATUSES, AlertStatus)
    counts = outbox.alert_counts(store.engine)
    assert list(counts.items()) == [(status, 1) for status in AlertStatus]


def test_archive_statuses_keep_their_stored_values() -> None:
    assert [status.value for status in ArchiveStatus] == STORED_ARCHIVE_STATUSES
    shared = {"PENDING", "SENDING", "FAILED"}  # the lease steps of monitor.store.outbox use these
    assert all(AlertStatus[name] == ArchiveStatus[name] for name in shared)


def test_the_store_writes_each_archive_status_as_its_value_and_reads_back_the_enum(store: Store) -> None:
    with store.engine.connect() as connection:
        # the rows alone, without their changes
        foreign_keys = store.engine.dialect.name == "sqlite"
        connection.exec_driver_sql(
            "PRAGMA foreign_keys = OFF" if foreign_keys else "SET session_replication_role = replica"
        )
        for n, status in enumerate(ArchiveStatus, 1):
            row = {"id": n, "change_id": n, "url": "https://example.org/p", "status": status}
            connection.execute(m.Archive.__table__.insert().values(**row, attempts=0, next_attempt_at=NOW))
        connection.commit()
        if not foreign_keys:
            connection.exec_driver_sql("SET session_replication_role = DEFAULT")
            connection.commit()
    assert_kept_as_strings(store, m.Archive.status, STORED_ARCHIVE_STATUSES, ArchiveStatus)
    assert list(archives.counts(store.engine).items()) == [(status, 1) for status in ArchiveStatus]


def test_action_kinds_keep_their_stored_values_and_the_store_reads_them_back(store: Store) -> None:
    assert [kind.value for kind in ActionKind] == STORED_ACTION_KINDS
    event = one_event(store)
    done = [
        store.actions.acknowledge(event.id, actor="ann", note="", now=NOW),
        store.actions.mute("source", "policy", until=NOW, actor="ann", note="", now=NOW),
    ]
    assert [action.kind for action in done] == list(ActionKind)
    assert_kept_as_strings(store, m.Action.kind, STORED_ACTION_KINDS, ActionKind)
    read = sorted(store.actions.actions(), key=lambda a: a.id)  # and through the store's own reader
    assert all(type(a.kind) is ActionKind for a in read)


def test_action_targets_keep_their_stored_values_and_the_ledger_hashes_them_as_strings(store: Store) -> None:
    assert [target.value for target in ActionTarget] == STORED_ACTION_TARGETS
    event = one_event(store)
    until = NOW + timedelta(days=1)
    done = [
        store.actions.acknowledge(event.id, actor="ann", note="", now=NOW),
        store.actions.mute("source", "policy", until=until, actor="ann", note="", now=NOW),
        store.actions.mute(ActionTarget.ROUTE, "desk", until=until, actor="ann", note="", now=NOW),
    ]
    assert [action.target_kind for action in done] == list(ActionTarget)
    assert_kept_as_strings(store, m.Action.target_kind, STORED_ACTION_TARGETS, ActionTarget)
    read = sorted(store.actions.actions(), key=lambda a: a.id)  # and through the store's own reader
    assert all(type(a.target_kind) is ActionTarget for a in read)
    mutes = store.actions.active_mutes(NOW)
    assert {(mt.target_kind, mt.target) for mt in mutes} == {("source", "policy"), ("route", "desk")}
    assert all(type(mt.target_kind) is ActionTarget for mt in mutes)
    # an action's content hashes as the plain strings did: the chain written before is still whole
    with store.session() as s:
        rows = s.scalars(select(m.Action).order_by(m.Action.id)).all()
        hashes = dict(
            s.execute(
                select(m.Ledger.record_id, m.Ledger.content_hash).where(m.Ledger.record_type == "action")
            ).all()
        )
    for row in rows:
        plain = {**chain.action_content(row), "kind": row.kind.value, "target_kind": row.target_kind.value}
        assert (
            f'"target_kind":"{row.target_kind.value}"' in chain.canonical(chain.action_content(row)).decode()
        )
        assert chain.content_hash(chain.action_content(row)) == chain.content_hash(plain) == hashes[row.id]


def test_stamp_statuses_keep_their_stored_values_and_the_store_reads_them_back(store: Store) -> None:
    assert [status.value for status in StampStatus] == STORED_STAMP_STATUSES
    url, later = "https://tsa.example.org/tsr", NOW + timedelta(hours=1)
    common = {"seq": 1, "head_hash": "0" * 64, "url": url, "gen_time": None}
    stamps.record(store.engine, at=NOW, token=b"token", error=None, **common)
    stamps.record(store.engine, at=later, token=None, error="HTTP 503", **common)
    assert_kept_as_strings(store, m.Timestamp.status, STORED_STAMP_STATUSES, StampStatus)
    assert [t.token for t in stamps.tokens(store.engine)] == [b"token"]  # the stamped row only
    assert stamps.tsa_state(store.engine, url) == stamps.TsaState(url, 1, NOW, later)


STORED_SOURCE_KINDS = ["page", "feed", "listing"]  # the watchlist's kinds, as sync writes them


def test_the_store_writes_each_source_kind_as_its_value_and_reads_back_the_enum(store: Store) -> None:
    watchlist = parse_watchlist(
        "sources:\n"
        "  - {id: a-page, url: 'https://example.org/policy'}\n"
        "  - {id: b-feed, kind: feed, url: 'https://example.org/feed.xml'}\n"
        "  - {id: c-listing, kind: listing, url: 'https://example.org/news', item_select: 'a'}\n"
    )
    store.sync(watchlist, NOW)
    assert_kept_as_strings(store, m.Source.kind, STORED_SOURCE_KINDS, SourceKind)
    # the states read asks the feeds and listings (has_items on the member read back) for their items
    assert sorted(store.states(["a-page", "b-feed", "c-listing"])) == ["a-page", "b-feed", "c-listing"]


def test_each_value_is_spelled_once_in_the_code() -> None:
    """Stages compare with the members: a kind, outcome, clause state, outbox status, action kind
    or stamp status written out as a string elsewhere in monitor/ is one the enum would not catch
    when it changes. (The values that are also everyday words, "changed", "failed", "pending",
    "sent", "saved", or an action's target "event", "source" or "route", are left out: they have
    other meanings there, such as a delivery's log result, an archive job's answer, a pass's
    outcome, a history entry's kind or a watchlist section.)"""
    package = Path(__file__).resolve().parents[1] / "monitor"
    values = [
        *STORED_KINDS,
        *(o for o in STORED_OUTCOMES if "_" in o),
        "not_found",
        "sending",
        "muted",
        *STORED_ACTION_KINDS,
        "stamped",
    ]
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


def test_pledge_states_keep_their_stored_values_and_the_store_reads_them_back(store: Store) -> None:
    stored = ["intact", "reworded", "weakened", "removed", "expired", "unknown"]
    assert [state.value for state in PledgeState] == stored
    watchlist = parse_watchlist(
        "sources:\n  - {id: policy, url: 'https://example.org/policy'}\n"
        "pledges:\n  - {id: p, company: C, title: T, made_on: 2020-06-08, sources: [policy], clauses: [c]}\n"
    )
    store.sync(watchlist, NOW)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT state FROM pledges")).scalars().all() == ["unknown"]
    (pledge,) = store.pledges()
    assert pledge.state is PledgeState.UNKNOWN
