"""One check of one source, start to end, without touching the database.

The store hands in what the check needs of the past (``SourceState``) and takes back a
``CheckResult`` to record. Keeping the check free of the database lets many run in threads
while one writer records their results in short batched transactions.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from monitor import clauses as clause_matching
from monitor import diff as differ
from monitor.errors import ExtractError, FetchError
from monitor.events import default_severity
from monitor.extract import Extracted, extract_page
from monitor.fetch import Fetched, Fetcher, Validators
from monitor.lifecycle import NEW, ClauseRecord, EventDraft, Health, Transition, assess_source
from monitor.lifecycle import unrelated_redirect as _unrelated_redirect
from monitor.watchlist import PledgeSpec, SourceSpec

if TYPE_CHECKING:
    from monitor.statements import ItemRecord


@dataclass(frozen=True)
class SourceState:
    """What the store knows of a source before a check."""

    source_id: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    text_hash: str | None = None
    snapshot_id: int | None = None
    rules: str | None = None
    health: Health = NEW
    clauses: Mapping[tuple[str, str], ClauseRecord] = field(default_factory=dict)
    seen: frozenset[str] = frozenset()  # feed and listing sources: the item keys seen so far


@dataclass(frozen=True)
class NewSnapshot:
    """A body worth keeping: its text differs from the last one (or there was none)."""

    body: bytes
    body_hash: str
    text: str
    text_hash: str
    headers: Mapping[str, str]
    request_headers: Mapping[str, str]
    url: str
    status: int
    rules: str
    base_text: str | None = None  # the previous text, already loaded for the diff: the delta base


@dataclass(frozen=True)
class CheckResult:
    """Everything one check learned, ready for the store to record in one transaction."""

    source_id: str
    at: datetime
    ms: int
    outcome: str  # baseline|not_modified|unchanged|same_text|changed|rebaseline|failed
    status: int | None = None
    final_url: str | None = None
    redirects: tuple[tuple[str, int, str], ...] = ()
    validators: Validators | None = None
    error: FetchError | ExtractError | None = None
    body_hash: str | None = None
    snapshot: NewSnapshot | None = None
    diff: differ.TextDiff | None = None
    prev_snapshot_id: int | None = None
    transition: Transition | None = None
    items: tuple[ItemRecord, ...] = ()  # feed and listing checks: the items seen for the first time
    note: str | None = None  # how the page was read when that needs saying (a repaired page)

    @property
    def ok(self) -> bool:
        return self.error is None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_check(
    source: SourceSpec,
    pledges: tuple[PledgeSpec, ...],
    state: SourceState,
    fetcher: Fetcher,
    load_text: Callable[[str], str],
    now: datetime,
) -> CheckResult:
    """Fetch, and only when the bytes changed: extract, diff and assess the clauses."""
    started = time.perf_counter()
    try:
        fetched = fetch_source(source, fetcher, state)
    except FetchError as exc:
        return _failed(source, pledges, state, now, started, exc, status=exc.status)
    base = result_of(fetched, source, now, started)
    same_rules = state.rules == source.rules_fingerprint()
    if fetched.not_modified or (same_rules and fetched.body and sha256(fetched.body) == state.body_hash):
        outcome = "not_modified" if fetched.not_modified else "unchanged"
        fresh = _new_clauses(source, pledges, state, load_text)
        transition = assess_source(source, pledges, state.clauses, fresh, fetched, now, health=state.health)
        return replace(base, outcome=outcome, body_hash=state.body_hash, transition=transition)
    body_hash = sha256(fetched.body)
    try:
        page = read_page(source, fetched)
    except ExtractError as exc:
        return _failed(source, pledges, state, now, started, exc, status=fetched.status, fetched=fetched)
    text, base = page.text, replace(base, note=page.note)
    text_hash = sha256(text.encode())
    if text_hash == state.text_hash and same_rules:
        fresh = _new_clauses(source, pledges, state, lambda _digest: text)
        transition = assess_source(source, pledges, state.clauses, fresh, fetched, now, health=state.health)
        return replace(base, outcome="same_text", body_hash=body_hash, transition=transition)
    if _unrelated_redirect(source, fetched) and not any(p.clauses for p in pledges):
        # a home page is not a new version of the page: keep nothing of it, the page may be gone
        transition = assess_source(source, pledges, state.clauses, None, fetched, now, health=state.health)
        away = FetchError(source.url, f"redirected to an unrelated page: {fetched.final_url}", transient=True)
        return replace(
            base,
            outcome="failed",
            error=away,
            body_hash=state.body_hash,
            validators=None,
            transition=transition,
        )
    snapshot = snapshot_of(fetched, text, source.rules_fingerprint())
    outcome, change, base_text = _compare(source, state, text, load_text)
    snapshot = replace(snapshot, base_text=base_text)
    if outcome == "rebaseline":
        state = replace(state, clauses=_forgotten(state.clauses))
    matches = _assess_clauses(pledges, state, text) if source.kind == "page" else {}
    transition = assess_source(source, pledges, state.clauses, matches, fetched, now, health=state.health)
    if outcome == "changed" and change is not None:
        transition = _with_source_changed(transition, source, pledges, change)
    return replace(
        base,
        outcome=outcome,
        body_hash=body_hash,
        snapshot=snapshot,
        diff=change,
        prev_snapshot_id=state.snapshot_id,
        transition=transition,
    )


def _with_source_changed(
    transition: Transition, source: SourceSpec, pledges: tuple[PledgeSpec, ...], change: differ.TextDiff
) -> Transition:
    """The watched text changed but no clause did: say so, at info level."""
    if any(e.kind.startswith("pledge.") for e in transition.events):
        return transition
    if any(record.pending for record in transition.clauses.values()):
        return transition  # a clause went missing: the re-check will say what happened
    summary = differ.summarize(change)
    event = EventDraft(
        kind="source.changed",
        severity=default_severity("source.changed"),
        title=f"{source.id}: text changed ({summary})",
        pledge_id=pledges[0].id if len(pledges) == 1 else None,
        source_id=source.id,
        details={
            "url": source.url,
            "summary": summary,
            "added": change.added()[:20],
            "removed": change.removed()[:20],
            "pledges": [p.id for p in pledges],
        },
    )
    return replace(transition, events=(*transition.events, event))


def fetch_source(source: SourceSpec, fetcher: Fetcher, state: SourceState | None = None) -> Fetched:
    """One GET of a source with its headers; conditional when we hold its last body."""
    # new extraction rules need the body again, so no validators then
    conditional = (
        state is not None and state.body_hash is not None and state.rules == source.rules_fingerprint()
    )
    return fetcher.fetch(
        source.url,
        timeout=source.timeout.total_seconds(),
        headers=dict(source.headers),
        validators=Validators(state.etag, state.last_modified) if state and conditional else None,
    )


def source_text(source: SourceSpec, fetched: Fetched) -> str:
    """The text of a fetched page as the source's rules read it."""
    return read_page(source, fetched).text


def read_page(source: SourceSpec, fetched: Fetched) -> Extracted:
    """The text of a fetched page, and a note when its markup had to be repaired to read it."""
    return extract_page(
        fetched.body,
        content_type=fetched.content_type,
        select=source.selection,
        remove=source.remove,
        ignore=source.ignore,
        links=source.links,
        charset=fetched.charset,
        url=fetched.final_url,
    )


def snapshot_of(fetched: Fetched, text: str, rules: str) -> NewSnapshot:
    """A fetched body and its text, as the store keeps them."""
    return NewSnapshot(
        body=fetched.body,
        body_hash=sha256(fetched.body),
        text=text,
        text_hash=sha256(text.encode()),
        headers=dict(fetched.headers),
        request_headers=dict(fetched.request_headers),
        url=fetched.final_url,
        status=fetched.status,
        rules=rules,
    )


def result_of(fetched: Fetched, source: SourceSpec, now: datetime, started: float) -> CheckResult:
    """The parts of a check's result that every good fetch has; the outcome is filled in later."""
    return CheckResult(
        source_id=source.id,
        at=now,
        ms=_ms(started),
        outcome="",
        status=fetched.status,
        final_url=fetched.final_url if fetched.final_url != source.url else None,
        redirects=tuple((r.url, r.status, r.location) for r in fetched.redirects),
        validators=fetched.validators,
    )


def _compare(
    source: SourceSpec, state: SourceState, text: str, load_text: Callable[[str], str]
) -> tuple[str, differ.TextDiff | None, str | None]:
    """A Change only between texts extracted with the same rules; new rules start a new baseline."""
    if state.text_hash is None:
        return "baseline", None, None
    if state.rules != source.rules_fingerprint():
        return "rebaseline", None, None
    previous = load_text(state.text_hash)
    return "changed", differ.compute(previous, text), previous


def _forgotten(clauses: Mapping[tuple[str, str], ClauseRecord]) -> dict[tuple[str, str], ClauseRecord]:
    """New extraction rules (the maintainer changed select/remove/ignore) start the clauses
    afresh: what the new rules find is a baseline, not something the company did."""
    return {
        key: replace(r, state="unknown", pending=None, pending_since=None, context=None, location=None)
        for key, r in clauses.items()
    }


def _new_clauses(
    source: SourceSpec, pledges: tuple[PledgeSpec, ...], state: SourceState, load_text: Callable[[str], str]
) -> dict[tuple[str, str], clause_matching.ClauseMatch] | None:
    """Clauses added to the watchlist since the page last changed: find them in the text we hold,
    so their baseline is today's page, not the page of whenever it next changes."""
    if source.kind != "page" or state.text_hash is None:
        return None
    missing = [
        (pledge, clause)
        for pledge in pledges
        for clause in pledge.clauses
        if (pledge.id, clause_matching.clause_key(clause)) not in state.clauses
    ]
    if not missing:
        return None
    text = load_text(state.text_hash)
    return {
        (pledge.id, clause_matching.clause_key(clause)): clause_matching.in_context(
            clause_matching.find_clause(clause, text), text, None
        )
        for pledge, clause in missing
    }


def _assess_clauses(
    pledges: tuple[PledgeSpec, ...], state: SourceState, text: str
) -> dict[tuple[str, str], clause_matching.ClauseMatch]:
    matches: dict[tuple[str, str], clause_matching.ClauseMatch] = {}
    for pledge in pledges:
        for clause in pledge.clauses:
            key = (pledge.id, clause_matching.clause_key(clause))
            previous = state.clauses.get(key)
            location = previous.location if previous else None
            match = clause_matching.find_clause(clause, text, last_location=location)
            matches[key] = clause_matching.in_context(match, text, previous.context if previous else None)
    return matches


def _failed(
    source: SourceSpec,
    pledges: tuple[PledgeSpec, ...],
    state: SourceState,
    now: datetime,
    started: float,
    error: FetchError | ExtractError,
    *,
    status: int | None,
    fetched: Fetched | None = None,
) -> CheckResult:
    transition = assess_source(
        source, pledges, state.clauses, None, fetched, now, error=error, health=state.health
    )
    return CheckResult(
        source_id=source.id,
        at=now,
        ms=_ms(started),
        outcome="failed",
        status=status,
        final_url=fetched.final_url if fetched and fetched.final_url != source.url else None,
        error=error,
        transition=transition,
    )


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
