"""export: stable documented columns in CSV, JSON and JSON Lines, streamed in bounded memory."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.audit import export as exporter
from monitor.cli import main
from monitor.store.db import open_engine
from tests.audit_history import PLEDGE, Recorded, copy_of, record


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def db(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_of(recorded, tmp_path_factory.mktemp("db"))


def run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "export", *args])


def test_the_documented_columns_are_the_exported_ones() -> None:
    """The docstring tables (copied to the README) and --help say exactly what export writes."""
    doc = exporter.__doc__ or ""
    for table in exporter.markdown_tables().split("\n\n"):
        assert table in doc
    help_text = CliRunner().invoke(main, ["export", "--help"]).output
    for what, cols in exporter.COLUMNS.items():
        assert f"--what {what}:" in help_text
        for col in cols:
            assert f"  {col.name}  " in help_text or f"  {col.name} " in help_text


@pytest.mark.parametrize("what", exporter.WHATS)
def test_csv_has_the_documented_header_and_one_row_per_record(db: Path, what: str) -> None:
    result = run(db, "--what", what, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == [c.name for c in exporter.COLUMNS[what]]
    assert len(rows) - 1 == {"checks": 118, "changes": 3, "events": 5, "pledges": 1}[what]


def test_checks_in_csv(db: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(run(db, "--what", "checks").output)))
    first = rows[0]
    assert (first["id"], first["source_id"], first["at"], first["outcome"], first["status"]) == (
        "1",
        "policy",
        "2026-01-03T06:00:00Z",
        "baseline",
        "200",
    )
    assert first["snapshot_id"] == "1"
    assert first["error"] == ""
    assert first["redirects"] == ""
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert len(failed) == 3
    assert failed[0]["status"] == "503"
    assert "HTTP 503" in failed[0]["error"]
    assert failed[0]["snapshot_id"] == ""


def test_events_in_json_lines_keep_values_as_they_are(db: Path) -> None:
    result = run(db, "--what", "events", "--format", "jsonl")
    events = [json.loads(line) for line in result.output.splitlines()]
    assert [e["kind"] for e in events] == [
        "source.changed",
        "source.failing",
        "source.recovered",
        "pledge.weakened",
        "pledge.restored",
    ]
    weakened = events[3]
    assert weakened["created_at"] == "2026-01-13T12:00:00Z"
    assert weakened["pledge_id"] == PLEDGE
    assert weakened["change_id"] == 2
    assert isinstance(weakened["details"], dict)
    assert weakened["details"]["previous_state"] == "exact"
    with sqlite3.connect(db) as connection:
        seq, entry_hash = connection.execute(
            "SELECT seq, hash FROM ledger WHERE record_type = 'event' AND record_id = 4"
        ).fetchone()
    assert (weakened["ledger_seq"], weakened["ledger_hash"]) == (seq, entry_hash)
    assert list(weakened) == [c.name for c in exporter.COLUMNS["events"]]


def test_changes_as_one_json_array(db: Path) -> None:
    changes = json.loads(run(db, "--what", "changes", "--format", "json").output)
    assert [c["id"] for c in changes] == [1, 2, 3]
    second = changes[1]
    assert second["summary"] == '+1 word, -0 words: added "currently"'  # unchanged in JSON
    assert (second["from_snapshot_id"], second["to_snapshot_id"]) == (3, 4)
    assert second["from_fetched_at"] == "2026-01-08T06:00:00Z"
    assert second["to_fetched_at"] == "2026-01-13T12:00:00Z"


def test_pledges_with_lists_as_json_text_in_csv(db: Path) -> None:
    row = next(csv.DictReader(io.StringIO(run(db, "--what", "pledges").output)))
    assert row["id"] == PLEDGE
    assert row["state"] == "intact"
    assert row["made_on"] == "2020-06-11"
    assert json.loads(row["sources"]) == ["policy"]
    assert row["renewed"] == "false"
    assert row["active"] == "true"


def test_csv_defuses_spreadsheet_formulas_from_monitored_text(db: Path) -> None:
    row = list(csv.DictReader(io.StringIO(run(db, "--what", "changes").output)))[1]
    assert row["summary"] == '\'+1 word, -0 words: added "currently"'
    assert (
        exporter.csv_value(exporter.Column("t", ""), '=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    )
    assert exporter.csv_value(exporter.Column("t", ""), "fine = ok") == "fine = ok"


def test_since_keeps_the_later_records(db: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(run(db, "--what", "checks", "--since", "2026-01-17").output)))
    assert len(rows) == 8
    assert all(r["at"] >= "2026-01-17" for r in rows)


def test_out_writes_a_file_and_says_so(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    result = run(db, "--what", "events", "--format", "jsonl", "--out", str(out))
    assert result.exit_code == 0
    assert result.output == f"wrote 5 events to {out}\n"
    assert len(out.read_text().splitlines()) == 5


def test_empty_exports_are_still_valid(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    open_engine(f"sqlite:///{db}").dispose()  # migrated, nothing recorded
    assert run(db, "--format", "json").output == "[]\n"
    assert run(db, "--format", "jsonl").output == ""
    assert run(db, "--format", "csv").output.splitlines() == [
        ",".join(c.name for c in exporter.COLUMNS["checks"])
    ]


# -- bounded memory --------------------------------------------------------------------------------

CHECKS = 100_000
# Measured on 100,000 checks: the streaming export peaks 2-3 MB above a run that exports nothing;
# loading the table first costs +44 MB as bare tuples (Connection.fetchall) and +137 MB as ORM rows
# (Store.checks()). 20 MB sits well between.
BOUND_MB = 20


def many_checks(db: Path, n: int) -> None:
    open_engine(f"sqlite:///{db}").dispose()
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO sources (id, url, kind, rules, active, interval_s, health, failures) "
            "VALUES ('policy', 'https://example.org/policy', 'page', '', 1, 21600, 'ok', 0)"
        )
        rows = (
            (
                i,
                f"2026-01-01 {i % 24:02d}:00:00.000000",
                120,
                200 if i % 50 else 503,
                "unchanged" if i % 50 else "failed",
            )
            for i in range(1, n + 1)
        )
        connection.executemany(
            "INSERT INTO checks (id, source_id, at, ms, status, outcome, etag) "
            "VALUES (?, 'policy', ?, ?, ?, ?, '\"e\"')",
            rows,
        )


def peak_rss_mb(db: Path, out: Path, what: str) -> float:
    """Run the real command in a child process; the kernel reports the child's peak resident memory."""
    args = [sys.executable, "-m", "monitor", "--db", f"sqlite:///{db}", "export", "--what", what]
    child = subprocess.Popen([*args, "--format", "json", "--out", str(out)], stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_maxrss / 1024  # kilobytes on Linux


def test_an_export_of_100000_checks_runs_in_bounded_memory(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    many_checks(db, CHECKS)
    baseline = peak_rss_mb(db, tmp_path / "pledges.json", "pledges")  # the interpreter and its imports
    peak = peak_rss_mb(db, tmp_path / "checks.json", "checks")
    assert peak - baseline < BOUND_MB, (
        f"export peaked at {peak:.0f} MB, {peak - baseline:.0f} MB over the baseline"
    )
    exported = json.loads((tmp_path / "checks.json").read_text())
    assert len(exported) == CHECKS
    assert exported[-1]["id"] == CHECKS
    assert exported[49]["outcome"] == "failed"
