"""verify: a clean record verifies; each kind of tampering is caught and named, first one first.

The record is a real history (tests/audit_history.py); its ledger, in order:
  seq 1 snapshot #1 (policy)   seq 2 snapshot #2 (news)
  seq 3 snapshot #3            seq 4 change #1             seq 5 event #1 (source.changed)
  seq 6 event #2 (failing)     seq 7 event #3 (recovered)
  seq 8 snapshot #4            seq 9 change #2             seq 10 event #4 (pledge.weakened)
  seq 11 snapshot #5           seq 12 change #3            seq 13 event #5 (pledge.restored)
Tampering is done the way someone with the file would: raw SQL on the SQLite database.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner, Result
from sqlalchemy import text

from monitor.audit import chain
from monitor.audit import verify as verifier
from monitor.audit.prune import prune
from monitor.cli import main
from monitor.errors import IntegrityError, MonitorError
from monitor.store.audit_queries import AuditStore
from tests.audit_history import Recorded, copy_of, open_store, record
from tests.pg import pg_url

__all__ = ["pg_url"]  # a fixture, used below


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("history"))


@pytest.fixture
def db(recorded: Recorded, tmp_path: Path) -> Path:
    return copy_of(recorded, tmp_path / "db")


def run_verify(db: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "verify", *args])


def sql(db: Path, statement: str, *params: object) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute(statement, params)


def one(db: Path, query: str, *params: object) -> tuple[object, ...]:
    with sqlite3.connect(db) as connection:
        row = connection.execute(query, params).fetchone()
    assert row is not None, query
    return tuple(row)


def failure(db: Path) -> str:
    result = run_verify(db)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: "), result.output
    assert result.output.count("\n") == 1, "one clear line"
    return result.output.removeprefix("Error: ").strip()


def test_a_clean_record_verifies(db: Path) -> None:
    head_hash, head_seq = one(db, "SELECT hash, seq FROM ledger ORDER BY seq DESC LIMIT 1")
    result = run_verify(db)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "verified 13 records (5 snapshots, 3 changes, 5 events; 8 blobs); "
        f"chain head {head_hash} (seq {head_seq})\n"
    )


def test_edited_text_in_a_stored_blob_is_named_with_its_snapshot(db: Path) -> None:
    (text_hash,) = one(db, "SELECT text_hash FROM snapshots WHERE id = 3")
    edited = b"We will sell facial recognition technology to police departments."
    sql(
        db,
        "UPDATE blobs SET data = ?, codec = 'zstd', base = NULL, size = ? WHERE hash = ?",
        zstandard.ZstdCompressor().compress(edited),
        len(edited),
        text_hash,
    )
    assert failure(db) == (
        f"snapshot #3 (ledger seq 3): its stored text ({str(text_hash)[:12]}...) decompresses to bytes "
        f"whose sha256 is {hashlib.sha256(edited).hexdigest()}"
    )


def test_corrupt_compressed_data_is_named_with_its_snapshot(db: Path) -> None:
    (body_hash,) = one(db, "SELECT body_hash FROM snapshots WHERE id = 1")
    (data,) = one(db, "SELECT data FROM blobs WHERE hash = ?", body_hash)
    assert isinstance(data, bytes)
    sql(db, "UPDATE blobs SET data = ? WHERE hash = ?", data[: len(data) // 2], body_hash)
    message = failure(db)
    assert message.startswith(f"snapshot #1 (ledger seq 1): its stored body ({str(body_hash)[:12]}...) ")
    assert "does not decompress" in message


def test_an_edited_event_title_is_named(db: Path) -> None:
    sql(db, "UPDATE events SET title = 'Example Corp: nothing happened' WHERE id = 4")
    assert (
        failure(db) == "event #4 (ledger seq 10) was edited: its content no longer hashes to its ledger entry"
    )


def test_an_edited_snapshot_row_is_named(db: Path) -> None:
    sql(db, "UPDATE snapshots SET fetched_at = '2026-01-01 00:00:00.000000' WHERE id = 4")
    assert failure(db) == (
        "snapshot #4 (ledger seq 8) was edited: its content no longer hashes to its ledger entry"
    )


def test_a_deleted_change_row_is_named(db: Path) -> None:
    sql(db, "DELETE FROM changes WHERE id = 2")
    assert failure(db) == "change #2 (ledger seq 9) is missing: its row was deleted"


def test_a_deleted_ledger_entry_is_named(db: Path) -> None:
    sql(db, "DELETE FROM ledger WHERE seq = 6")
    assert failure(db) == (
        "ledger seq 7 (event #3): ledger entry seq 6 is missing: deleted (the chain jumps from seq 5)"
    )


def swap_seqs(db: Path, a: int, b: int) -> None:
    """Swap two ledger rows' places: each keeps its content, the order changes."""
    sql(db, "UPDATE ledger SET seq = -1 WHERE seq = ?", a)
    sql(db, "UPDATE ledger SET seq = ? WHERE seq = ?", a, b)
    sql(db, "UPDATE ledger SET seq = ? WHERE seq = -1", b)


def test_swapped_ledger_rows_are_named_as_reordered(db: Path) -> None:
    swap_seqs(db, 8, 9)
    assert failure(db) == (
        "ledger seq 8 (change #2): entries reordered: it links to seq 9, which comes after it "
        "(expected a link to seq 7)"
    )


def test_an_edited_ledger_entry_is_named(db: Path) -> None:
    sql(db, "UPDATE ledger SET content_hash = ? WHERE seq = 5", "0" * 64)
    assert failure(db) == "ledger seq 5 (event #1): the entry was edited: its hash does not match its fields"


def test_an_edited_record_with_a_rehashed_entry_breaks_the_link_after_it(db: Path) -> None:
    """Recomputing the edited record's entry is not enough: the next entry no longer links to it."""
    store = open_store(db)
    sql(db, "UPDATE events SET title = 'nothing to see' WHERE id = 2")
    row = store.events_by_ids([2])[0]
    digest = chain.content_hash(chain.event_content(row))
    (prev,) = one(db, "SELECT prev_hash FROM ledger WHERE seq = 6")
    sql(
        db,
        "UPDATE ledger SET content_hash = ?, hash = ? WHERE seq = 6",
        digest,
        chain.link(str(prev), "event", 2, digest),
    )
    message = failure(db)
    assert message.startswith("ledger seq 7 (event #3): it does not link to seq 6: an entry before it was")


def test_records_reordered_against_their_ids_are_named(db: Path) -> None:
    """A chain rewritten consistently but out of id order still shows: ids grow as records are made."""
    swap_seqs(db, 6, 7)  # event #3 now before event #2; then re-link both as a forger would
    (prev,) = one(db, "SELECT hash FROM ledger WHERE seq = 5")
    for seq in (6, 7):
        kind, rid, digest = one(
            db, "SELECT record_type, record_id, content_hash FROM ledger WHERE seq = ?", seq
        )
        entry_hash = chain.link(str(prev), str(kind), int(str(rid)), str(digest))
        sql(db, "UPDATE ledger SET prev_hash = ?, hash = ? WHERE seq = ?", prev, entry_hash, seq)
        prev = entry_hash
    assert failure(db) == (
        "ledger seq 7 (event #2): records reordered: event #2 is chained after event #3, "
        "but ids grow in the order records are made"
    )


def test_a_record_added_behind_the_ledger_is_named(db: Path) -> None:
    sql(
        db,
        "INSERT INTO events (kind, severity, created_at, pledge_id, source_id, title, details) "
        "VALUES ('pledge.restored', 'info', '2026-01-18 00:00:00.000000', 'no-police-sales', 'policy', "
        "'all is well', '{}')",
    )
    assert failure(db) == (
        "event #6 has no ledger entry: it was added outside pledge-monitor, or its entry was deleted"
    )


def test_a_published_head_catches_a_cut_tail(db: Path) -> None:
    """Deleting the newest record and its entry leaves a consistent chain: only a published head tells."""
    head, seq = one(db, "SELECT hash, seq FROM ledger ORDER BY seq DESC LIMIT 1")
    assert run_verify(db, "--head", str(head)).exit_code == 0
    sql(db, "DELETE FROM alerts WHERE event_id = 5")
    sql(db, "DELETE FROM events WHERE id = 5")
    sql(db, "DELETE FROM ledger WHERE seq = ?", seq)
    assert run_verify(db).exit_code == 0
    result = run_verify(db, "--head", str(head))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: chain head {head} not found: no ledger entry's hash starts with it. Check it was copied "
        "whole from a report of this database; if it was, the history up to it was rewritten or cut short\n"
    )


def test_a_published_head_that_is_still_there_is_confirmed(db: Path) -> None:
    (early,) = one(db, "SELECT hash FROM ledger WHERE seq = 4")
    result = run_verify(db, "--head", str(early))
    assert result.exit_code == 0
    assert result.output.endswith(f"the published head {early} (seq 4) is in the chain\n")


@pytest.mark.parametrize("shown", ["{h:.8}", "{h:.4}...", "{h:.12}\u2026", " {H:.10} "])
def test_a_published_head_may_be_given_by_a_unique_prefix(db: Path, shown: str) -> None:
    (early,) = one(db, "SELECT hash FROM ledger WHERE seq = 4")
    prefix = shown.format(h=str(early), H=str(early).upper())
    assert sum(1 for (h,) in all_hashes(db) if h.startswith(str(early)[:4])) == 1, (
        "the fixture's heads differ"
    )
    result = run_verify(db, "--head", prefix)
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"the published head {early} (seq 4) is in the chain\n")


def test_an_unknown_head_is_not_found_and_not_called_a_rewrite(db: Path) -> None:
    hashes = {str(h) for (h,) in all_hashes(db)}
    unknown = next(c * 8 for c in "0123456789abcdef" if not any(h.startswith(c * 8) for h in hashes))
    result = run_verify(db, "--head", unknown)
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: chain head {unknown} not found: no ledger entry's hash starts with it."
    )
    assert "verified" not in result.output


def test_an_ambiguous_or_malformed_head_is_refused(db: Path) -> None:
    for bad in ("3f2", "not-a-hash", "x" * 10):
        result = run_verify(db, "--head", bad)
        assert result.exit_code == 1
        assert result.output == f"Error: --head {bad!r}: expected a chain head: 4 to 64 hex characters\n"
    for seq in (2, 3):  # two entries made to share a start (the chain breaks; the lookup is what is tested)
        sql(db, "UPDATE ledger SET hash = 'abcd' || substr(hash, 5) WHERE seq = ?", seq)
    with pytest.raises(MonitorError, match="chain head abcd is ambiguous: entries seq 2 and 3 start with it"):
        verifier.find_published(AuditStore(open_store(db)), "abcd")


def all_hashes(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return [tuple(row) for row in connection.execute("SELECT hash FROM ledger")]


def test_a_database_that_is_not_there_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    for given in (str(missing), f"sqlite:///{missing}"):
        result = CliRunner().invoke(main, ["verify", "--db", given])
        assert result.exit_code == 1
        assert result.output == f"Error: no database at {missing}\n"
    assert list(tmp_path.iterdir()) == []


def test_an_empty_database_verifies(tmp_path: Path) -> None:
    result = verifier.verify(AuditStore(open_store(tmp_path / "empty.db")))
    assert result.line() == "verified 0 records (0 snapshots, 0 changes, 0 events; 0 blobs); chain empty"


def test_the_library_raises_integrity_error(db: Path) -> None:
    sql(db, "DELETE FROM changes WHERE id = 1")
    with pytest.raises(IntegrityError, match=r"change #1 \(ledger seq 4\) is missing"):
        verifier.verify(AuditStore(open_store(db)))


# -- on PostgreSQL ---------------------------------------------------------------------------------


@pytest.mark.postgres
def test_verify_export_and_prune_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """Server-side cursors, sequences that may skip, and the same chain: the same answers."""
    recorded = record(tmp_path, pg_url)
    runner = CliRunner()
    result = runner.invoke(main, ["--db", pg_url, "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("verified 13 records (5 snapshots, 3 changes, 5 events; 8 blobs)")
    exported = runner.invoke(main, ["--db", pg_url, "export", "--what", "checks", "--format", "jsonl"])
    assert len(exported.output.splitlines()) == 118
    store = open_store(pg_url)
    try:
        pruned = prune(AuditStore(store), timedelta(days=1), recorded.end + timedelta(days=10))
        assert pruned.total == 104
        assert verifier.verify(AuditStore(store)).records == 13
        with store.engine.begin() as c:
            c.execute(text("UPDATE events SET title = 'edited' WHERE id = 4"))
        result = runner.invoke(main, ["--db", pg_url, "verify"])
        assert result.exit_code == 1
        assert "event #4 (ledger seq 10) was edited" in result.output
    finally:
        store.engine.dispose()
