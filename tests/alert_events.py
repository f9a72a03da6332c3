"""Events, routes and watchlists shared by the alert tests (render, send, deliver, the command)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerts.deliver import DeliverySummary, deliver_due
from monitor.events import Severity
from monitor.lifecycle import EventDraft
from monitor.store import models as m
from monitor.store.repo import Store
from monitor.watchlist import Watchlist

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
PLEDGE = "amazon-rekognition-moratorium"
URL = "https://www.aboutamazon.com/news/moratorium?a=1&b=2"
TITLE = "Amazon: Moratorium on police use of Rekognition: clause weakened"


PLEDGES = """
sources:
  - id: amazon-post
    url: https://www.aboutamazon.com/news/moratorium
pledges:
  - id: amazon-rekognition-moratorium
    company: Amazon
    title: Moratorium on police use of Rekognition
    made_on: 2020-06-10
    sources: [amazon-post]
    clauses: ["a one-year moratorium on police use of facial recognition"]
"""


WriteWatchlist = Callable[[str], Watchlist]


def routes_yaml(**routes: str) -> str:
    """``name="url"`` or ``name="url1 url2 | digest"`` -> a routes section."""
    lines = ["routes:"]
    for name, spec in routes.items():
        urls, _, digest = spec.partition("|")
        lines.append(f"  {name.replace('_', '-')}:")
        lines.append(f"    urls: {json.dumps(urls.split())}")
        if digest.strip():
            lines.append(f"    digest: {digest.strip()}")
    return "\n".join(lines) + "\n" + PLEDGES


def weakened(n: int = 0, passage_extra: str = "") -> EventDraft:
    words: list[tuple[int, str]] = [(-1, "a one-year"), (1, "an indefinite")]
    words.append((0, "moratorium on police use of facial recognition"))
    if passage_extra:
        words.append((1, passage_extra))
    passage = " ".join(text for op, text in words if op != -1)
    return EventDraft(
        kind="pledge.weakened",
        severity=Severity.CRITICAL,
        title=TITLE if not n else f"{TITLE} ({n})",
        pledge_id=PLEDGE,
        source_id="amazon-post",
        details={
            "clause": "a one-year moratorium on police use of facial recognition",
            "passage": passage,
            "previous_passage": "a one-year moratorium on police use of facial recognition",
            "previous_state": "exact",
            "similarity": 0.78,
            "word_ops": [list(op) for op in words],
            "signals": [
                {"kind": "scope", "words": "indefinite", "explanation": "a deadline became open-ended"}
            ],
            "url": URL,
        },
    )


def add(store: Store, watchlist: Watchlist, *drafts: EventDraft, at: datetime = T0) -> list[int]:
    return store.add_events(drafts, watchlist, at)


def statuses(store: Store) -> list[tuple[str, int]]:
    with Session(store.engine) as s:
        return [(a.status, a.attempts) for a in s.scalars(select(m.Alert).order_by(m.Alert.id))]


def deliver(store: Store, watchlist: Watchlist, now: datetime, **kwargs: object) -> DeliverySummary:
    return deliver_due(store, watchlist, now=now, env=kwargs.pop("env", {}), **kwargs)  # type: ignore[arg-type]


def latest_retry(store: Store) -> datetime:
    with Session(store.engine) as s:
        due = s.scalar(select(m.Alert.next_attempt_at).order_by(m.Alert.next_attempt_at.desc()).limit(1))
    assert due is not None
    return due


def mailto(port: int) -> str:
    return f"mailto://127.0.0.1:{port}?from=monitor@example.org&to=team@example.org"


def event_row(draft: EventDraft, event_id: int = 7, change_id: int | None = 12) -> m.Event:
    return m.Event(
        id=event_id,
        kind=draft.kind,
        severity=draft.severity.label,
        created_at=T0,
        pledge_id=draft.pledge_id,
        source_id=draft.source_id,
        change_id=change_id,
        title=draft.title,
        details=draft.details,
    )
