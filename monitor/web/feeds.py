"""Atom feeds (all events, one pledge's, one company's) and an iCalendar of pledge deadlines.

Feeds reuse the report's Atom template and entry ids (a UUID from the event's chain entry), so
a reader that followed the published report sees the same entries here. The calendar is
RFC 5545: CRLF lines folded at 75 octets, text escaped, one all-day event per deadline.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from monitor.audit.report import _FEED_NS, FEED_ENTRIES
from monitor.errors import NotFoundError
from monitor.web.app import base, web_of

ATOM = "application/atom+xml; charset=utf-8"


def site_url(request: Request) -> str:
    """The absolute URL of the dashboard's root, as the client reached it (proxy headers applied)."""
    return f"{request.url.scheme}://{request.url.netloc}{base(request)}/"


def _render(
    request: Request, rows: Sequence[Mapping[str, Any]], title: str, self_path: str, page: str
) -> Response:
    web = web_of(request)
    entries = []
    for row in rows:
        key = row["ledger_hash"] or f"{row['id']}:{row['created_at'].isoformat()}"
        entries.append(
            {
                "atom_id": f"urn:uuid:{uuid.uuid5(_FEED_NS, 'event:' + key)}",
                "title": row["title"],
                "at": row["created_at"],
                "href": f"event/{row['id']}",
                "kind": row["kind"],
                "severity": row["severity"],
                "summary": event_summary(row),
            }
        )
    updated = max((e["at"] for e in entries), default=web.clock())
    feed_id = f"urn:uuid:{uuid.uuid5(_FEED_NS, 'feed:' + site_url(request) + self_path)}"
    text = web.env.get_template("feed.xml").render(
        feed_id=feed_id,
        updated=updated,
        entries=entries,
        base_url=site_url(request),
        feed_title=title,
        self_href=self_path,
        alternate_href=page,
    )
    return Response(text, media_type=ATOM)


def event_summary(row: Mapping[str, Any]) -> str:
    details = row["details"] or {}
    parts: list[str] = [row["title"]]
    for key in ("summary", "passage", "url"):
        value = details.get(key)
        if isinstance(value, str) and value:
            parts.append(f"{key}: {value}")
    return "\n".join(parts)


def events_feed(request: Request) -> Response:
    rows = web_of(request).queries.events(limit=FEED_ENTRIES).rows
    return _render(request, rows, "pledge-monitor: events", "feed.xml", "events")


def pledge_feed(request: Request) -> Response:
    web = web_of(request)
    pledge_id = request.path_params["pledge_id"]
    pledge = web.queries.pledge(pledge_id)
    if pledge is None:
        raise NotFoundError(f"no pledge '{pledge_id}'")
    rows = web.queries.events(pledge_ids=[pledge_id], limit=FEED_ENTRIES).rows
    title = f"pledge-monitor: {pledge['company']}: {pledge['title']}"
    return _render(request, rows, title, f"pledge/{pledge_id}/feed.xml", f"pledge/{pledge_id}")


def company_feed(request: Request) -> Response:
    web = web_of(request)
    name = request.path_params["name"]
    ids = [p["id"] for p in web.pledges() if p["company"] == name]
    if not ids:
        raise NotFoundError(f"no pledges of a company named {name!r}")
    rows = web.queries.events(pledge_ids=ids, limit=FEED_ENTRIES).rows
    from monitor.web.app import seg

    return _render(
        request, rows, f"pledge-monitor: {name}", f"company/{seg(name)}/feed.xml", f"company/{seg(name)}"
    )


# -- the calendar -------------------------------------------------------------------------------


def calendar(request: Request) -> Response:
    web = web_of(request)
    text = ics(web.pledges(), site_url(request), web.clock())
    return Response(
        text,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="pledge-deadlines.ics"'},
    )


def deadline(pledge: Mapping[str, Any]) -> date | None:
    """When the pledge lapses: after any renewal (``effective_expiry``), else ``expires_on``."""
    spec = pledge["spec"] or {}
    if "effective_expiry" in spec:
        value = spec["effective_expiry"]
        return date.fromisoformat(value) if value else None
    expires: date | None = pledge["expires_on"]
    return expires


def ics(pledges: Sequence[Mapping[str, Any]], site: str, now: datetime) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//pledge-monitor//pledge deadlines//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Pledge deadlines",
    ]
    for p in pledges:
        day = deadline(p)
        if day is None or not p["active"]:
            continue
        lines += [
            "BEGIN:VEVENT",
            f"UID:{p['id']}-{day:%Y%m%d}@pledge-monitor",
            f"DTSTAMP:{now:%Y%m%dT%H%M%SZ}",
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{escape(p['company'] + ': ' + p['title'] + ' (pledge deadline)')}",
            f"DESCRIPTION:{escape('State: ' + p['state'] + '. ' + site + 'pledge/' + p['id'])}",
            f"URL:{site}pledge/{p['id']}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def escape(text: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon, comma and newlines escaped; no control characters."""
    text = "".join(ch for ch in text if ch >= " " or ch == "\n")
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (never mid-character)."""
    if len(line) <= 75 and len(line.encode()) <= 75:
        return line
    out: list[str] = []
    current = b""
    for ch in line:
        encoded = ch.encode()
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return "\r\n ".join(out)
