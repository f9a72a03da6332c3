"""The integrity chain: canonical content of each record, and the hash that links it to the last.

Each ledger entry's hash covers the record's content hash and the previous entry's hash, so an
edited, deleted or reordered record breaks the chain from that point on. Checks are many and
small, so they are chained a batch at a time: a ``checks`` record holds the sha256 of each check
of the batch (a "leaf"), and prune leaves a chained ``prune`` record naming what it deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def canonical(content: dict[str, Any]) -> bytes:
    """One byte string per content: sorted keys, no spaces, datetimes as ISO 8601 UTC."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), default=_default, ensure_ascii=False
    ).encode()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot put {type(value).__name__} in a ledger record")


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


def link(prev_hash: str, record_type: str, record_id: int, digest: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{record_type}|{record_id}|{digest}".encode()).hexdigest()


def snapshot_content(row: Any) -> dict[str, Any]:
    """A screenshot's hash is covered when there is one; snapshots without one hash as they always did."""
    content = {
        "id": row.id,
        "source_id": row.source_id,
        "check_id": row.check_id,
        "fetched_at": row.fetched_at,
        "url": row.url,
        "status": row.status,
        "headers": row.headers,
        "request_headers": row.request_headers,
        "body_hash": row.body_hash,
        "text_hash": row.text_hash,
        "rules": row.rules,
    }
    if getattr(row, "screenshot_hash", None):
        content["screenshot_hash"] = row.screenshot_hash
    return content


def change_content(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "source_id": row.source_id,
        "from_snapshot_id": row.from_snapshot_id,
        "to_snapshot_id": row.to_snapshot_id,
        "detected_at": row.detected_at,
        "added_words": row.added_words,
        "removed_words": row.removed_words,
        "delta": hashlib.sha256(row.delta.encode()).hexdigest(),
        "summary": row.summary,
    }


def event_content(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "severity": row.severity,
        "created_at": row.created_at,
        "pledge_id": row.pledge_id,
        "source_id": row.source_id,
        "change_id": row.change_id,
        "check_id": row.check_id,
        "title": row.title,
        "details": row.details,
    }


def action_content(row: Any) -> dict[str, Any]:
    """A person's action through the dashboard: who (a token's name, never the token) and when."""
    return {
        "id": row.id,
        "kind": row.kind,
        "actor": row.actor,
        "at": row.at,
        "target_kind": row.target_kind,
        "target": row.target,
        "until": row.until,
        "note": row.note,
    }


def check_content(row: Any) -> dict[str, Any]:
    """A check as its leaf in a digest: every column, so any edit shows."""
    return {
        "id": row.id,
        "source_id": row.source_id,
        "at": row.at,
        "ms": row.ms,
        "status": row.status,
        "outcome": row.outcome,
        "final_url": row.final_url,
        "redirects": row.redirects,
        "etag": row.etag,
        "last_modified": row.last_modified,
        "error": row.error,
        "snapshot_id": row.snapshot_id,
        "note": row.note,
    }


def check_leaf(row: Any) -> bytes:
    """The 32-byte sha256 of one check's content, as a digest stores it."""
    return hashlib.sha256(canonical(check_content(row))).digest()


def checks_content(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "first_id": row.first_id,
        "last_id": row.last_id,
        "ids": row.ids,
        "leaves": hashlib.sha256(row.leaves).hexdigest(),
        "at": row.at,
    }


def prune_content(row: Any) -> dict[str, Any]:
    return {"id": row.id, "at": row.at, "before": row.before, "ids": row.ids, "count": row.count}


def archive_content(row: Any) -> dict[str, Any]:
    """A public archive copy of a changed page, chained once saved."""
    return {
        "id": row.id,
        "change_id": row.change_id,
        "url": row.url,
        "archive_url": row.archive_url,
        "saved_at": row.saved_at,
    }


CONTENT = {
    "snapshot": snapshot_content,
    "change": change_content,
    "event": event_content,
    "action": action_content,
    "checks": checks_content,
    "prune": prune_content,
    "archive": archive_content,
}


def id_ranges(ids: Iterable[int]) -> str:
    """Sorted ids as compact ranges: [1, 2, 3, 7] -> "1-3,7"."""
    parts: list[str] = []
    start = prev = None
    for i in sorted(ids):
        if prev is not None and i == prev + 1:
            prev = i
            continue
        if start is not None:
            parts.append(_range(start, prev))
        start = prev = i
    if start is not None:
        parts.append(_range(start, prev))
    return ",".join(parts)


def _range(start: int, end: int | None) -> str:
    return str(start) if end == start else f"{start}-{end}"


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """ "1-3,7" -> [(1, 3), (7, 7)]; the inverse of id_ranges."""
    out: list[tuple[int, int]] = []
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        out.append((int(first), int(last or first)))
    return out


def expand(ranges: Iterable[tuple[int, int]]) -> Iterator[int]:
    for first, last in ranges:
        yield from range(first, last + 1)
