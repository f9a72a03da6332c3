"""Screenshots in the store: kept with their snapshot, content-addressed, covered by the chain.

The PNGs here are real (written by tests/browser.py's Chromium would be slower and prove nothing
more about storage): small valid images built with zlib, recorded through ``Store.record`` into a
real SQLite file, then read back, verified, and tampered with.
"""

from __future__ import annotations

import sqlite3
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.audit import verify as verifier
from monitor.checking import CheckResult, NewSnapshot, sha256
from monitor.errors import IntegrityError
from monitor.store.audit_queries import AuditStore
from monitor.store.db import open_engine
from monitor.store.repo import Store
from monitor.watchlist import parse_watchlist

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WATCHLIST = "sources:\n  - id: shell\n    url: http://127.0.0.1:9/shell\n"


def png(red: int, width: int = 4, height: int = 3) -> bytes:
    """A valid RGB PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([red, 10, 20]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    image = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + image


def snapshot_result(n: int, text: str, screenshot: bytes | None, prev: int | None) -> CheckResult:
    """A check that stored a new text (no diff: only the snapshot matters here)."""
    body = f"<html><body><p>{text}</p></body></html>".encode()
    return CheckResult(
        source_id="shell",
        at=AT + timedelta(hours=n),
        ms=5,
        outcome="baseline" if prev is None else "changed",
        status=200,
        body_hash=sha256(body),
        prev_snapshot_id=prev,
        snapshot=NewSnapshot(
            body=body,
            body_hash=sha256(body),
            text=text,
            text_hash=sha256(text.encode()),
            headers={"Content-Type": "text/html; charset=utf-8"},
            request_headers={"User-Agent": "test"},
            url="http://127.0.0.1:9/shell",
            status=200,
            rules="r",
            screenshot=screenshot,
        ),
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "pm.db"
    store = Store(open_engine(f"sqlite:///{path}"))
    watchlist = parse_watchlist(WATCHLIST)
    store.sync(watchlist, AT)
    first = store.record([(snapshot_result(0, "first text", png(200), None), AT)], watchlist)
    second = store.record([(snapshot_result(1, "second text", png(200), 1), AT)], watchlist)
    third = store.record([(snapshot_result(2, "third text", None, 2), AT)], watchlist)
    assert [r.check_id for r in (*first, *second, *third)] == [1, 2, 3]
    store.engine.dispose()
    return path


def test_a_snapshot_returns_its_screenshot_and_one_without_returns_none(db: Path) -> None:
    store = Store(open_engine(f"sqlite:///{db}"))
    assert store.screenshot(1) == png(200)
    assert store.screenshot(2) == png(200)
    assert store.screenshot(3) is None


def test_the_same_picture_is_stored_once(db: Path) -> None:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT screenshot_hash FROM snapshots ORDER BY id").fetchall()
        digest = sha256(png(200))
        assert [r[0] for r in rows] == [digest, digest, None]
        assert connection.execute("SELECT count(*) FROM blobs WHERE hash = ?", (digest,)).fetchone() == (1,)


def test_verify_checks_the_screenshot_and_catches_a_replaced_one(db: Path) -> None:
    store = Store(open_engine(f"sqlite:///{db}"))
    verified = verifier.verify(AuditStore(store))
    assert verified.counts["snapshot"] == 3
    assert verified.blobs == 7
    store.engine.dispose()
    forged = zlib.compress(png(10))  # not even the codec's framing: any change to the bytes is caught
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE blobs SET data = ? WHERE hash = ?", (forged, sha256(png(200))))
    with pytest.raises(IntegrityError, match=r"snapshot #1 .*its stored screenshot"):
        verifier.verify(AuditStore(Store(open_engine(f"sqlite:///{db}"))))


def test_pointing_a_snapshot_at_another_screenshot_breaks_the_chain(db: Path) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE snapshots SET screenshot_hash = NULL WHERE id = 2")
    with pytest.raises(IntegrityError, match=r"snapshot #2 .*was edited"):
        verifier.verify(AuditStore(Store(open_engine(f"sqlite:///{db}"))))
