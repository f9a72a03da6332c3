"""``pledge-monitor status``: the picture of pledges, sources and alerts, and the health probe."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import main
from monitor.events import Severity
from monitor.fetch import Fetcher
from monitor.lifecycle import EventDraft
from monitor.store import models as m
from monitor.store import outbox
from monitor.store.db import open_engine
from monitor.store.repo import Store
from monitor.watchlist import load_watchlist
from tests.site import Site
from tests.test_noise import Checker

YAML = """
routes:
  console:
    urls: ["console://"]
sources:
  - id: ibm-letter
    url: https://www.ibm.com/policy/facial-recognition-sunset-racial-justice-reforms/
pledges:
  - id: ibm-exit
    company: IBM
    title: Exit from general purpose facial recognition
    made_on: 2020-06-08
    sources: [ibm-letter]
    clauses: ["IBM no longer offers general purpose IBM facial recognition or analysis software"]
"""


def setup(tmp_path: Path) -> tuple[Path, Store]:
    path = tmp_path / "watchlist.yaml"
    path.write_text(YAML)
    store = Store(open_engine(f"sqlite:///{tmp_path / 'pledge-monitor.db'}"))
    store.sync(load_watchlist(path), datetime.now(UTC))
    return path, store


def run(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--watchlist", str(path), "status", *args])
    return result.exit_code, result.output


def test_status_lists_pledges_sources_and_alerts(tmp_path: Path) -> None:
    path, _ = setup(tmp_path)
    code, out = run(path)
    assert code == 0
    assert re.search(r"ibm-exit\s+IBM\s+not checked yet", out)
    assert re.search(r"ibm-letter\s+not checked yet\s+last good check never", out)
    assert "Alerts: 0 pending, 0 sending, 0 sent, 0 failed, 0 muted" in out


def test_alerts_of_a_muted_source_are_counted(tmp_path: Path) -> None:
    path, store = setup(tmp_path)
    draft = EventDraft("source.gone", Severity.CRITICAL, "ibm-letter: gone", None, "ibm-letter", {})
    store.add_events([draft, draft], load_watchlist(path), datetime.now(UTC))
    assert outbox.hold_muted(store.engine, sources=["ibm-letter"], routes=[]) == 2
    assert "Alerts: 0 pending, 0 sending, 0 sent, 0 failed, 2 muted" in run(path)[1]


def test_failed_alerts_are_shown(tmp_path: Path) -> None:
    path, store = setup(tmp_path)
    wl = load_watchlist(path)
    [event_id] = store.add_events(
        [
            EventDraft(
                "source.gone", Severity.CRITICAL, "ibm-letter: page gone (HTTP 404)", None, "ibm-letter", {}
            )
        ],
        wl,
        datetime.now(UTC),
    )
    with store.session.begin() as s:
        alert = s.query(m.Alert).filter_by(event_id=event_id).one()
        alert.status, alert.attempts, alert.last_error = (
            "failed",
            8,
            '{"done": [], "error": "connection refused"}',
        )
    code, out = run(path)
    assert code == 0
    assert "1 failed" in out
    assert (
        f"failed: alert #{alert.id} to console (source.gone: ibm-letter: page gone (HTTP 404)) after 8" in out
    )
    assert "connection refused" in out


def test_health_needs_a_fresh_heartbeat(tmp_path: Path) -> None:
    path, store = setup(tmp_path)
    code, out = run(path, "--health")
    assert code == 1
    assert "no scheduler has registered" in out
    now = datetime.now(UTC)
    with store.session.begin() as s:
        s.add(
            m.Worker(
                name="w1",
                started_at=now,
                heartbeat_at=now - timedelta(minutes=9),
                pid=1,
                host=socket.gethostname(),
            )
        )
    code, out = run(path, "--health")
    assert code == 1
    assert "scheduler is stale: last heartbeat 9m ago" in out
    with store.session.begin() as s:
        worker = s.get(m.Worker, "w1")
        assert worker is not None
        worker.heartbeat_at = now
    code, out = run(path, "--health")
    assert (code, out.strip()) == (0, "healthy")


def test_health_fails_on_failed_alerts(tmp_path: Path) -> None:
    path, store = setup(tmp_path)
    now = datetime.now(UTC)
    [event_id] = store.add_events(
        [EventDraft("source.gone", Severity.CRITICAL, "gone", None, "ibm-letter", {})],
        load_watchlist(path),
        now,
    )
    with store.session.begin() as s:
        s.add(m.Worker(name="w1", started_at=now, heartbeat_at=now, pid=1, host="h"))
        s.query(m.Alert).filter_by(event_id=event_id).update({"status": "failed"})
    code, out = run(path, "--health")
    assert code == 1
    assert "1 alert(s) failed for good" in out


def test_status_works_without_a_watchlist_from_the_database_alone(tmp_path: Path) -> None:
    path, _ = setup(tmp_path)
    path.unlink()
    result = CliRunner().invoke(
        main, ["status", "-w", str(path), "--db", str(tmp_path / "pledge-monitor.db")]
    )
    assert result.exit_code == 0, result.output
    assert f"(no watchlist at {path}: the database as last synced)" in result.output
    assert re.search(r"ibm-exit\s+IBM\s+not checked yet", result.output)


def test_a_failing_source_shows_why_and_when_it_was_last_reported(
    tmp_path: Path, site: Site, fetcher: Fetcher
) -> None:
    path = tmp_path / "watchlist.yaml"
    source = f"{{id: policy, url: '{site.url('/policy')}', select: main}}"
    path.write_text(f"defaults: {{failing_after: 1}}\nsources:\n  - {source}\n")
    store = Store(open_engine(f"sqlite:///{tmp_path / 'pledge-monitor.db'}"))
    check = Checker(store, load_watchlist(path), fetcher)
    site.put("/policy", "<main><p>We will not sell it.</p></main>")
    assert check() == {"policy": "baseline"}
    site.put("/policy", "<main> </main>")
    assert check() == {"policy": "failed"}
    code, out = run(path)
    assert code == 0
    assert re.search(r"policy\s+failing\s+last good check \d+d ago", out)
    assert re.search(
        r"\n\s+failing: 1 check in a row, last error: selector 'main' matched only empty elements at "
        r"http://\S+/policy; reported \d+d ago\n",
        out,
    )
