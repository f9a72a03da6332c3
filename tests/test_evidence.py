"""evidence: a change as a WARC file that reads back with warcio, byte for byte."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from monitor.cli import main
from monitor.store.audit_queries import AuditStore
from monitor.store.repo import Store
from tests.audit_history import ARTICLE_WEAK, ARTICLE_XSS, Recorded, copy_of, open_store, record
from tests.site import policy_page


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def db(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_of(recorded, tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
def warc(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("warc") / "change-2.warc.gz"
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "evidence", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"wrote 6 records to {out}: snapshots #3 and #4 of policy as fetched, and the hashes\n"
    )
    return out


@pytest.fixture(scope="module")
def store(db: Path) -> Store:
    return open_store(db)


@dataclass(frozen=True)
class Rec:
    type: str
    warc: dict[str, str]
    http: Any  # warcio's StatusAndHeaders, or None
    raw: bytes


def records(warc: Path) -> list[Rec]:
    """Every record as read back by warcio: type, WARC and HTTP headers, and the payload as stored."""
    with warc.open("rb") as stream:
        return [
            Rec(rec.rec_type, dict(rec.rec_headers.headers), rec.http_headers, rec.raw_stream.read())
            for rec in ArchiveIterator(stream)
        ]


def test_the_warc_holds_a_request_and_a_response_per_snapshot_and_one_metadata_record(warc: Path) -> None:
    assert [r.type for r in records(warc)] == [
        "warcinfo",
        "response",
        "request",
        "response",
        "request",
        "metadata",
    ]


def test_response_payloads_are_byte_identical_to_the_stored_and_served_bodies(
    warc: Path, store: Store, recorded: Recorded
) -> None:
    responses = [r for r in records(warc) if r.type == "response"]
    expected = [store.load_blob(store.snapshot(i).body_hash) for i in (3, 4)]
    assert [r.raw for r in responses] == expected
    assert expected == [policy_page(ARTICLE_XSS).encode(), policy_page(ARTICLE_WEAK).encode()]
    assert all(body in recorded.served["policy"] for body in expected)  # what the site really sent
    with warc.open("rb") as stream:  # and through warcio's decoding path too
        decoded = [r.content_stream().read() for r in ArchiveIterator(stream) if r.rec_type == "response"]
    assert decoded == expected


def test_records_name_the_fetched_url_and_time(warc: Path, store: Store) -> None:
    found = [r for r in records(warc) if r.type in ("request", "response")]
    snaps = [store.snapshot(3), store.snapshot(3), store.snapshot(4), store.snapshot(4)]
    for rec, snap in zip(found, snaps, strict=True):
        headers = rec.warc
        assert headers["WARC-Target-URI"] == snap.url
        assert headers["WARC-Date"] == snap.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert found[1].warc["WARC-Concurrent-To"] == found[0].warc["WARC-Record-ID"]


def test_response_headers_describe_the_stored_payload_and_keep_the_originals(
    warc: Path, store: Store
) -> None:
    response = next(r for r in records(warc) if r.type == "response")
    http = response.http
    snap = store.snapshot(3)
    assert http.get_statuscode() == "200"
    assert http.protocol == "HTTP/1.1"
    assert http.get_header("Content-Encoding") is None
    assert http.get_header("Transfer-Encoding") is None
    assert http.get_header("Content-Length") == str(len(response.raw))
    assert http.get_header("X-Original-Content-Encoding") == "gzip"
    sent = gzip.compress(policy_page(ARTICLE_XSS).encode(), mtime=0)
    assert http.get_header("X-Original-Content-Length") == str(len(sent))
    assert http.get_header("Content-Type") == snap.headers["Content-Type"]


def test_request_records_rebuild_the_get_as_sent(warc: Path, store: Store) -> None:
    request = next(r for r in records(warc) if r.type == "request")
    http = request.http
    snap = store.snapshot(3)
    assert http.protocol == "GET"
    assert http.statusline == "/policy HTTP/1.1"
    assert http.get_header("Host") == snap.url.split("/")[2]
    assert http.get_header("User-Agent") == "pledge-monitor-test"
    assert http.get_header("Accept-Encoding") == snap.request_headers["Accept-Encoding"]
    assert request.raw == b""


def test_the_metadata_record_ties_the_bytes_to_the_chain(warc: Path, store: Store) -> None:
    meta = next(r for r in records(warc) if r.type == "metadata")
    doc = json.loads(meta.raw)
    audit = AuditStore(store)
    assert doc["change_id"] == 2
    assert doc["source_id"] == "policy"
    assert doc["detected_at"] == "2026-01-13T12:00:00Z"
    change_entry = audit.ledger_entry("change", 2)
    assert change_entry is not None
    assert doc["change_ledger"] == {
        "seq": change_entry.seq,
        "content_hash": change_entry.content_hash,
        "hash": change_entry.hash,
    }
    for side, snapshot_id in (("before", 3), ("after", 4)):
        snap = store.snapshot(snapshot_id)
        entry = audit.ledger_entry("snapshot", snapshot_id)
        assert entry is not None
        body = store.load_blob(snap.body_hash)
        assert doc["snapshots"][side] == {
            "snapshot_id": snapshot_id,
            "check_id": snap.check_id,
            "checked_at": snap.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "url": snap.url,
            "status": 200,
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_length": len(body),
            "text_sha256": snap.text_hash,
            "headers_rewritten": {
                "Content-Encoding": "gzip",
                "Content-Length": str(len(gzip.compress(body, mtime=0))),
            },
            "ledger": {"seq": entry.seq, "content_hash": entry.content_hash, "hash": entry.hash},
        }
    head = audit.head()
    assert head is not None
    assert doc["chain_head"]["hash"] == head.hash


def test_an_unknown_change_is_one_clear_error(db: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--db", f"sqlite:///{db}", "evidence", "99", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 1
    assert result.output == "Error: no change with id 99 (see `pledge-monitor history`)\n"
    assert not (tmp_path / "x").exists()


def test_a_tampered_body_is_refused_as_evidence(recorded: Recorded, tmp_path: Path) -> None:
    import sqlite3

    import zstandard

    db = copy_of(recorded, tmp_path / "db")
    with sqlite3.connect(db) as connection:
        (body_hash,) = connection.execute("SELECT body_hash FROM snapshots WHERE id = 3").fetchone()
        connection.execute(
            "UPDATE blobs SET data = ?, codec = 'zstd', base = NULL WHERE hash = ?",
            (zstandard.ZstdCompressor().compress(b"forged"), body_hash),
        )
    result = CliRunner().invoke(
        main, ["--db", f"sqlite:///{db}", "evidence", "2", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: the stored body of snapshot #3 does not match its hash: run `pledge-monitor verify`\n"
    )
