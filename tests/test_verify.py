"""verify: a clean record verifies; each kind of tampering is caught and named, first one first.

The record is a real history (tests/audit_history.py): 118 checks of two sources, chained in
digests a recorded batch at a time, between which come snapshot #1 and #2 (the baselines), then
snapshot #3, change #1, event #1 (source.changed); event #2 (failing), event #3 (recovered);
snapshot #4, change #2, event #4 (pledge.weakened); snapshot #5, change #3, event #5 (restored).
Tests find a record's ledger seq with ``seq_of``. Tampering is done the way someone with the
file would: raw SQL on the SQLite database.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
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


def seq_of(db: Path, kind: str, rid: int) -> int:
    (seq,) = one(db, "SELECT seq FROM ledger WHERE record_type = ? AND record_id = ?", kind, rid)
    return int(str(seq))


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
    digests, sealed = one(
        db, "SELECT count(*), (SELECT count(*) FROM checks WHERE id <= max(last_id)) FROM check_digests"
    )
    newer = f" (+{118 - int(str(sealed))} newer, not yet sealed)" if sealed != 118 else ""
    assert result.output == (
        f"verified {13 + int(str(digests))} records (5 snapshots, 3 changes, 5 events; "
        f"{sealed} checks in {digests} digests{newer}; 8 blobs); chain head {head_hash} (seq {head_seq})\n"
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
        f"snapshot #3 (ledger seq {seq_of(db, 'snapshot', 3)}): its stored text ({str(text_hash)[:12]}...) "
        f"decompresses to bytes whose sha256 is {hashlib.sha256(edited).hexdigest()}"
    )


def test_corrupt_compressed_data_is_named_with_its_snapshot(db: Path) -> None:
    (body_hash,) = one(db, "SELECT body_hash FROM snapshots WHERE id = 1")
    (data,) = one(db, "SELECT data FROM blobs WHERE hash = ?", body_hash)
    assert isinstance(data, bytes)
    sql(db, "UPDATE blobs SET data = ? WHERE hash = ?", data[: len(data) // 2], body_hash)
    message = failure(db)
    assert message.startswith(
        f"snapshot #1 (ledger seq {seq_of(db, 'snapshot', 1)}): its stored body ({str(body_hash)[:12]}...) "
    )
    assert "does not decompress" in message


def test_an_edited_event_title_is_named(db: Path) -> None:
    sql(db, "UPDATE events SET title = 'Example Corp: nothing happened' WHERE id = 4")
    assert failure(db) == (
        f"event #4 (ledger seq {seq_of(db, 'event', 4)}) was edited: "
        "its content no longer hashes to its ledger entry"
    )


def test_an_edited_snapshot_row_is_named(db: Path) -> None:
    sql(db, "UPDATE snapshots SET fetched_at = '2026-01-01 00:00:00.000000' WHERE id = 4")
    assert failure(db) == (
        f"snapshot #4 (ledger seq {seq_of(db, 'snapshot', 4)}) was edited: "
        "its content no longer hashes to its ledger entry"
    )


def test_a_deleted_change_row_is_named(db: Path) -> None:
    sql(db, "DELETE FROM changes WHERE id = 2")
    assert failure(db) == f"change #2 (ledger seq {seq_of(db, 'change', 2)}) is missing: its row was deleted"


def test_a_deleted_ledger_entry_is_named(db: Path) -> None:
    seq = seq_of(db, "event", 2)
    kind, rid = one(db, "SELECT record_type, record_id FROM ledger WHERE seq = ?", seq + 1)
    label = {"checks": "check digest"}.get(str(kind), str(kind))
    sql(db, "DELETE FROM ledger WHERE seq = ?", seq)
    assert failure(db) == (
        f"ledger seq {seq + 1} ({label} #{rid}): ledger entry seq {seq} is missing: deleted "
        f"(the chain jumps from seq {seq - 1})"
    )


def swap_seqs(db: Path, a: int, b: int) -> None:
    """Swap two ledger rows' places: each keeps its content, the order changes."""
    sql(db, "UPDATE ledger SET seq = -1 WHERE seq = ?", a)
    sql(db, "UPDATE ledger SET seq = ? WHERE seq = ?", a, b)
    sql(db, "UPDATE ledger SET seq = ? WHERE seq = -1", b)


def test_swapped_ledger_rows_are_named_as_reordered(db: Path) -> None:
    seq = seq_of(db, "snapshot", 4)
    swap_seqs(db, seq, seq + 1)
    assert failure(db) == (
        f"ledger seq {seq} (change #2): entries reordered: it links to seq {seq + 1}, which comes after "
        f"it (expected a link to seq {seq - 1})"
    )


def test_an_edited_ledger_entry_is_named(db: Path) -> None:
    seq = seq_of(db, "event", 1)
    sql(db, "UPDATE ledger SET content_hash = ? WHERE seq = ?", "0" * 64, seq)
    assert failure(db) == (
        f"ledger seq {seq} (event #1): the entry was edited: its hash does not match its fields"
    )


def test_an_edited_record_with_a_rehashed_entry_breaks_the_link_after_it(db: Path) -> None:
    """Recomputing the edited record's entry is not enough: the next entry no longer links to it."""
    store = open_store(db)
    sql(db, "UPDATE events SET title = 'nothing to see' WHERE id = 2")
    row = store.events_by_ids([2])[0]
    digest = chain.content_hash(chain.event_content(row))
    seq = seq_of(db, "event", 2)
    (prev,) = one(db, "SELECT prev_hash FROM ledger WHERE seq = ?", seq)
    sql(
        db,
        "UPDATE ledger SET content_hash = ?, hash = ? WHERE seq = ?",
        digest,
        chain.link(str(prev), "event", 2, digest),
        seq,
    )
    message = failure(db)
    assert message.startswith(f"ledger seq {seq + 1} (")
    assert f"it does not link to seq {seq}: an entry before it was" in message


def test_records_reordered_against_their_ids_are_named(db: Path) -> None:
    """A chain rewritten consistently but out of id order still shows: ids grow as records are made."""
    a, b = seq_of(db, "event", 2), seq_of(db, "event", 3)
    swap_seqs(db, a, b)  # event #3 now before event #2; then re-link from there as a forger would
    (prev,) = one(db, "SELECT hash FROM ledger WHERE seq = ?", a - 1)
    for seq in range(a, b + 1):
        kind, rid, digest = one(
            db, "SELECT record_type, record_id, content_hash FROM ledger WHERE seq = ?", seq
        )
        entry_hash = chain.link(str(prev), str(kind), int(str(rid)), str(digest))
        sql(db, "UPDATE ledger SET prev_hash = ?, hash = ? WHERE seq = ?", prev, entry_hash, seq)
        prev = entry_hash
    assert failure(db) == (
        f"ledger seq {b} (event #2): records reordered: event #2 is chained after event #3, "
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


# -- checks: chained a recorded batch at a time ------------------------------------------------------


def digest_of(db: Path, check_id: int) -> tuple[int, int]:
    """The check digest that names a check, and its ledger seq."""
    (digest_id,) = one(
        db, "SELECT id FROM check_digests WHERE first_id <= ? AND last_id >= ?", check_id, check_id
    )
    return int(str(digest_id)), seq_of(db, "checks", int(str(digest_id)))


def test_an_edited_unchanged_check_is_named(db: Path) -> None:
    """The quiet kind of check, the bulk of the record: "checked, and nothing had changed"."""
    (check_id,) = one(db, "SELECT id FROM checks WHERE outcome = 'unchanged' ORDER BY id LIMIT 1 OFFSET 10")
    digest_id, seq = digest_of(db, int(str(check_id)))
    sql(db, "UPDATE checks SET at = '2026-01-09 00:00:00.000000' WHERE id = ?", check_id)
    assert failure(db) == (
        f"check #{check_id} (check digest #{digest_id}, ledger seq {seq}) was edited: "
        "its content no longer hashes as recorded"
    )


def test_an_edited_failed_check_is_named(db: Path) -> None:
    """A failed check turned into a good one would hide an outage: it shows."""
    (check_id,) = one(db, "SELECT id FROM checks WHERE outcome = 'failed' ORDER BY id LIMIT 1")
    digest_id, seq = digest_of(db, int(str(check_id)))
    sql(db, "UPDATE checks SET outcome = 'unchanged', status = 200, error = NULL WHERE id = ?", check_id)
    assert failure(db) == (
        f"check #{check_id} (check digest #{digest_id}, ledger seq {seq}) was edited: "
        "its content no longer hashes as recorded"
    )


def test_a_deleted_check_is_named(db: Path) -> None:
    digest_id, seq = digest_of(db, 40)
    sql(db, "DELETE FROM checks WHERE id = 40")
    assert (
        failure(db)
        == f"check #40 (check digest #{digest_id}, ledger seq {seq}) is missing: its row was deleted"
    )


def test_a_check_added_behind_the_chain_is_named(db: Path) -> None:
    """A check dated in the past but in no digest: pledge-monitor seals checks at least daily."""
    (sealed_at,) = one(db, "SELECT at FROM check_digests ORDER BY last_id DESC LIMIT 1")
    sql(
        db,
        "INSERT INTO checks (source_id, at, ms, status, outcome) "
        "VALUES ('policy', '2026-01-05 00:00:00.000000', 5, 200, 'unchanged')",
    )
    (check_id,) = one(db, "SELECT max(id) FROM checks")
    when = datetime.fromisoformat(str(sealed_at)).strftime("%Y-%m-%d %H:%M:%S")
    assert failure(db) == (
        f"check #{check_id} is dated 2026-01-05 00:00:00 UTC, before the newest check digest "
        f"({when} UTC), but is in none: it was added behind the chain"
    )


def test_the_newest_checks_wait_for_their_digest_and_are_sealed_before_a_timestamp(db: Path) -> None:
    """Checks are sealed daily, or with the next change, event or timestamp: until then verify
    counts them apart; once sealed, an edit shows."""
    (sealed_at,) = one(db, "SELECT at FROM check_digests ORDER BY last_id DESC LIMIT 1")
    sql(
        db,
        "INSERT INTO checks (source_id, at, ms, status, outcome) VALUES ('policy', ?, 5, 200, 'unchanged')",
        str(sealed_at),
    )
    (check_id,) = one(db, "SELECT max(id) FROM checks")
    result = run_verify(db)
    assert result.exit_code == 0, result.output
    assert " newer, not yet sealed); " in result.output
    store = open_store(db)
    from monitor.store import stamps

    stamps.seal(store.engine)
    assert "not yet sealed" not in run_verify(db).output
    sql(db, "UPDATE checks SET outcome = 'failed' WHERE id = ?", check_id)
    assert failure(db).startswith(f"check #{check_id} (check digest #")


def test_an_edited_check_digest_is_named(db: Path) -> None:
    """Rewriting a check together with its stored hash breaks the digest's own ledger entry."""
    digest_id, seq = digest_of(db, 40)
    (leaves,) = one(db, "SELECT leaves FROM check_digests WHERE id = ?", digest_id)
    assert isinstance(leaves, bytes)
    assert len(leaves) % 32 == 0
    sql(db, "UPDATE check_digests SET leaves = ? WHERE id = ?", b"\0" * len(leaves), digest_id)
    assert failure(db) == (
        f"check digest #{digest_id} (ledger seq {seq}) was edited: "
        "its content no longer hashes to its ledger entry"
    )


def test_a_check_deleted_without_a_prune_record_is_not_taken_for_pruned(db: Path) -> None:
    """Prune chains the ids it deletes; a prune record forged behind the chain does not count."""
    digest_id, seq = digest_of(db, 40)
    sql(db, "DELETE FROM checks WHERE id = 40")
    sql(
        db,
        "INSERT INTO prunes (at, before, ids, count) VALUES (?, ?, '40', 1)",
        "2026-03-20 00:00:00.000000",
        "2026-03-01 00:00:00.000000",
    )
    assert (
        failure(db)
        == f"check #40 (check digest #{digest_id}, ledger seq {seq}) is missing: its row was deleted"
    )


def test_a_pruned_check_put_back_is_named(db: Path) -> None:
    store = open_store(db)
    audit = AuditStore(store)
    before = {c.id for c in audit.check_rows()}
    with store.engine.connect() as connection:
        rows = {r["id"]: dict(r) for r in connection.execute(text("SELECT * FROM checks")).mappings()}
    pruned = prune(audit, timedelta(days=1), datetime(2026, 6, 1, tzinfo=UTC))
    gone = sorted(before - {c.id for c in audit.check_rows()})
    assert pruned.total == len(gone) > 0
    assert verifier.verify(audit).pruned == pruned.total
    row = rows[gone[3]]
    columns = ", ".join(row)
    sql(db, f"INSERT INTO checks ({columns}) VALUES ({', '.join('?' for _ in row)})", *row.values())
    digest_id, seq = digest_of(db, gone[3])
    assert failure(db) == (
        f"check #{gone[3]} (check digest #{digest_id}, ledger seq {seq}) was deleted by prune record #1 "
        "but is there again: it was inserted afterwards"
    )


def test_a_published_head_catches_a_cut_tail(db: Path) -> None:
    """Deleting the newest records and their entries leaves a consistent chain: only a published
    head (or a timestamp token) tells."""
    head, seq = one(db, "SELECT hash, seq FROM ledger ORDER BY seq DESC LIMIT 1")
    assert run_verify(db, "--head", str(head)).exit_code == 0
    kind, digest_id = one(db, "SELECT record_type, record_id FROM ledger WHERE seq = ?", seq)
    assert kind == "checks"
    (first,) = one(db, "SELECT first_id FROM check_digests WHERE id = ?", digest_id)
    sql(db, "DELETE FROM checks WHERE id >= ?", first)
    sql(db, "DELETE FROM check_digests WHERE id = ?", digest_id)
    sql(db, "DELETE FROM ledger WHERE seq = ?", seq)
    assert run_verify(db).exit_code == 0
    result = run_verify(db, "--head", str(head))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: chain head {head} not found: no ledger entry's hash starts with it. Check it was copied "
        "whole from a report of this database; if it was, the history up to it was rewritten or cut short\n"
    )


def test_a_published_head_that_is_still_there_is_confirmed(db: Path) -> None:
    seq = seq_of(db, "change", 1)
    (early,) = one(db, "SELECT hash FROM ledger WHERE seq = ?", seq)
    result = run_verify(db, "--head", str(early))
    assert result.exit_code == 0
    assert result.output.endswith(f"the published head {early} (seq {seq}) is in the chain\n")


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
    assert result.line() == (
        "verified 0 records (0 snapshots, 0 changes, 0 events; 0 checks in 0 digests; 0 blobs); chain empty"
    )


def test_the_library_raises_integrity_error(db: Path) -> None:
    sql(db, "DELETE FROM changes WHERE id = 1")
    with pytest.raises(
        IntegrityError, match=rf"change #1 \(ledger seq {seq_of(db, 'change', 1)}\) is missing"
    ):
        verifier.verify(AuditStore(open_store(db)))


# -- on PostgreSQL ---------------------------------------------------------------------------------


@pytest.mark.postgres
def test_verify_export_and_prune_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """Server-side cursors, sequences that may skip, and the same chain: the same answers."""
    recorded = record(tmp_path, pg_url)
    runner = CliRunner()
    result = runner.invoke(main, ["--db", pg_url, "verify"])
    assert result.exit_code == 0, result.output
    assert "(5 snapshots, 3 changes, 5 events; " in result.output
    assert " checks in " in result.output
    exported = runner.invoke(main, ["--db", pg_url, "export", "--what", "checks", "--format", "jsonl"])
    assert len(exported.output.splitlines()) == 118
    store = open_store(pg_url)
    try:
        pruned = prune(AuditStore(store), timedelta(days=1), recorded.end + timedelta(days=10))
        assert pruned.total == 104
        after = verifier.verify(AuditStore(store))
        assert (after.checks + after.unsealed, after.pruned) == (118 - 104, 104)
        with store.engine.begin() as c:
            c.execute(text("UPDATE events SET title = 'edited' WHERE id = 4"))
        result = runner.invoke(main, ["--db", pg_url, "verify"])
        assert result.exit_code == 1
        assert "event #4 (ledger seq " in result.output
        assert ") was edited" in result.output
    finally:
        store.engine.dispose()
