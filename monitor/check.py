"""One check of one page source, start to end, without touching the database.

The store hands in what the check needs of the past (``SourceState``) and takes back a
``CheckResult`` to record (both in ``monitor.checking``, with the start every check shares).
Keeping the check free of the database lets many run in threads while one writer records their
results in short batched transactions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from monitor import clauses as clause_matching
from monitor import diff as differ
from monitor.checking import CheckResult, SourceState, elapsed_ms, sha256, snapshot_of, start_check
from monitor.errors import CheckCrashed, ExtractError, FetchError, GlitchError, MonitorError
from monitor.events import CheckOutcome, ClauseState, EventKind, default_severity
from monitor.extract import Extracted, declared_language, extract_page
from monitor.fetch import Fetched, Fetcher
from monitor.glitch import not_found as not_found_page
from monitor.glitch import suspect as suspect_text
from monitor.glitch import truncated as truncated_page
from monitor.lifecycle import ClauseRecord, EventDraft, Transition, assess_source
from monitor.lifecycle import unrelated_redirect as _unrelated_redirect
from monitor.watchlist import ItemSource, PageSource, PledgeSpec, SourceSpec


def run_check(
    source: PageSource | ItemSource,
    pledges: tuple[PledgeSpec, ...],
    state: SourceState,
    fetcher: Fetcher,
    load_text: Callable[[str], str],
    now: datetime,
    load_body: Callable[[str], bytes] | None = None,
) -> CheckResult:
    """Fetch, and only when the bytes changed: extract, diff and assess the clauses.

    What is not the page's content (a redirect home, a not-found or loading page, a cut-off
    body) is a failed check, never a version; a text that lost most of its words becomes the
    version only once a re-check ``confirm_after`` later sees it again.
    """
    started = time.perf_counter()
    try:
        start = start_check(source, fetcher, state, now, started)
    except FetchError as exc:
        return _failed(source, pledges, state, now, started, exc, status=exc.status)
    fetched, base, same_rules = start.fetched, start.base, start.same_rules
    if start.unchanged:
        fresh = _new_clauses(source, pledges, state, load_text, fetched)
        transition = assess_source(
            source,
            pledges,
            state.clauses,
            fresh,
            fetched,
            now,
            health=state.health,
            around=_where_missing(state, load_text),
        )
        return replace(base, outcome=start.outcome, body_hash=state.body_hash, transition=transition)
    if _unrelated_redirect(source, fetched):
        # a home page is not a new version of the page: keep nothing of it, the page may be gone
        away = FetchError(source.url, f"redirected to an unrelated page: {fetched.final_url}", transient=True)
        return _not_the_page(source, pledges, state, now, base, fetched, away)
    body_hash = sha256(fetched.body)
    try:
        page = read_page(source, fetched)
    except ExtractError as exc:
        return _failed(source, pledges, state, now, started, exc, status=fetched.status, fetched=fetched)
    text, base = page.text, replace(base, note=page.note)
    text_hash = sha256(text.encode())
    if text_hash == state.text_hash and same_rules:
        fresh = _new_clauses(source, pledges, state, lambda _digest: text, fetched)
        around = _where_missing(state, lambda _digest: text)
        transition = assess_source(
            source, pledges, state.clauses, fresh, fetched, now, health=state.health, around=around
        )
        return replace(base, outcome=CheckOutcome.SAME_TEXT, body_hash=body_hash, transition=transition)
    previous = load_text(state.text_hash) if state.text_hash is not None and same_rules else None
    glitch = _glitch(source, state, fetched, text, text_hash, previous, now, load_body)
    if glitch is not None and not glitch.confirmed:
        return _not_the_page(source, pledges, state, now, base, fetched, glitch.error, glitch)
    confirmed = glitch.suspect_since if glitch is not None else None
    snapshot = snapshot_of(fetched, text, source.rules_fingerprint())
    outcome, change = _compare(source, state, text, previous)
    snapshot = replace(snapshot, base_text=previous if change is not None else None)
    if outcome is CheckOutcome.REBASELINE:
        state = replace(state, clauses=_forgotten(state.clauses))
    matches = (
        _assess_clauses(pledges, state, text, fetched, previous if change is not None else None, change)
        if isinstance(source, PageSource)
        else {}
    )
    transition = _assess_new_text(source, pledges, state, matches, fetched, now, confirmed)
    if outcome is CheckOutcome.CHANGED and change is not None:
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


@dataclass(frozen=True)
class _Glitch:
    """Why a new text is not (yet) the page's version."""

    error: GlitchError
    gone: str | None = None  # the page says it is not there: a 404 in all but status
    suspect: str | None = None  # the hash of a suspect text, to confirm by a re-check
    suspect_since: datetime | None = None  # when that text was first seen
    confirmed: bool = False  # the re-check saw the suspect text again: it is the version now


def _glitch(
    source: SourceSpec,
    state: SourceState,
    fetched: Fetched,
    text: str,
    text_hash: str,
    previous: str | None,
    now: datetime,
    load_body: Callable[[str], bytes] | None,
) -> _Glitch | None:
    if previous is None:
        return None
    gone = not_found_page(text, previous)
    if gone is not None:
        return _Glitch(GlitchError(gone), gone=gone)
    if fetched.content_type in ("text/html", "application/xhtml+xml"):
        cut = truncated_page(fetched.body, lambda: _previous_body(state, load_body), text, previous)
        if cut is not None:
            return _Glitch(GlitchError(cut))
    why = suspect_text(text, previous)
    if why is None:
        return None
    health = state.health
    seen = health.suspect == text_hash and health.suspect_since is not None
    since = health.suspect_since if seen and health.suspect_since else now
    if seen and now - since >= source.confirm_after:
        return _Glitch(GlitchError(why), suspect=text_hash, suspect_since=since, confirmed=True)
    due = since + source.confirm_after
    error = GlitchError(f"unconfirmed: {why}; re-checked at {due:%Y-%m-%d %H:%M} UTC before it counts")
    return _Glitch(error, suspect=text_hash, suspect_since=since)


def _previous_body(state: SourceState, load_body: Callable[[str], bytes] | None) -> bytes | None:
    if load_body is None or state.snapshot_body_hash is None:
        return None
    try:
        return load_body(state.snapshot_body_hash)
    except MonitorError:
        return None


def _not_the_page(
    source: SourceSpec,
    pledges: tuple[PledgeSpec, ...],
    state: SourceState,
    now: datetime,
    base: CheckResult,
    fetched: Fetched,
    error: FetchError | ExtractError,
    glitch: _Glitch | None = None,
) -> CheckResult:
    """A failed check that keeps nothing of what it saw but the check row; the last body stays
    the one to compare with, so the page coming back is "unchanged". A suspect text is
    remembered (by hash) so that its re-check can confirm it."""
    gone = glitch.gone if glitch is not None else str(error)
    transition = assess_source(
        source, pledges, state.clauses, None, fetched, now, error=error, gone=gone, health=state.health
    )
    if glitch is not None and glitch.suspect is not None and glitch.suspect_since is not None:
        assert transition.health is not None
        due = glitch.suspect_since + source.confirm_after
        health = replace(transition.health, suspect=glitch.suspect, suspect_since=glitch.suspect_since)
        transition = replace(transition, health=health, recheck_at=due)
    return replace(
        base,
        outcome=CheckOutcome.FAILED,
        error=error,
        body_hash=state.body_hash,
        validators=None,
        transition=transition,
    )


def _assess_new_text(
    source: SourceSpec,
    pledges: tuple[PledgeSpec, ...],
    state: SourceState,
    matches: Mapping[tuple[str, str], clause_matching.ClauseMatch],
    fetched: Fetched,
    now: datetime,
    confirmed: datetime | None,
) -> Transition:
    """The clauses on a new text. A suspect text its re-check confirmed was seen twice, so a
    clause missing from it is confirmed missing too: assess as of its first sighting, then now."""
    if confirmed is None:
        return assess_source(source, pledges, state.clauses, matches, fetched, now, health=state.health)
    first = assess_source(source, pledges, state.clauses, matches, fetched, confirmed, health=state.health)
    assert first.health is not None
    after = {**state.clauses, **first.clauses}
    around = {key: m.around for key, m in matches.items() if m.around is not None}
    second = assess_source(source, pledges, after, None, fetched, now, health=first.health, around=around)
    return Transition(
        health=second.health,
        clauses={**first.clauses, **second.clauses},
        events=(*first.events, *second.events),
        recheck_at=second.recheck_at,
    )


def _with_source_changed(
    transition: Transition, source: SourceSpec, pledges: tuple[PledgeSpec, ...], change: differ.TextDiff
) -> Transition:
    """The watched text changed but no clause did: say so, at info level."""
    if any(e.kind.about_pledge for e in transition.events):
        return transition
    if any(record.pending for record in transition.clauses.values()):
        return transition  # a clause went missing: the re-check will say what happened
    summary = differ.summarize(change)
    event = EventDraft(
        kind=EventKind.SOURCE_CHANGED,
        severity=default_severity(EventKind.SOURCE_CHANGED),
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


def source_text(source: PageSource | ItemSource, fetched: Fetched) -> str:
    """The text of a fetched page as the source's rules read it."""
    return read_page(source, fetched).text


def read_page(source: PageSource | ItemSource, fetched: Fetched) -> Extracted:
    """The text of a fetched page, and a note when its markup had to be repaired to read it.
    An item's page is read whole: no selector is known for pages we have never seen."""
    if isinstance(source, ItemSource):
        return extract_page(
            fetched.body, content_type=fetched.content_type, charset=fetched.charset, url=fetched.final_url
        )
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


def _compare(
    source: SourceSpec, state: SourceState, text: str, previous: str | None
) -> tuple[CheckOutcome, differ.TextDiff | None]:
    """A Change only between texts extracted with the same rules; new rules start a new baseline."""
    if state.text_hash is None:
        return CheckOutcome.BASELINE, None
    if state.rules != source.rules_fingerprint() or previous is None:
        return CheckOutcome.REBASELINE, None
    return CheckOutcome.CHANGED, differ.compute(previous, text)


def _forgotten(clauses: Mapping[tuple[str, str], ClauseRecord]) -> dict[tuple[str, str], ClauseRecord]:
    """New extraction rules (the maintainer changed select/remove/ignore) start the clauses
    afresh: what the new rules find is a baseline, not something the company did."""
    return {
        key: replace(
            r, state=ClauseState.UNKNOWN, pending=None, pending_since=None, context=None, location=None
        )
        for key, r in clauses.items()
    }


def _new_clauses(
    source: SourceSpec,
    pledges: tuple[PledgeSpec, ...],
    state: SourceState,
    load_text: Callable[[str], str],
    fetched: Fetched,
) -> dict[tuple[str, str], clause_matching.ClauseMatch] | None:
    """Clauses added to the watchlist since the page last changed: find them in the text we hold,
    so their baseline is today's page, not the page of whenever it next changes."""
    if not isinstance(source, PageSource) or state.text_hash is None:
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
    page_language = page_language_of(fetched)
    return {
        (pledge.id, clause_matching.clause_key(clause)): clause_matching.in_context(
            clause_matching.find_clause(clause, text, language=pledge.language or page_language), text, None
        )
        for pledge, clause in missing
    }


def _where_missing(
    state: SourceState, load_text: Callable[[str], str]
) -> dict[tuple[str, str], tuple[str, str]] | None:
    """For clauses awaiting a re-check of their removal: what stands where each one stood."""
    pending = {
        k: r
        for k, r in state.clauses.items()
        if r.pending is ClauseState.NOT_FOUND and r.location is not None
    }
    if not pending or state.text_hash is None:
        return None
    text = load_text(state.text_hash)
    return {key: clause_matching.stood_around(text, r.location or 0) for key, r in pending.items()}


def page_language_of(fetched: Fetched) -> str | None:
    """The page's declared language (``<html lang>``, Content-Language), if it says."""
    return declared_language(fetched.body, fetched.header("Content-Language")) if fetched.body else None


def _assess_clauses(
    pledges: tuple[PledgeSpec, ...],
    state: SourceState,
    text: str,
    fetched: Fetched,
    previous_text: str | None = None,
    change: differ.TextDiff | None = None,
) -> dict[tuple[str, str], clause_matching.ClauseMatch]:
    """Each clause near where it was last found (carried over the change into this text); a clause
    missing here may have been narrowed, so the previous text says which sentences stood already."""
    page_language = page_language_of(fetched)
    matches: dict[tuple[str, str], clause_matching.ClauseMatch] = {}
    for pledge in pledges:
        for clause in pledge.clauses:
            key = (pledge.id, clause_matching.clause_key(clause))
            previous = state.clauses.get(key)
            location = previous.location if previous else None
            if location is not None and change is not None:
                location = differ.new_offset(change, location)
            match = clause_matching.find_clause(
                clause,
                text,
                last_location=location,
                language=pledge.language or page_language,
                stood=_stood(previous_text, previous),
            )
            matches[key] = clause_matching.in_context(match, text, previous.context if previous else None)
    return matches


def _stood(previous_text: str | None, record: ClauseRecord | None) -> Callable[[], frozenset[str]] | None:
    """The previous text's sentences, read only if a clause is missing; the passage a clause was
    last found reworded in still counts as its rewording."""
    if previous_text is None:
        return None
    keep = record.passage if record is not None and record.state in ("reworded", "weakened") else None
    return lambda: clause_matching.sentences_of(previous_text, keep)


def crashed_check(
    source: SourceSpec, pledges: tuple[PledgeSpec, ...], state: SourceState, now: datetime, exc: Exception
) -> CheckResult:
    """A failed check for a source whose check raised what no stage expected (a bug, not the page):
    recorded like any failure, so one source can never stop a cycle or a daemon."""
    error = CheckCrashed(f"the check stopped on an unexpected {type(exc).__name__}: {exc}")
    try:
        return _failed(source, pledges, state, now, time.perf_counter(), error, status=None)
    except Exception:  # the bug is in judging failures too: record the failure without a transition
        return CheckResult(source_id=source.id, at=now, ms=0, outcome=CheckOutcome.FAILED, error=error)


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
        ms=elapsed_ms(started),
        outcome=CheckOutcome.FAILED,
        status=status,
        final_url=fetched.final_url if fetched and fetched.final_url != source.url else None,
        error=error,
        transition=transition,
    )
