"""prune: old checks thinned to the ends of each run; attestation and the chain still hold."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import text

from monitor.audit import chain
from monitor.audit import history as h
from monitor.audit.prune import prune
from monitor.audit.verify import verify
from monitor.cli import main
from monitor.store.audit_queries import AuditStore
from tests.audit_history import PLEDGE, Recorded, copy_of, open_store, record


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("history"))


@pytest.fixture
def audit(recorded: Recorded, tmp_path: Path) -> AuditStore:
    return AuditStore(open_store(copy_of(recorded, tmp_path / "db")))


def run_ends(audit: AuditStore) -> list[tuple[str, str, int | None, int, int]]:
    return [(r.source_id, r.kind, r.snapshot_id, r.first_id, r.last_id) for r in h.runs(audit.check_rows())]


def check_ids(audit: AuditStore) -> set[int]:
    return {c.id for c in audit.check_rows()}


def summaries(audit: AuditStore) -> list[str]:
    """Each attestation without its counts: what the record attests, not how many rows say it."""
    out = []
    for scope in (audit.scope(pledge_id=PLEDGE), audit.scope(source_id="news"), audit.scope()):
        text = h.summary(audit.history(scope))
        out.append(re.sub(r"\d+ (times|failed)", r"N \1", text))
    return out


def test_prune_keeps_the_ends_of_every_run_and_what_records_name(
    audit: AuditStore, recorded: Recorded
) -> None:
    runs_before, summaries_before = run_ends(audit), summaries(audit)
    before = check_ids(audit)
    result = prune(audit, timedelta(days=1), recorded.end + timedelta(days=10))
    after = check_ids(audit)
    assert run_ends(audit) == runs_before
    assert summaries(audit) == summaries_before  # same dates, same clause story
    ends = {i for _, _, _, first, last in runs_before for i in (first, last)}
    with audit.store.session() as s:
        named = {row[0] for row in s.execute(text("SELECT check_id FROM snapshots"))}
        named |= {row[0] for row in s.execute(text("SELECT check_id FROM events WHERE check_id IS NOT NULL"))}
    assert after == ends | named
    assert result.total == len(before) - len(after)
    # news: runs of 32, 3 and 24 checks; policy: 20, 21, 10 and 8 (each run keeps its 2 ends)
    assert result.deleted == {"news": 30 + 1 + 22, "policy": 18 + 19 + 8 + 6}


def test_the_chain_verifies_after_a_prune(audit: AuditStore, recorded: Recorded) -> None:
    prune(audit, timedelta(days=1), recorded.end + timedelta(days=10))
    result = verify(audit)
    assert result.counts["prune"] == 1
    assert result.counts["event"] == 5
    assert (result.checks + result.unsealed, result.pruned) == (118 - 104, 104)
    assert result.line().startswith(
        f"verified {result.records} records (5 snapshots, 3 changes, 5 events; {result.checks} checks in "
    )
    assert " digests (104 pruned)" in result.line()


def test_a_prune_is_chained_with_the_ids_it_deleted(audit: AuditStore, recorded: Recorded) -> None:
    before = set(check_ids(audit))
    now = recorded.end + timedelta(days=10)
    prune(audit, timedelta(days=1), now)
    gone = before - set(check_ids(audit))
    with audit.store.session() as s:
        ((ids, count),) = s.execute(text("SELECT ids, count FROM prunes")).all()
    assert count == len(gone) == 104
    assert set(chain.expand(chain.parse_ranges(ids))) == gone
    head = audit.head()
    assert head is not None
    assert head.record_type == "prune"


def test_a_dry_run_chains_nothing(audit: AuditStore, recorded: Recorded) -> None:
    head = audit.head()
    prune(audit, timedelta(days=1), recorded.end + timedelta(days=10), dry_run=True)
    assert audit.head() == head


def test_recent_checks_are_left_alone(audit: AuditStore, recorded: Recorded) -> None:
    cutoff_age = timedelta(days=4)
    now = recorded.end  # checks from the last four days stay, whatever run they are in
    before = [c for c in audit.check_rows() if c.at >= now - cutoff_age]
    prune(audit, cutoff_age, now)
    assert [c for c in audit.check_rows() if c.at >= now - cutoff_age] == before
    assert len(before) > 20


def test_a_dry_run_deletes_nothing_and_a_second_prune_has_nothing_left(
    audit: AuditStore, recorded: Recorded
) -> None:
    now = recorded.end + timedelta(days=10)
    before = check_ids(audit)
    dry = prune(audit, timedelta(days=1), now, dry_run=True)
    assert check_ids(audit) == before
    real = prune(audit, timedelta(days=1), now)
    assert real.deleted == dry.deleted
    assert prune(audit, timedelta(days=1), now).total == 0


def test_prune_command_prints_what_it_deleted(recorded: Recorded, tmp_path: Path) -> None:
    db = copy_of(recorded, tmp_path / "db")
    args = ["--db", f"sqlite:///{db}", "prune", "--checks-older-than", "180d"]
    with time_machine.travel(recorded.end + timedelta(days=200), tick=False):
        dry = CliRunner().invoke(main, [*args, "--dry-run"])
        done = CliRunner().invoke(main, args)
    cutoff = (recorded.end + timedelta(days=20)).strftime("%Y-%m-%d %H:%M")
    assert dry.exit_code == 0, dry.output + done.output
    assert done.exit_code == 0, dry.output + done.output
    assert done.output == (
        f"deleted 104 checks older than {cutoff} UTC; kept every snapshot, change and event, and the first "
        "and last check of each of 7 runs\n  news: 53\n  policy: 51\n"
    )
    assert dry.output == done.output.replace("deleted 104", "would delete 104")
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM checks").fetchone() == (118 - 104,)
    assert CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "verify"]).exit_code == 0


def test_a_bad_age_is_a_usage_error(recorded: Recorded, tmp_path: Path) -> None:
    db = copy_of(recorded, tmp_path / "db")
    result = CliRunner().invoke(
        main, ["--db", f"sqlite:///{db}", "prune", "--checks-older-than", "half a year"]
    )
    assert result.exit_code == 2
    assert "--checks-older-than" in result.output
