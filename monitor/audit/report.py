"""A static HTML report an auditor can open from disk or publish, and an Atom feed of events.

Everything that came from a monitored page is untrusted: the templates autoescape every value,
the only pre-rendered markup is the diff (``monitor.diff`` escapes each fragment it wraps), and
each page carries a Content-Security-Policy that allows no script at all, so a page that said
``<script>`` shows it as text. No external assets and no JavaScript: the report reads the same
from a USB stick, a web server or a phone.

Layout of the output folder::

    index.html               pledges with state and last check, sources, latest events, chain head
    pledge/<id>.html         attestation summary and timeline of one pledge
    source/<id>.html         attestation summary, snapshots and timeline of one source
    change/<id>.html         inline and side-by-side word diff of one change
    snapshot/<id>.html       one snapshot: extracted text, headers, raw body as text
    screenshot/<sha256>.png  the pictures of ``screenshot: true`` sources, one file per distinct image
    feed.xml                 Atom feed of the latest events, linking to the pages above
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from monitor import diff as differ
from monitor.audit.history import Entry, History, entry_link, summary
from monitor.errors import MonitorError
from monitor.store import models as m
from monitor.store.archives import archive_urls
from monitor.store.audit_queries import AuditStore, LedgerEntry

FEED_ENTRIES = 100
LATEST_EVENTS = 20
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_FEED_NS = uuid.UUID("5b1c8f2e-6a53-4c1e-9a0e-2f4f8d1e7c31")


@dataclass(frozen=True)
class Built:
    """What ``build`` wrote."""

    out: Path
    pages: int
    head: LedgerEntry | None


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("monitor", "templates/report"),
        autoescape=select_autoescape(["html", "xml"], default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(when=when, day=day, rfc3339=rfc3339, xml_safe=xml_safe)
    return env


def when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def day(value: datetime | date | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d}"


def rfc3339(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def xml_safe(value: Any) -> str:
    """XML 1.0 cannot carry most control characters, even escaped: drop them."""
    return _XML_INVALID.sub("", str(value))


def file_name(record_id: object) -> str:
    """Ids are slugs already; anything else still cannot climb out of the folder."""
    name = _UNSAFE_NAME.sub("_", str(record_id))
    return f"{name}.html" if name not in ("", ".", "..") else "_.html"


def web_link(url: str) -> str | None:
    """Only http(s) URLs become links; anything else (javascript:, data:) stays text."""
    return url if re.match(r"https?://", url, re.IGNORECASE) else None


class Report:
    """Renders the pages of one report into ``out``; reads through ``audit``."""

    def __init__(self, audit: AuditStore, out: Path, now: datetime, base_url: str | None = None) -> None:
        self.audit, self.out, self.now = audit, out, now
        self.base_url = base_url.rstrip("/") + "/" if base_url else None
        self.env = environment()
        self.head = audit.head()
        self.pages = 0
        self._pictures: set[str] = set()

    def build(self) -> Built:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            for folder in ("pledge", "source", "change", "snapshot", "screenshot"):
                _refuse_symlink(self.out / folder)
                (self.out / folder).mkdir(exist_ok=True)
        except OSError as exc:
            raise MonitorError(f"cannot write the report to {self.out}: {exc.strerror}") from exc
        sources = self.audit.store.sources()
        pledges = self.audit.store.pledges()
        self._index(pledges, sources)
        for pledge in pledges:
            self._pledge(pledge, sources)
        for source in sources:
            self._source(source, pledges)
        events_by_change = self.audit.events_by_change()
        changes = self.audit.changes(None)
        copies = archive_urls(self.audit.store.engine, [c.id for c in changes])
        for change in changes:
            self._change(change, events_by_change.get(change.id, []), copies.get(change.id))
        for snap in self.audit.snapshots():
            self._snapshot(snap)
        self._feed()
        return Built(self.out, self.pages, self.head)

    # -- writing -----------------------------------------------------------------------------

    def _render(self, template: str, path: str, **context: Any) -> None:
        root = "../" * path.count("/")
        text = self.env.get_template(template).render(
            root=root, generated=self.now, head=self.head, feed=True, **context
        )
        self._write(path, text)

    def _write(self, path: str, text: str) -> None:
        """A new file renamed over the name: a symlink planted there is replaced, never written
        through (a published folder may be writable by others)."""
        target = self.out / path
        try:
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.chmod(temporary, 0o644)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise MonitorError(f"cannot write {target}: {exc.strerror}") from exc
        self.pages += 1

    # -- pages -------------------------------------------------------------------------------

    def _index(self, pledges: list[m.Pledge], sources: list[m.Source]) -> None:
        last_check = {s.id: s.last_check_at for s in sources}
        rows = []
        for p in pledges:
            times = [t for sid in (p.spec or {}).get("sources", ()) if (t := last_check.get(sid))]
            rows.append(
                {
                    "company": p.company,
                    "title": p.title,
                    "state": p.state,
                    "state_since": p.state_since,
                    "active": p.active,
                    "last_check": max(times) if times else None,
                    "href": f"pledge/{file_name(p.id)}",
                }
            )
        source_rows = [
            {
                "id": s.id,
                "url": s.url,
                "health": s.health,
                "last_check_at": s.last_check_at,
                "last_good_at": s.last_good_at,
                "href": f"source/{file_name(s.id)}",
            }
            for s in sources
        ]
        events = [self._event_link(e, "") for e in self.audit.recent_events(LATEST_EVENTS)]
        self._render("index.html", "index.html", pledges=rows, sources=source_rows, events=events)

    def _pledge(self, pledge: m.Pledge, sources: list[m.Source]) -> None:
        history = self.audit.history(self.audit.scope(pledge_id=pledge.id))
        spec = pledge.spec or {}
        known = {s.id for s in sources}
        self._render(
            "pledge.html",
            f"pledge/{file_name(pledge.id)}",
            pledge=pledge,
            clauses=spec.get("clauses", []),
            sources=[
                {"id": sid, "href": f"../source/{file_name(sid)}"}
                for sid in spec.get("sources", ())
                if sid in known
            ],
            attestation=summary(history),
            entries=self._entries(history),
        )

    def _source(self, source: m.Source, pledges: list[m.Pledge]) -> None:
        history = self.audit.history(self.audit.scope(source_id=source.id))
        carried = [p for p in pledges if source.id in (p.spec or {}).get("sources", ())]
        self._render(
            "source.html",
            f"source/{file_name(source.id)}",
            source={
                "id": source.id,
                "url": source.url,
                "link": web_link(source.url),
                "health": source.health,
            },
            pledges=[{"id": p.id, "href": f"../pledge/{file_name(p.id)}"} for p in carried],
            snapshots=[
                {"id": sid, "at": at, "href": f"../snapshot/{file_name(sid)}"}
                for sid, at in self.audit.snapshot_ids([source.id])
            ],
            attestation=summary(history),
            entries=self._entries(history),
        )

    def _entries(self, history: History) -> list[dict[str, Any]]:
        return [self._entry(e) for e in history.entries]

    def _entry(self, entry: Entry) -> dict[str, Any]:
        href, anchor = entry_link(entry, lambda kind, ref: f"../{kind}/{file_name(ref)}")
        return {
            "kind": entry.kind,
            "at": entry.at,
            "end": entry.end,
            "text": entry.text,
            "severity": entry.severity,
            "href": href,
            "anchor": anchor,
        }

    def _change(self, change: m.Change, events: list[m.Event], archive_url: str | None) -> None:
        store = self.audit.store
        before, after = store.snapshot(change.from_snapshot_id), store.snapshot(change.to_snapshot_id)
        recorded = differ.from_delta(store.load_text(before.text_hash), change.delta)
        self._render(
            "change.html",
            f"change/{file_name(change.id)}",
            change=change,
            source_href=f"../source/{file_name(change.source_id)}",
            before=self._side(before),
            after=self._side(after),
            ledger=self.audit.ledger_entry("change", change.id),
            archive_url=archive_url,
            archive_href=web_link(archive_url) if archive_url else None,
            events=events,
            inline=Markup(differ.render_html(recorded, context_lines=3)),  # escapes every fragment
            side_by_side=Markup(differ.render_side_by_side_html(recorded)),  # likewise
        )

    def _side(self, snap: m.Snapshot) -> dict[str, Any]:
        return {
            "id": snap.id,
            "at": snap.fetched_at,
            "href": f"../snapshot/{file_name(snap.id)}",
            "screenshot": self._picture(snap),
        }

    def _picture(self, snap: m.Snapshot) -> str | None:
        """Write a snapshot's screenshot once, named by its hash; its address from a page's folder."""
        digest = snap.screenshot_hash
        if not digest:
            return None
        path = f"screenshot/{_UNSAFE_NAME.sub('_', digest)}.png"
        if digest not in self._pictures:
            try:
                (self.out / path).write_bytes(self.audit.store.load_blob(digest))
            except OSError as exc:
                raise MonitorError(f"cannot write {self.out / path}: {exc.strerror}") from exc
            self._pictures.add(digest)
        return f"../{path}"

    def _snapshot(self, snap: m.Snapshot) -> None:
        store = self.audit.store
        body = store.load_blob(snap.body_hash)
        headers = _headers(snap.headers)
        content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
        self._render(
            "snapshot.html",
            f"snapshot/{file_name(snap.id)}",
            snap=snap,
            source_href=f"../source/{file_name(snap.source_id)}",
            ledger=self.audit.ledger_entry("snapshot", snap.id),
            screenshot=self._picture(snap),
            text=store.load_text(snap.text_hash),
            headers=headers,
            body=_as_text(body, content_type),
            body_size=len(body),
            content_type=content_type,
        )

    # -- the feed ----------------------------------------------------------------------------

    def _event_link(self, event: m.Event, root: str) -> dict[str, Any]:
        if event.change_id:
            page = f"change/{file_name(event.change_id)}"
        elif event.pledge_id:
            page = f"pledge/{file_name(event.pledge_id)}"
        else:
            page = f"source/{file_name(event.source_id)}"
        return {
            "id": event.id,
            "at": event.created_at,
            "kind": event.kind,
            "severity": event.severity,
            "title": event.title,
            "href": f"{root}{page}#event-{event.id}",
        }

    def _feed(self) -> None:
        entries = []
        for event in self.audit.recent_events(FEED_ENTRIES):
            link = self._event_link(event, "")
            ledger = self.audit.ledger_entry("event", event.id)
            key = ledger.hash if ledger else f"{event.id}:{event.created_at.isoformat()}"
            link["atom_id"] = f"urn:uuid:{uuid.uuid5(_FEED_NS, 'event:' + key)}"
            link["summary"] = _event_summary(event)
            entries.append(link)
        first = self.audit.first_entry()
        feed_id = f"urn:uuid:{uuid.uuid5(_FEED_NS, 'feed:' + (first.hash if first else 'empty'))}"
        updated = max((e["at"] for e in entries), default=self.now)
        text = self.env.get_template("feed.xml").render(
            feed_id=feed_id, updated=updated, entries=entries, base_url=self.base_url
        )
        self._write("feed.xml", text)


def _headers(headers: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in (headers or {}).items()]


def _as_text(body: bytes, content_type: str | None) -> str | None:
    """The raw body as text to show, or None when it is binary (a PDF, an image)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    textual = kind.startswith("text/") or kind.endswith(("xml", "json", "html")) or not kind
    if not textual or b"\x00" in body[:4096]:
        return None
    charset = re.search(r"charset=[\"']?([\w.:-]+)", content_type or "", re.IGNORECASE)
    try:
        return body.decode(charset.group(1) if charset else "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _event_summary(event: m.Event) -> str:
    details = event.details or {}
    parts: list[str] = [event.title]
    for key in ("summary", "passage", "url"):
        value = details.get(key)
        if isinstance(value, str) and value:
            parts.append(f"{key}: {value}")
    return "\n".join(parts)


def _refuse_symlink(folder: Path) -> None:
    if folder.is_symlink():
        raise MonitorError(
            f"{folder} is a symlink: the report does not write through links it did not make; remove it"
        )


def build(audit: AuditStore, out: Path, *, now: datetime, base_url: str | None = None) -> Built:
    """Write the whole report into ``out`` (created if missing; existing pages are overwritten)."""
    return Report(audit, out, now, base_url).build()
