"""What every check shares, whatever the source's kind: the records it takes and gives, and its start.

The store hands a check what it knows of a source (``SourceState``) and records what the check
learned (``CheckResult``, with a ``NewSnapshot`` when the text is new, and the ``ItemRecord``s of a
feed). Every check starts the same way: fetch the source (conditionally, when we hold its last
body), and stop there when nothing changed: a 304, or the same bytes under the same rules. Page
checks (``monitor.check``) and feed checks (``monitor.statements``) go on from ``start_check``;
neither imports the other.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from monitor import diff as differ
from monitor.errors import ExtractError, FetchError
from monitor.events import CheckOutcome
from monitor.fetch import Fetched, Fetcher, Validators
from monitor.lifecycle import NEW, ClauseRecord, Health, Transition
from monitor.secrets import redact_headers, resolve_headers
from monitor.watchlist import BrowserSource, PageSource, SourceSpec

if TYPE_CHECKING:
    from monitor.browser import RenderRequest


@dataclass(frozen=True)
class SourceState:
    """What the store knows of a source before a check."""

    source_id: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    text_hash: str | None = None
    snapshot_id: int | None = None
    snapshot_body_hash: str | None = None  # the raw body of the last version, to tell a cut-off one
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
    screenshot: bytes | None = None  # a PNG of the watched part, from a ``screenshot: true`` source


@dataclass(frozen=True)
class ItemRecord:
    """A feed item seen for the first time, with its page as first fetched when there is one."""

    key: str
    key_hash: str
    link: str | None
    title: str
    published: datetime | None
    baseline: bool
    pledge_ids: tuple[str, ...] = ()
    page: NewSnapshot | None = None
    page_source_id: str | None = None
    page_error: str | None = None
    canonical: str | None = None  # the statement's one address: the page's rel=canonical, else the link

    @property
    def statement(self) -> str:
        """What makes two items the same statement (a feed and a listing both carry it)."""
        return self.canonical or self.link or self.key


@dataclass(frozen=True)
class CheckResult:
    """Everything one check learned, ready for the store to record in one transaction."""

    source_id: str
    at: datetime
    ms: int
    outcome: CheckOutcome
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


@dataclass(frozen=True)
class Start:
    """A check's first step: what was fetched, and whether the check can stop there."""

    fetched: Fetched
    base: CheckResult  # the parts every good fetch has; the check fills in its outcome
    same_rules: bool  # the body was read with the source's current rules last time
    unchanged: bool  # a 304, or the very bytes we hold, read with the same rules

    @property
    def outcome(self) -> CheckOutcome:
        """The outcome of a check that stops here."""
        return CheckOutcome.NOT_MODIFIED if self.fetched.not_modified else CheckOutcome.UNCHANGED


def start_check(
    source: SourceSpec, fetcher: Fetcher, state: SourceState, now: datetime, started: float
) -> Start:
    """Fetch the source and say whether anything changed; a FetchError is the check's to judge."""
    fetched = fetch_source(source, fetcher, state)
    same_rules = state.rules == source.rules_fingerprint()
    same_bytes = same_rules and bool(fetched.body) and sha256(fetched.body) == state.body_hash
    return Start(
        fetched=fetched,
        base=result_of(fetched, source, now, started),
        same_rules=same_rules,
        unchanged=fetched.not_modified or same_bytes,
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_source(source: SourceSpec, fetcher: Fetcher, state: SourceState | None = None) -> Fetched:
    """One GET of a source with its headers; conditional when we hold its last body.

    A browser source asks the server first too, when it gave validators: an unchanged page costs
    a 304, not a render. Anything else (a 200, a failure) is left to the browser to load."""
    # new extraction rules need the body again, so no validators then
    conditional = (
        state is not None and state.body_hash is not None and state.rules == source.rules_fingerprint()
    )
    validators = Validators(state.etag, state.last_modified) if state and conditional else None
    if isinstance(source, BrowserSource) and source.browser:
        if validators is not None and (validators.etag or validators.last_modified):
            with contextlib.suppress(FetchError):
                asked = _plain_fetch(source, fetcher, validators)
                if asked.not_modified:
                    return asked
        held = state.body_hash if state and conditional else None
        return fetcher.browser.render(render_request(source, held))
    return _plain_fetch(source, fetcher, validators)


def _plain_fetch(source: SourceSpec, fetcher: Fetcher, validators: Validators | None) -> Fetched:
    return fetcher.fetch(
        source.url,
        timeout=source.timeout.total_seconds(),
        headers=resolve_headers(source.headers, os.environ, source.url),
        validators=validators,
    )


def render_request(source: BrowserSource, body_hash: str | None = None) -> RenderRequest:
    """How the browser loads a source; no new screenshot when the page is the one we hold."""
    from monitor.browser import RenderRequest  # the browser's module only for browser sources

    page = source if isinstance(source, PageSource) else None
    return RenderRequest(
        url=source.url,
        timeout=source.timeout.total_seconds(),
        headers=resolve_headers(source.headers, os.environ, source.url),
        wait_until=source.wait_until,
        wait_for=source.wait_for,
        screenshot=source.screenshot,
        select=page.select if page and isinstance(page.select, str) else None,  # sections: the whole page
        hide=page.remove if page else (),
        skip_screenshot_for=body_hash,
    )


def snapshot_of(fetched: Fetched, text: str, rules: str) -> NewSnapshot:
    """A fetched body and its text, as the store keeps them."""
    return NewSnapshot(
        body=fetched.body,
        body_hash=sha256(fetched.body),
        text=text,
        text_hash=sha256(text.encode()),
        headers=redact_headers(fetched.headers),
        request_headers=redact_headers(fetched.request_headers),
        url=fetched.final_url,
        status=fetched.status,
        rules=rules,
        screenshot=fetched.screenshot,
    )


def result_of(fetched: Fetched, source: SourceSpec, now: datetime, started: float) -> CheckResult:
    """The parts of a check's result that every good fetch has; the outcome is filled in later."""
    return CheckResult(
        source_id=source.id,
        at=now,
        ms=elapsed_ms(started),
        outcome=CheckOutcome.FAILED,  # until the check says what it found: never a silent success
        status=fetched.status,
        final_url=fetched.final_url if fetched.final_url != source.url else None,
        redirects=tuple((r.url, r.status, r.location) for r in fetched.redirects),
        validators=fetched.validators,
    )


def elapsed_ms(started: float) -> int:
    """Milliseconds since ``started`` (a ``time.perf_counter()``): a check's duration as recorded."""
    return int((time.perf_counter() - started) * 1000)
