"""The integrity chain: canonical content of each record, and the hash that links it to the last.

Each ledger entry's hash covers the record's content hash and the previous entry's hash, so an
edited, deleted or reordered record breaks the chain from that point on.
"""

from __future__ import annotations

import hashlib
import json
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


CONTENT = {
    "snapshot": snapshot_content,
    "change": change_content,
    "event": event_content,
    "action": action_content,
}
