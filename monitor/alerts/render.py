"""Alerts rendered: an Event (or a day's digest of them) as one Message for every kind of target.

Jinja2 templates in ``monitor/templates``: plain text, HTML, Slack mrkdwn. Pure: no network, no
database; sending is ``monitor.alerts.send``, the outbox ``monitor.alerts.deliver``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from monitor.events import EventKind, Severity
from monitor.store.models import Event

SLACK_MAX = 2900

WHAT = {
    EventKind.PLEDGE_REWORDED: "The pledge's wording changed on the page.",
    EventKind.PLEDGE_WEAKENED: "The pledge's wording changed, and the change may weaken it.",
    EventKind.PLEDGE_RESTORED: "The pledge's original wording is back on the page.",
    EventKind.PLEDGE_REMOVED: "The pledge's clause is no longer on the page (a re-check confirmed it).",
    EventKind.PLEDGE_EXPIRING: "The pledge's deadline is near.",
    EventKind.PLEDGE_EXPIRED: "The pledge's deadline has passed and no renewal was recorded.",
    EventKind.SOURCE_CHANGED: "The watched text changed; no clause of a pledge is affected.",
    EventKind.SOURCE_GONE: "The page is gone.",
    EventKind.SOURCE_MOVED: "The page moved to a new address.",
    EventKind.SOURCE_FAILING: "Checks of this page keep failing.",
    EventKind.SOURCE_RECOVERED: "Checks of this page succeed again.",
    EventKind.STATEMENT_NEW: "A new statement mentions a pledge.",
    "test": "This is a test alert from pledge-monitor: if you read it, the route works.",
}

# details shown in their own section of a message; the others are listed as facts
_SHOWN = {
    "clause", "passage", "previous_passage", "previous_state", "similarity", "word_ops", "signals",
    "url", "last_passage", "first_missed", "confirmed", "summary", "added", "removed",
    "clause_marks", "passage_marks", "related", "now_before", "now_after",
}  # fmt: skip


@dataclass(frozen=True)
class Message:
    """One alert rendered for every kind of target; ``key`` makes a re-send recognisable."""

    key: str
    title: str
    text: str  # plain text with markdown marks: console, JSON webhooks, other services
    html: str  # email
    slack: str  # Slack mrkdwn
    severity: Severity
    data: dict[str, Any] = field(compare=False)


def idempotency_key(event_id: int, route: str) -> str:
    return f"pm-{event_id}-{route}"


def render_event(
    event: Event, route: str, *, key: str | None = None, archive_url: str | None = None
) -> Message:
    view = with_archive(event_view(event), archive_url)
    key = key or idempotency_key(event.id, route)
    data = {**_data(event, key), "archive_url": archive_url}
    return _message("alert", {"v": view, "key": key}, key, event.title, severity_of(event.severity), data)


def render_digest(
    route: str, events: Sequence[Event], archive_urls: Mapping[int, str] | None = None
) -> Message:
    """One message listing every event held for a daily digest, most severe first; ``archive_urls``
    (change id -> copy) adds the public archive copies saved by then."""
    ordered = sorted(events, key=lambda e: (-severity_of(e.severity), e.id))
    ids = ",".join(str(e.id) for e in sorted(events, key=lambda e: e.id))
    key = f"pm-digest-{route}-{hashlib.sha256(ids.encode()).hexdigest()[:12]}"
    worst = max((severity_of(e.severity) for e in events), default=Severity.INFO)
    noun = "event" if len(events) == 1 else "events"
    title = f"pledge-monitor daily digest for {route}: {len(events)} {noun} ({worst.label} at most)"
    copies = archive_urls or {}
    views = [with_archive(event_view(e), copies.get(e.change_id or 0)) for e in ordered]
    context = {"views": views, "key": key, "title": title}
    data = {"key": key, "route": route, "events": [_data(e, idempotency_key(e.id, route)) for e in ordered]}
    return _message("digest", context, key, title, worst, data)


def render_test(route: str, now: datetime) -> Message:
    event = Event(
        id=0,
        kind="test",
        severity="info",
        created_at=now,
        title=f"pledge-monitor: test alert for route {route}",
        details={"route": route},
    )
    return render_event(event, route, key=f"pm-test-{route}-{now.strftime('%Y%m%dT%H%M%S')}")


def with_archive(view: dict[str, Any], archive_url: str | None) -> dict[str, Any]:
    """The change's public archive copy, when it was saved before the alert went out (an alert
    never waits for it)."""
    return {**view, "archive_url": archive_url if archive_url and archive_url.startswith("http") else None}


def event_view(event: Event) -> dict[str, Any]:
    """What the templates show of an Event: plain values, no markup (templates add and escape it)."""
    details = event.details or {}
    url = details.get("url") or None
    return {
        "title": event.title,
        "kind": event.kind,
        "severity": event.severity,
        "what": WHAT.get(event.kind, event.kind),
        "when": _when(event.created_at),
        "url": url,
        "link": bool(url) and str(url).startswith(("http://", "https://")),
        "event_id": event.id,
        "change_id": event.change_id,
        "archive_url": None,  # with_archive adds it where the copy was saved in time
        "clause": _clause_view(details),
        "signals": [_explanation(s) for s in details.get("signals") or () if s],
        "removed": _removed_view(details) if event.kind == EventKind.PLEDGE_REMOVED else None,
        "changed": _changed_view(details) if event.kind == EventKind.SOURCE_CHANGED else None,
        "facts": [(k.replace("_", " "), _fact(v)) for k, v in details.items() if k not in _SHOWN],
    }


def _clause_view(details: Mapping[str, Any]) -> dict[str, Any] | None:
    """The clause as pledged and the passage as published, each with its changed words marked.

    ``clause_marks`` and ``passage_marks`` are spans of the exact texts, so punctuation, case and
    possessives show as on the page and only the words that changed are marked. Events recorded
    before marks existed fall back to ``word_ops`` (words only, joined by spaces).
    """
    ops = [(int(op), str(words)) for op, words in details.get("word_ops") or ()]
    passage = details.get("passage")
    if not ops and not passage:
        return None
    if "passage_marks" in details and passage:
        clause = str(details.get("clause") or "")
        before = _marked(clause, details.get("clause_marks") or ())
        after = _marked(str(passage), details.get("passage_marks") or ())
    else:
        ops = ops or [(0, str(passage))]
        before, after = _side(ops, -1), _side(ops, 1)
    similarity = details.get("similarity")
    return {
        "before": before,
        "after": after,
        "removed_words": [w for kind, w in before if kind == "changed"],
        "added_words": [w for kind, w in after if kind == "changed"],
        "similarity": f"{float(similarity):.0%}" if similarity is not None else None,
        "related": bool(details.get("related")),
    }


def _marked(text: str, marks: Sequence[Sequence[int]]) -> list[tuple[str, str]]:
    """``text`` as runs of ("same" | "changed", exact text): the runs joined give ``text`` back."""
    runs: list[tuple[str, str]] = []
    at = 0
    for start, end in sorted((int(a), int(b)) for a, b in marks):
        start, end = max(start, at), min(end, len(text))
        if start >= end:
            continue
        if start > at:
            runs.append(("same", _one_line(text[at:start])))
        runs.append(("changed", _one_line(text[start:end])))
        at = end
    if at < len(text):
        runs.append(("same", _one_line(text[at:])))
    return runs


def _one_line(text: str) -> str:
    """A quote is one line: line breaks inside a passage read as spaces."""
    return re.sub(r"\s+", " ", text)


def _side(ops: Sequence[tuple[int, str]], keep: int) -> list[tuple[str, str]]:
    """One side of a word diff as runs of ("same" | "changed", words), spaces between runs."""
    runs: list[tuple[str, str]] = []
    for op, text in ops:
        words = " ".join(text.split())
        if op not in (0, keep) or not words:
            continue
        kind = "same" if op == 0 else "changed"
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, f"{runs[-1][1]} {words}")
        else:
            runs.append((kind, words))
    spaced: list[tuple[str, str]] = []
    for index, (kind, words) in enumerate(runs):
        if index:
            spaced.append(("same", " "))
        spaced.append((kind, words))
    return spaced


def _explanation(signal: object) -> str:
    return str(signal.get("explanation", signal)) if isinstance(signal, dict) else str(signal)


def _removed_view(details: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "clause": details.get("clause"),
        "last_passage": details.get("last_passage"),
        "now_before": details.get("now_before") or None,
        "now_after": details.get("now_after") or None,
        "stands": "now_before" in details or "now_after" in details,
        "first_missed": _when(details.get("first_missed")),
        "confirmed": _when(details.get("confirmed")),
    }


def _changed_view(details: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "summary": details.get("summary"),
        "added": [str(x) for x in details.get("added") or ()],
        "removed": [str(x) for x in details.get("removed") or ()],
    }


def _fact(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _when(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return _when(datetime.fromisoformat(value))
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def severity_of(name: str) -> Severity:
    """An unknown severity name counts as info."""
    try:
        return Severity.parse(name)
    except KeyError:
        return Severity.INFO


def _data(event: Event, key: str) -> dict[str, Any]:
    """The structured alert for JSON webhooks."""
    return {
        "key": key,
        "event_id": event.id,
        "kind": event.kind,
        "severity": event.severity,
        "title": event.title,
        "created_at": event.created_at.isoformat() if event.created_at else None,
        "pledge_id": event.pledge_id,
        "source_id": event.source_id,
        "change_id": event.change_id,
        "show": f"pledge-monitor show {event.change_id}" if event.change_id else None,
        "details": event.details,
    }


def _message(
    name: str, context: dict[str, Any], key: str, title: str, severity: Severity, data: dict[str, Any]
) -> Message:
    def render(suffix: str, values: dict[str, Any]) -> str:
        return _templates().get_template(f"{name}.{suffix}").render(values).strip() + "\n"

    return Message(
        key=key,
        title=title,
        text=render("txt", context),
        html=render("html", context),
        slack=_fit_slack(render("slack", _slack_escaped(context))),
        severity=severity,
        data=data,
    )


def _fit_slack(text: str) -> str:
    """A Slack section holds 3000 characters; a long digest is cut at a line, saying so."""
    if len(text) <= SLACK_MAX:
        return text
    cut = text.rfind("\n", 0, SLACK_MAX - 200)
    return (
        text[: cut if cut > 0 else SLACK_MAX - 200]
        + "\n… (cut; `pledge-monitor history` lists every event)\n"
    )


@cache
def _templates() -> Environment:
    """``.html`` templates are autoescaped; Slack ones get values escaped beforehand."""
    return Environment(
        loader=PackageLoader("monitor", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _slack_escaped(value: Any) -> Any:
    """Page text is untrusted: a literal ``<!channel>`` must not notify a whole channel."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, dict):
        return {k: _slack_escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_slack_escaped(v) for v in value)
    return value
