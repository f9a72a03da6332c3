"""Trusted timestamps: a real TSA on 127.0.0.1 (openssl ts -reply) stamps the chain head; verify
checks every token; a TSA that is down is retried later and never stops a check."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.audit import chain, timestamps
from monitor.cli import main
from monitor.stamping import stamp_due
from monitor.store import stamps
from monitor.watchlist import load_watchlist
from tests.audit_history import Recorded, copy_of, open_store, record
from tests.site import Site, policy_page
from tests.tsa import Tsa, running_tsa

CLAUSE = "We will not sell facial recognition technology to police departments in the United States"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tsa]:
    with running_tsa(tmp_path_factory.mktemp("tsa")) as running:
        yield running


@pytest.fixture(scope="module")
def other_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tsa]:
    with running_tsa(tmp_path_factory.mktemp("tsa2"), "Other") as running:
        yield running


def with_timestamps(db: Path, *tsas: Tsa, extra: str = "") -> None:
    """Add a timestamps: section to the copied watchlist, each TSA's root next to it."""
    folder = db.parent
    lines = ["timestamps:", "  tsa:"]
    for i, tsa in enumerate(tsas):
        shutil.copy(tsa.ca, folder / f"tsa-{i}.pem")
        lines += [f"    - url: {tsa.url}", f"      ca: tsa-{i}.pem"]
    text = (folder / "watchlist.yaml").read_text() + "\n".join(lines) + "\n" + textwrap.indent(extra, "  ")
    (folder / "watchlist.yaml").write_text(text)


@pytest.fixture
def db(recorded: Recorded, tmp_path: Path, tsa: Tsa) -> Path:
    path = copy_of(recorded, tmp_path / "db")
    with_timestamps(path, tsa)
    return path


def cli(db: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["-w", str(db.parent / "watchlist.yaml"), "--db", f"sqlite:///{db}", *args]
    )


def one(db: Path, query: str, *params: object) -> tuple[object, ...]:
    with sqlite3.connect(db) as connection:
        row = connection.execute(query, params).fetchone()
    assert row is not None, query
    return tuple(row)


def sql(db: Path, statement: str, *params: object) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute(statement, params)


def failure(db: Path) -> str:
    result = cli(db, "verify")
    assert result.exit_code == 1, result.output
    return result.output.removeprefix("Error: ").strip()


def test_stamp_stores_a_token_that_openssl_verifies_over_the_chain_head(db: Path, tsa: Tsa) -> None:
    result = cli(db, "stamp")
    assert result.exit_code == 0, result.output
    head_seq, head_hash, kind = one(db, "SELECT seq, hash, record_type FROM ledger ORDER BY seq DESC LIMIT 1")
    assert kind == "checks"  # the checks since the last digest were sealed before the stamp
    assert result.output.startswith(f"chain head seq {head_seq} timestamped by {tsa.url} at ")
    token, seq, stamped = one(db, "SELECT token, seq, head_hash FROM timestamps WHERE status = 'stamped'")
    assert (seq, stamped) == (head_seq, head_hash)
    assert isinstance(token, bytes)
    # outside the tool: the head hash as 64 hex characters is what the TSA signed
    head, tsr = db.parent / "head.txt", db.parent / "token.tsr"
    head.write_text(str(head_hash))
    tsr.write_bytes(token)
    checked = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(head), "-in", str(tsr), "-CAfile", str(tsa.ca)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "Verification: OK" in checked.stdout, checked.stderr


def test_verify_checks_every_token_and_says_so(db: Path, tsa: Tsa) -> None:
    assert cli(db, "stamp").exit_code == 0
    result = cli(db, "verify")
    assert result.exit_code == 0, result.output
    (seq,) = one(db, "SELECT seq FROM timestamps")
    assert f"; 1 timestamp, the latest over seq {seq} signed " in result.output
    assert result.output.rstrip().endswith(f"UTC by {tsa.url}")


def test_a_token_edited_by_one_byte_is_named(db: Path) -> None:
    assert cli(db, "stamp").exit_code == 0
    (ts_id, token, seq) = one(db, "SELECT id, token, seq FROM timestamps")
    assert isinstance(token, bytes)
    for offset in (len(token) // 2, len(token) - 5):  # in the signed content, in the signature
        forged = bytearray(token)
        forged[offset] ^= 0x01
        sql(db, "UPDATE timestamps SET token = ? WHERE id = ?", bytes(forged), ts_id)
        message = failure(db)
        assert message.startswith(
            f"timestamp #{ts_id} ({one(db, 'SELECT tsa_url FROM timestamps')[0]}, over seq {seq}): "
            "the token was altered or is not from this TSA: "
        ), message


def test_a_token_from_another_authority_is_refused(db: Path, tsa: Tsa, other_tsa: Tsa) -> None:
    """A forger who runs their own TSA cannot pass a token off as the configured one's."""
    (seq, head_hash) = one(db, "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1")
    query = timestamps.request(str(head_hash))
    forged = other_tsa.reply(query.as_bytes())
    url = tsa.url
    sql(
        db,
        "INSERT INTO timestamps (seq, head_hash, tsa_url, requested_at, status, token, gen_time) "
        "VALUES (?, ?, ?, '2026-03-20 00:00:00.000000', 'stamped', ?, '2026-03-20 00:00:00.000000')",
        seq, head_hash, url, forged,
    )  # fmt: skip
    message = failure(db)
    assert message.startswith(
        f"timestamp #1 ({url}, over seq {seq}): the token was altered or is not from this TSA: "
    )
    assert "does not verify against the TSA's root certificate" in message


def rechain(db: Path, from_seq: int) -> None:
    """Recompute every ledger entry from ``from_seq`` on, as a forger with the file would."""
    with sqlite3.connect(db) as connection:
        (prev,) = connection.execute("SELECT hash FROM ledger WHERE seq = ?", (from_seq - 1,)).fetchone()
        rows = connection.execute(
            "SELECT seq, record_type, record_id, content_hash FROM ledger WHERE seq >= ? ORDER BY seq",
            (from_seq,),
        ).fetchall()
        for seq, kind, rid, digest in rows:
            entry = chain.link(prev, kind, rid, digest)
            connection.execute("UPDATE ledger SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, entry, seq))
            prev = entry


def test_a_history_rewritten_after_its_stamp_is_named_with_the_time(db: Path) -> None:
    """Edit an event and rewrite the chain consistently: the walk passes, the token does not."""
    assert cli(db, "stamp").exit_code == 0
    (seq, gen_time, head_hash) = one(db, "SELECT seq, gen_time, head_hash FROM timestamps")
    sql(db, "UPDATE events SET title = 'Example Corp: nothing happened' WHERE id = 4")
    store = open_store(db)
    digest = chain.content_hash(chain.event_content(store.events_by_ids([4])[0]))
    (event_seq,) = one(db, "SELECT seq FROM ledger WHERE record_type = 'event' AND record_id = 4")
    sql(db, "UPDATE ledger SET content_hash = ? WHERE seq = ?", digest, event_seq)
    rechain(db, int(str(event_seq)))
    (new_hash,) = one(db, "SELECT hash FROM ledger WHERE seq = ?", seq)
    when = datetime.fromisoformat(str(gen_time)).strftime("%Y-%m-%d %H:%M:%S")
    url = one(db, "SELECT tsa_url FROM timestamps")[0]
    assert failure(db) == (
        f"timestamp #1 ({url}, over seq {seq}): ledger seq {seq} is not the entry that was stamped "
        f"(its hash is {str(new_hash)[:12]}..., the token's {str(head_hash)[:12]}...): "
        f"the history up to seq {seq} was rewritten after {when} UTC"
    )


def test_a_rewritten_head_is_caught_by_its_token(db: Path) -> None:
    """Cut the tail and re-chain: the chain walk passes, the token names what happened."""
    assert cli(db, "stamp").exit_code == 0
    (seq,) = one(db, "SELECT seq FROM timestamps")
    kind, digest_id = one(db, "SELECT record_type, record_id FROM ledger WHERE seq = ?", seq)
    assert kind == "checks"
    (first,) = one(db, "SELECT first_id FROM check_digests WHERE id = ?", digest_id)
    sql(db, "DELETE FROM checks WHERE id >= ?", first)
    sql(db, "DELETE FROM check_digests WHERE id = ?", digest_id)
    sql(db, "DELETE FROM ledger WHERE seq = ?", seq)
    assert failure(db) == (
        f"timestamp #1 ({one(db, 'SELECT tsa_url FROM timestamps')[0]}, over seq {seq}): ledger seq {seq} "
        "is gone: the chain was cut after it was stamped"
    )


def test_an_edited_stamp_time_is_named(db: Path) -> None:
    assert cli(db, "stamp").exit_code == 0
    sql(db, "UPDATE timestamps SET gen_time = '2020-01-01 00:00:00.000000'")
    message = failure(db)
    assert "its recorded time 2020-01-01 00:00:00 UTC is not the time in the token" in message
    assert message.endswith(": the row was edited")


# -- when stamps are due, and TSAs that are down ---------------------------------------------------


def test_not_due_again_until_the_chain_moves(db: Path) -> None:
    store = open_store(db)
    wl = load_watchlist(db.parent / "watchlist.yaml")
    now = datetime(2026, 3, 20, tzinfo=UTC)
    assert [s.error for s in stamp_due(store, wl, now)] == [None]
    assert stamp_due(store, wl, now + timedelta(days=3)) == []  # nothing new to stamp
    result = cli(db, "stamp")
    assert result.output == "nothing to stamp: every TSA has stamped the head, or waits to retry (--force)\n"


def test_a_tsa_that_is_down_is_recorded_and_retried_later(db: Path, tsa: Tsa) -> None:
    store = open_store(db)
    wl = load_watchlist(db.parent / "watchlist.yaml")
    now = datetime(2026, 3, 20, tzinfo=UTC)
    tsa.down = True
    try:
        (failed,) = stamp_due(store, wl, now)
        assert failed.error == "HTTP 503"
        assert failed.line().endswith("failed: HTTP 503 (retried later)")
        assert stamp_due(store, wl, now + timedelta(minutes=14)) == []  # waits retry_after (15m)
    finally:
        tsa.down = False
    (again,) = stamp_due(store, wl, now + timedelta(minutes=16))
    assert again.error is None
    rows = [(r.status, r.error) for r in [*stamps.tokens(store.engine)]]
    assert rows == [("stamped", None)]
    assert one(db, "SELECT count(*) FROM timestamps WHERE status = 'failed'") == (1,)


def test_a_tsa_that_is_unreachable_does_not_stop_the_others(db: Path, other_tsa: Tsa) -> None:
    with_timestamps(db, other_tsa)  # a second section would be a duplicate key: rewrite instead
    text = (db.parent / "watchlist.yaml").read_text()
    head, _, _ = text.partition("timestamps:")
    (db.parent / "watchlist.yaml").write_text(
        head + f"timestamps:\n  tsa:\n    - url: http://127.0.0.1:9/tsr\n      ca: tsa-0.pem\n"
        f"    - url: {other_tsa.url}\n      ca: tsa-1.pem\n"
    )
    shutil.copy(other_tsa.ca, db.parent / "tsa-1.pem")
    result = cli(db, "stamp")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("timestamp of chain head seq ")
    assert "by http://127.0.0.1:9/tsr failed: " in lines[0]
    assert lines[1].startswith("chain head seq ")
    assert f"timestamped by {other_tsa.url}" in lines[1]
    verified = cli(db, "verify")
    assert verified.exit_code == 0
    assert f"by {other_tsa.url}" in verified.output


def test_every_tsa_failing_is_exit_1(db: Path, tsa: Tsa) -> None:
    tsa.down = True
    try:
        result = cli(db, "stamp")
    finally:
        tsa.down = False
    assert result.exit_code == 1
    assert result.output.endswith("Error: no TSA stamped the chain head\n")


def test_a_missing_root_certificate_is_a_watchlist_error(db: Path) -> None:
    (db.parent / "tsa-0.pem").unlink()
    result = cli(db, "stamp")
    assert result.exit_code == 1
    assert "watchlist.yaml:" in result.output
    assert "timestamps.tsa[0].ca: no file 'tsa-0.pem'" in result.output


# -- after checks: the check command stamps, and a TSA never blocks a check ------------------------


def site_watchlist(folder: Path, site: Site, tsa: Tsa) -> Path:
    shutil.copy(tsa.ca, folder / "tsa.pem")
    path = folder / "watchlist.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            defaults:
              confirm_after: 0s
            sources:
              - id: policy
                url: {site.url("/policy")}
            pledges:
              - id: no-police-sales
                company: Example Corp
                title: No sales to police
                made_on: 2020-06-11
                sources: [policy]
                clauses: ["{CLAUSE}"]
            timestamps:
              tsa:
                - url: {tsa.url}
                  ca: tsa.pem
            """
        )
    )
    return path


def test_check_stamps_after_a_change_and_a_tsa_down_never_blocks_a_check(
    site: Site, tsa: Tsa, tmp_path: Path
) -> None:
    path = site_watchlist(tmp_path, site, tsa)
    site.put("/policy", policy_page(f"<p>{CLAUSE}.</p>"))
    run = lambda: CliRunner().invoke(main, ["-w", str(path), "check", "--all"])  # noqa: E731
    first = run()
    assert first.exit_code == 0, first.output
    assert "  chain head seq " in first.output
    assert f"timestamped by {tsa.url}" in first.output
    tsa.down = True
    try:
        site.put("/policy", policy_page(f"<p>{CLAUSE} at this time.</p>"))
        second = run()
    finally:
        tsa.down = False
    assert second.exit_code == 0, second.output
    assert "pledge." in second.output  # the change was recorded and reported
    assert f"by {tsa.url} failed: HTTP 503 (retried later)" in second.output
    db = tmp_path / "pledge-monitor.db"
    assert one(db, "SELECT count(*) FROM changes") == (1,)
    verified = CliRunner().invoke(main, ["-w", str(path), "verify"])
    assert verified.exit_code == 0, verified.output


def test_the_timestamps_section_is_validated_with_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(
        "sources: []\ntimestamps:\n  tsa:\n    - url: ftp://tsa.example\n      ca: x.pem\n  evry: 1d\n"
    )
    result = CliRunner().invoke(main, ["-w", str(path), "validate"])
    assert result.exit_code == 1
    assert f"{path}:6: timestamps.evry: unknown key 'evry' (did you mean 'every'?)" in result.output
    assert f"{path}:4: timestamps.tsa[0].url: expected an http(s) URL" in result.output
