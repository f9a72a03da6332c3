"""The alerts command: ``alerts test ROUTE`` and ``alerts retry``."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from receivers import Endpoint

from monitor.cli import App
from monitor.commands.alerts import alerts_group
from monitor.lock import database_lock
from monitor.store.repo import Store
from tests.alert_events import (
    WriteWatchlist,
    add,
    deliver,
    routes_yaml,
    statuses,
    weakened,
)


def test_alerts_retry_beside_a_running_daemon_queues_for_it(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer, tmp_path: Path
) -> None:
    hook = Endpoint(httpserver, "/hook")
    watchlist = write_watchlist(routes_yaml(hook=f"json://{hook.url}"))
    add(store, watchlist, weakened())
    hook.up = False
    deliver(store, watchlist, datetime.now(UTC))  # to retry in a minute
    url = str(store.engine.url)
    with database_lock(url) or nullcontext():  # as `run` holds it
        app = App(watchlist_path=tmp_path / "watchlist.yaml", db_url=url)
        result = CliRunner().invoke(alerts_group, ["retry"], obj=app)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "1 alerts queued for the running daemon (another pledge-monitor run (pid "
    )
    assert result.output.endswith("; it sends them within 15 s\n")
    assert hook.refused == 1
    assert statuses(store) == [("pending", 1)]


def test_alerts_test_reports_each_target(
    write_watchlist: WriteWatchlist, httpserver: HTTPServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hook = Endpoint(httpserver, "/hook")
    write_watchlist(routes_yaml(team=f"console:// json://{hook.url}"))
    app = App(watchlist_path=tmp_path / "watchlist.yaml", db_url=f"sqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(alerts_group, ["test", "team"], obj=app)
    assert result.exit_code == 0, result.output
    assert "[info] pledge-monitor: test alert for route team" in result.output
    assert result.output.endswith(f"ok      console://\nok      json://127.0.0.1:{httpserver.port}/***\n")
    assert hook.accepted[0]["title"] == "pledge-monitor: test alert for route team"
    hook.up = False
    with caplog.at_level(logging.CRITICAL):
        result = CliRunner().invoke(alerts_group, ["test", "team"], obj=app)
    assert result.exit_code == 1
    assert result.output.endswith(
        f"FAILED  json://127.0.0.1:{httpserver.port}/***: Failed to send JSON POST notification: "
        "Internal server error., error=500.\n"
    )
    result = CliRunner().invoke(alerts_group, ["test", "teem"], obj=app)
    assert result.exit_code == 1
    assert "no route 'teem'" in result.output
    assert "did you mean 'team'" in result.output
