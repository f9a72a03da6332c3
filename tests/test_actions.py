"""Tokens, acknowledgements and mutes in the store; muted alerts kept, not sent; all in the chain."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from monitor.alerts.deliver import deliver_due
from monitor.audit.verify import verify
from monitor.cli import main
from monitor.errors import MonitorError, NotFoundError
from monitor.store.actions import ActionStore
from monitor.store.audit_queries import AuditStore
from monitor.store.repo import Store
from monitor.watchlist import Watchlist
from tests.pg import pg_store
from tests.test_outbox import WATCHLIST, add_events, alert_rows

__all__ = ["pg_store"]  # a fixture, used below

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
TWO_ROUTES = WATCHLIST.replace(
    "      team:\n        urls: console://\n",
    "      team:\n        urls: console://\n      desk:\n        urls: console://\n",
)


@pytest.fixture
def watchlist(write_watchlist: Callable[[str], Watchlist]) -> Watchlist:
    return write_watchlist(TWO_ROUTES)


def test_a_muted_source_keeps_its_alerts_as_muted_and_sends_none(store: Store, watchlist: Watchlist) -> None:
    store.sync(watchlist, T0)
    actions = ActionStore(store)
    actions.mute("source", "amazon-post", until=T0 + timedelta(days=7), actor="alice", note="noisy", now=T0)
    add_events(store, watchlist, 1, at=T0 + timedelta(hours=1))
    out = io.StringIO()
    summary = deliver_due(store, watchlist, now=T0 + timedelta(hours=1), stream=out)
    assert [(r.route, r.status) for r in alert_rows(store)] == [("team", "muted"), ("desk", "muted")]
    assert out.getvalue() == ""
    assert summary.muted == 2
    assert summary.sent == 0
    assert "2 muted (kept, not sent)" in summary.line()


def test_a_mute_ends_at_its_date_and_an_unmute_ends_it_at_once(store: Store, watchlist: Watchlist) -> None:
    store.sync(watchlist, T0)
    actions = ActionStore(store)
    actions.mute("route", "desk", until=T0 + timedelta(days=1), actor="alice", note="", now=T0)
    assert [m.target for m in actions.active_mutes(T0)] == ["desk"]
    assert actions.active_mutes(T0 + timedelta(days=1)) == []
    actions.mute("route", "desk", until=T0, actor="bob", note="back", now=T0)
    assert actions.active_mutes(T0) == []


def test_a_muted_route_holds_back_only_that_route(store: Store, watchlist: Watchlist) -> None:
    store.sync(watchlist, T0)
    ActionStore(store).mute("route", "desk", until=T0 + timedelta(days=1), actor="alice", note="", now=T0)
    add_events(store, watchlist, 1, at=T0)
    out = io.StringIO()
    deliver_due(store, watchlist, now=T0, stream=out)
    assert [(r.route, r.status) for r in alert_rows(store)] == [("team", "sent"), ("desk", "muted")]
    assert "amazon-post: text changed (0)" in out.getvalue()


def test_acknowledgements_and_mutes_are_chained_with_who_and_when(store: Store, watchlist: Watchlist) -> None:
    store.sync(watchlist, T0)
    (event_id,) = add_events(store, watchlist, 1)
    actions = ActionStore(store)
    ack = actions.acknowledge(event_id, actor="alice", note="false alarm", now=T0)
    assert (ack.actor, ack.at, ack.note) == ("alice", T0, "false alarm")
    assert actions.acks([event_id]) == {event_id: [ack]}
    audit = AuditStore(store)
    head = audit.head()
    assert head is not None
    assert (head.record_type, head.record_id) == ("action", ack.id)
    assert "1 action;" in verify(audit).line()
    with store.session.begin() as s:  # an edited note breaks the chain
        s.execute(__import__("sqlalchemy").text("UPDATE actions SET note = 'confirmed weakening'"))
    with pytest.raises(MonitorError, match=r"action #1 \(ledger seq 2\) was edited"):
        verify(audit)


def test_actions_on_missing_records_are_errors(store: Store, watchlist: Watchlist) -> None:
    store.sync(watchlist, T0)
    actions = ActionStore(store)
    with pytest.raises(NotFoundError, match="no event with id 42"):
        actions.acknowledge(42, actor="alice", note="x", now=T0)
    with pytest.raises(NotFoundError, match="no source 'nope'"):
        actions.mute("source", "nope", until=T0, actor="alice", note="", now=T0)
    with pytest.raises(MonitorError, match="cannot mute a 'pledge'"):
        actions.mute("pledge", "x", until=T0, actor="alice", note="", now=T0)


def test_token_commands_print_the_token_once_and_store_only_its_hash(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    db = folder / "t.db"
    args = ["-w", str(folder / "none.yaml"), "--db", f"sqlite:///{db}"]
    runner = CliRunner()
    made = runner.invoke(main, [*args, "token", "create", "alice"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("pm_")
    assert len(token) > 40
    stored = b"".join(p.read_bytes() for p in folder.glob("t.db*"))
    assert token.encode() not in stored
    assert b"alice" in stored
    listed = runner.invoke(main, [*args, "token", "list"])
    assert "alice" in listed.output
    assert token not in listed.output
    assert "active" in listed.output
    again = runner.invoke(main, [*args, "token", "create", "alice"])
    assert again.exit_code == 1
    assert "a token named 'alice' exists already" in again.output
    assert runner.invoke(main, [*args, "token", "revoke", "alice"]).exit_code == 0
    assert "revoked" in runner.invoke(main, [*args, "token", "list"]).output
    gone = runner.invoke(main, [*args, "token", "revoke", "alice"])
    assert gone.exit_code == 1
    assert "no active token named 'alice'" in gone.output


@pytest.mark.postgres
def test_on_postgresql_mutes_hold_alerts_and_actions_verify(pg_store: Store, watchlist: Watchlist) -> None:
    pg_store.sync(watchlist, T0)
    actions = ActionStore(pg_store)
    actions.mute("route", "desk", until=T0 + timedelta(days=1), actor="alice", note="", now=T0)
    (event_id,) = add_events(pg_store, watchlist, 1, at=T0)
    actions.acknowledge(event_id, actor="bob", note="false alarm", now=T0)
    deliver_due(pg_store, watchlist, now=T0, stream=io.StringIO())
    assert [(r.route, r.status) for r in alert_rows(pg_store)] == [("team", "sent"), ("desk", "muted")]
    assert "2 actions;" in verify(AuditStore(pg_store)).line()
