"""monitor.alerts.deliver: the outbox claimed, retried with backoff, held for digests, sent once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from receivers import Endpoint
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerts.deliver import backoff, next_digest
from monitor.cli import App
from monitor.commands.alerts import alerts_group
from monitor.store import claims, outbox
from monitor.store import models as m
from monitor.store.repo import Store
from tests.alert_events import (
    T0,
    TITLE,
    WriteWatchlist,
    add,
    deliver,
    latest_retry,
    routes_yaml,
    statuses,
    weakened,
)


def test_backoff_doubles_up_to_six_hours_and_digests_are_at_eight() -> None:
    assert timedelta(minutes=1) <= backoff(1) <= timedelta(minutes=1.1)
    assert timedelta(minutes=4) <= backoff(3) <= timedelta(minutes=4.4)
    assert timedelta(hours=6) <= backoff(30) <= timedelta(hours=6.6)
    assert next_digest(T0) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert next_digest(datetime(2026, 3, 2, 8, 0, tzinfo=UTC)) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_a_route_down_for_a_while_gets_every_alert_once(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer
) -> None:
    hook = Endpoint(httpserver, "/hook")
    watchlist = write_watchlist(routes_yaml(hook=f"json://{hook.url}"))
    ids = add(store, watchlist, weakened(1), weakened(2), weakened(3))
    hook.up = False
    assert deliver(store, watchlist, T0).retrying == 3
    assert deliver(store, watchlist, T0 + timedelta(seconds=30)).claimed == 0  # backoff: not yet
    assert deliver(store, watchlist, latest_retry(store)).retrying == 3
    assert statuses(store) == [("pending", 2)] * 3
    hook.up = True
    assert deliver(store, watchlist, latest_retry(store)).sent == 3
    assert deliver(store, watchlist, T0 + timedelta(days=7)).claimed == 0
    assert sorted(b["key"] for b in hook.accepted) == [f"pm-{i}-hook" for i in ids]
    assert hook.refused == 6


def test_a_failed_target_is_retried_alone(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer
) -> None:
    good, flaky = Endpoint(httpserver, "/good"), Endpoint(httpserver, "/flaky")
    watchlist = write_watchlist(routes_yaml(both=f"json://{good.url} json://{flaky.url}"))
    add(store, watchlist, weakened())
    flaky.up = False
    assert deliver(store, watchlist, T0).retrying == 1
    with Session(store.engine) as s:
        (last_error,) = s.scalars(select(m.Alert.last_error))
    assert outbox.Progress.load(last_error).done == {0}
    assert f"json://127.0.0.1:{httpserver.port}/***" in (outbox.Progress.load(last_error).error or "")
    flaky.up = True
    assert deliver(store, watchlist, latest_retry(store)).sent == 1
    assert len(good.accepted) == 1
    assert len(flaky.accepted) == 1


def test_a_worker_killed_after_claiming_is_replaced_and_sends_once(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer
) -> None:
    hook = Endpoint(httpserver, "/hook")
    watchlist = write_watchlist(routes_yaml(hook=f"json://{hook.url}"))
    add(store, watchlist, weakened())
    outbox.claim_due(store.engine, now=T0, worker="killed", lease=timedelta(minutes=15))  # ... and died
    assert deliver(store, watchlist, T0 + timedelta(minutes=5)).claimed == 0  # its lease still runs
    assert deliver(store, watchlist, T0 + timedelta(minutes=15)).sent == 1
    assert deliver(store, watchlist, T0 + timedelta(days=1)).claimed == 0
    assert len(hook.accepted) == 1
    assert statuses(store) == [("sent", 1)]


def test_after_max_attempts_an_alert_fails_until_retried(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer, tmp_path: Path
) -> None:
    hook = Endpoint(httpserver, "/hook")
    watchlist = write_watchlist(routes_yaml(hook=f"json://{hook.url}"))
    (event_id,) = add(store, watchlist, weakened())
    hook.up = False
    now = T0
    for _ in range(3):
        summary = deliver(store, watchlist, now, max_attempts=3)
        now = latest_retry(store)
    assert summary.failed == 1
    assert statuses(store) == [("failed", 3)]
    assert deliver(store, watchlist, now + timedelta(days=1), max_attempts=3).claimed == 0
    (failed,) = outbox.failed_alerts(store.engine)
    assert (failed.event_id, failed.route, failed.title) == (event_id, "hook", TITLE)
    assert failed.error is not None
    assert "error=500" in failed.error
    app = App(watchlist_path=tmp_path / "watchlist.yaml", db_url=str(store.engine.url))
    result = CliRunner().invoke(alerts_group, ["retry", "--failed"], obj=app)  # still down
    assert result.exit_code == 1, result.output
    first, error = result.output.splitlines()
    assert first == "1 alerts queued; alerts: 0 sent, 1 to retry, 0 failed"
    assert error.startswith(f"  json://127.0.0.1:{httpserver.port}/***: ")
    assert "error=500" in error
    hook.up = True
    app = App(watchlist_path=tmp_path / "watchlist.yaml", db_url=str(store.engine.url))
    result = CliRunner().invoke(alerts_group, ["retry"], obj=app)
    assert result.exit_code == 0, result.output
    assert result.output == "1 alerts queued; alerts: 1 sent, 0 to retry, 0 failed\n"
    assert len(hook.accepted) == 1
    assert statuses(store) == [("sent", 2)]
    assert claims.workers(store.engine) == []  # it was a worker while it sent, and left


def test_a_daily_digest_holds_alerts_and_sends_them_together(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer
) -> None:
    hook = Endpoint(httpserver, "/digest")
    watchlist = write_watchlist(routes_yaml(daily=f"json://{hook.url} | daily"))
    add(store, watchlist, weakened(1), weakened(2))
    add(store, watchlist, weakened(3), at=T0 + timedelta(hours=3))
    assert deliver(store, watchlist, T0 + timedelta(minutes=5)).held == 2
    assert deliver(store, watchlist, T0 + timedelta(hours=4)).held == 1
    assert statuses(store) == [("pending", 0)] * 3
    eight = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert latest_retry(store) == eight
    assert deliver(store, watchlist, eight - timedelta(minutes=1)).claimed == 0
    summary = deliver(store, watchlist, eight + timedelta(seconds=20))
    assert (summary.sent, summary.messages) == (3, 1)
    (body,) = hook.accepted
    assert body["title"] == "pledge-monitor daily digest for daily: 3 events (critical at most)"
    assert [e["title"] for e in body["alert"]["events"]] == [f"{TITLE} ({n})" for n in (1, 2, 3)]
    assert all(f"{TITLE} ({n})" in body["message"] for n in (1, 2, 3))
    with Session(store.engine) as s:
        assert len(set(s.scalars(select(m.Alert.sent_at)))) == 1


def test_alerts_of_a_removed_route_fail_with_a_clear_reason(
    store: Store, write_watchlist: WriteWatchlist
) -> None:
    before = write_watchlist(routes_yaml(old="console://"))
    add(store, before, weakened())
    after = write_watchlist(routes_yaml(new="console://"))
    summary = deliver(store, after, T0)
    assert summary.failed == 1
    assert summary.errors == ["route 'old' is not in the watchlist any more"]
