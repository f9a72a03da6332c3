"""A change as evidence: a WARC file any web archive tool can open.

For each of the change's two snapshots, a ``request`` record (the GET as sent: the URL and the
request headers we kept) and a ``response`` record (status, response headers, and the body bytes
exactly as stored), a ``resource`` record with its screenshot when the source takes them (a PNG,
``WARC-Target-URI: urn:screenshot:<url>``, concurrent to the response), and one ``metadata``
record with the check times and every hash that ties the bytes to the integrity chain.

A page read in the browser (``browser: true``) has the DOM after its scripts ran as its body: its
headers say ``X-Rendered-By: Chromium ...``, and so does the metadata (``rendered_by``).

The fetcher stores the body after undoing any Content-Encoding (gzip on the wire), so the
response record's headers say what its payload is: Content-Encoding and Transfer-Encoding are
dropped and Content-Length is the stored length. The headers as received are kept next to them as
``X-Original-Content-Encoding``, ``X-Original-Transfer-Encoding`` and ``X-Original-Content-Length``,
and in the metadata record.
"""

from __future__ import annotations

import hashlib
import http
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from monitor.errors import IntegrityError
from monitor.store.audit_queries import AuditStore, LedgerEntry

REWRITTEN = ("Content-Encoding", "Transfer-Encoding", "Content-Length")


@dataclass(frozen=True)
class Fetch:
    """One snapshot as evidence: what was sent, what came back, and where it sits in the chain."""

    snapshot_id: int
    check_id: int
    fetched_at: datetime
    url: str
    status: int
    request_headers: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    body_hash: str
    text_hash: str
    ledger: LedgerEntry | None
    screenshot: bytes | None = None
    screenshot_hash: str | None = None


@dataclass(frozen=True)
class Evidence:
    change_id: int
    source_id: str
    summary: str
    detected_at: datetime
    change_ledger: LedgerEntry | None
    head: LedgerEntry | None
    before: Fetch
    after: Fetch


def gather(audit: AuditStore, change_id: int) -> Evidence:
    """Everything the WARC needs about one change, read from the store."""
    store = audit.store
    change = store.change(change_id)
    before, after = (_fetch(audit, sid) for sid in (change.from_snapshot_id, change.to_snapshot_id))
    return Evidence(
        change_id=change.id,
        source_id=change.source_id,
        summary=change.summary,
        detected_at=change.detected_at,
        change_ledger=audit.ledger_entry("change", change.id),
        head=audit.head(),
        before=before,
        after=after,
    )


def _fetch(audit: AuditStore, snapshot_id: int) -> Fetch:
    snap = audit.store.snapshot(snapshot_id)
    body = _verified(audit, snap.id, "body", snap.body_hash)
    picture = snap.screenshot_hash
    screenshot = _verified(audit, snap.id, "screenshot", picture) if picture else None
    return Fetch(
        snapshot_id=snap.id,
        check_id=snap.check_id,
        fetched_at=snap.fetched_at,
        url=snap.url,
        status=snap.status,
        request_headers=dict(snap.request_headers),
        headers=dict(snap.headers),
        body=body,
        body_hash=snap.body_hash,
        text_hash=snap.text_hash,
        ledger=audit.ledger_entry("snapshot", snap.id),
        screenshot=screenshot,
        screenshot_hash=snap.screenshot_hash,
    )


def _verified(audit: AuditStore, snapshot_id: int, what: str, digest: str) -> bytes:
    data = audit.store.load_blob(digest)
    if hashlib.sha256(data).hexdigest() != digest:
        raise IntegrityError(
            f"the stored {what} of snapshot #{snapshot_id} does not match its hash: "
            "run `pledge-monitor verify`"
        )
    return data


def warc_date(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def request_headers(fetch: Fetch) -> StatusAndHeaders:
    """The GET as sent; ``requests`` adds Host on the wire, so it is put back first."""
    parts = urlsplit(fetch.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [(k, str(v)) for k, v in fetch.request_headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    return StatusAndHeaders(f"GET {target} HTTP/1.1", headers, is_http_request=True)


def response_headers(fetch: Fetch) -> StatusAndHeaders:
    """The response headers as received, made true of the payload as stored (see the module doc)."""
    headers: list[tuple[str, str]] = []
    originals: list[tuple[str, str]] = []
    for name, value in fetch.headers.items():
        if name.lower() in {h.lower() for h in REWRITTEN}:
            canonical = next(h for h in REWRITTEN if h.lower() == name.lower())
            originals.append((f"X-Original-{canonical}", str(value)))
        else:
            headers.append((name, str(value)))
    headers.append(("Content-Length", str(len(fetch.body))))
    headers.extend(originals)
    return StatusAndHeaders(_status_line(fetch.status), headers, protocol="HTTP/1.1")


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def metadata(evidence: Evidence) -> dict[str, Any]:
    """The record of what the WARC holds and how to check it against the chain."""
    return {
        "change_id": evidence.change_id,
        "source_id": evidence.source_id,
        "summary": evidence.summary,
        "detected_at": warc_date(evidence.detected_at),
        "change_ledger": _ledger(evidence.change_ledger),
        "chain_head": _ledger(evidence.head),
        "snapshots": {
            "before": _fetch_metadata(evidence.before),
            "after": _fetch_metadata(evidence.after),
        },
    }


def _fetch_metadata(fetch: Fetch) -> dict[str, Any]:
    received = {k: str(v) for k, v in fetch.headers.items() if k.lower() in {h.lower() for h in REWRITTEN}}
    browser = {  # only for pages read in the browser: other snapshots' metadata is as it always was
        "screenshot_sha256": fetch.screenshot_hash,
        "rendered_by": next((str(v) for k, v in fetch.headers.items() if k.lower() == "x-rendered-by"), None),
    }
    return {
        **{k: v for k, v in browser.items() if v is not None},
        "snapshot_id": fetch.snapshot_id,
        "check_id": fetch.check_id,
        "checked_at": warc_date(fetch.fetched_at),
        "url": fetch.url,
        "status": fetch.status,
        "body_sha256": fetch.body_hash,
        "body_length": len(fetch.body),
        "text_sha256": fetch.text_hash,
        "headers_rewritten": received,
        "ledger": _ledger(fetch.ledger),
    }


def _ledger(entry: LedgerEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"seq": entry.seq, "content_hash": entry.content_hash, "hash": entry.hash}


def write_warc(evidence: Evidence, out: BinaryIO, *, filename: str = "") -> int:
    """Write the gzipped WARC to ``out``; returns the number of records written."""
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    info = {
        "software": "pledge-monitor",
        "format": "WARC File Format 1.1",
        "description": f"evidence for change #{evidence.change_id} of {evidence.source_id}",
    }
    warcinfo = writer.create_warcinfo_record(filename, info)
    warcinfo.rec_headers.replace_header("WARC-Record-ID", _record_id(evidence, "warcinfo"))
    warcinfo.rec_headers.replace_header("WARC-Date", warc_date(evidence.detected_at))
    writer.write_record(warcinfo)
    written = 1
    response_ids = []
    for side, fetch in (("before", evidence.before), ("after", evidence.after)):
        response_ids.append(_write_exchange(writer, fetch, evidence, side))
        written += 2
        if fetch.screenshot is not None:
            _write_screenshot(writer, fetch, response_ids[-1], _record_id(evidence, f"{side}:screenshot"))
            written += 1
    payload = json.dumps(metadata(evidence), indent=2, sort_keys=True).encode()
    record = writer.create_warc_record(
        evidence.after.url,
        "metadata",
        payload=BytesIO(payload),
        length=len(payload),
        warc_content_type="application/json",
        warc_headers_dict={
            "WARC-Record-ID": _record_id(evidence, "metadata"),
            "WARC-Date": warc_date(evidence.detected_at),
            "WARC-Concurrent-To": response_ids[-1],
        },
    )
    writer.write_record(record)
    return written + 1


def _record_id(evidence: Evidence, role: str) -> str:
    """The same record id for the same change and role: the same evidence makes the same file."""
    name = f"pledge-monitor:change:{evidence.change_id}:{role}:{evidence.after.body_hash}"
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}>"


def _write_exchange(writer: WARCWriter, fetch: Fetch, evidence: Evidence, side: str) -> str:
    date = warc_date(fetch.fetched_at)
    response_id = _record_id(evidence, f"{side}:response")
    response = writer.create_warc_record(
        fetch.url,
        "response",
        payload=BytesIO(fetch.body),
        length=len(fetch.body),
        http_headers=response_headers(fetch),
        warc_headers_dict={"WARC-Record-ID": response_id, "WARC-Date": date},
    )
    request = writer.create_warc_record(
        fetch.url,
        "request",
        http_headers=request_headers(fetch),
        warc_headers_dict={
            "WARC-Record-ID": _record_id(evidence, f"{side}:request"),
            "WARC-Date": date,
            "WARC-Concurrent-To": response_id,
        },
    )
    writer.write_record(response)
    writer.write_record(request)
    return response_id


def _write_screenshot(writer: WARCWriter, fetch: Fetch, response_id: str, record_id: str) -> None:
    """The picture of the page as the browser showed it, tied to the response it was taken with;
    its record id is derived like the others, so an evidence pack is the same bytes when made again."""
    assert fetch.screenshot is not None
    record = writer.create_warc_record(
        f"urn:screenshot:{fetch.url}",
        "resource",
        payload=BytesIO(fetch.screenshot),
        length=len(fetch.screenshot),
        warc_content_type="image/png",
        warc_headers_dict={
            "WARC-Record-ID": record_id,
            "WARC-Date": warc_date(fetch.fetched_at),
            "WARC-Concurrent-To": response_id,
        },
    )
    writer.write_record(record)
