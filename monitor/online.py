"""Try sources for real before trusting them: what ``try`` and ``validate --online`` find.

A watchlist can be valid and still watch nothing: a selector that matches nothing, one that
picks a cookie banner, a clause copied with a typo, a page whose text changes on every fetch
(a rotating quote, a timestamp) and would "blink" a change at every check, a page that is an empty
shell until its scripts run. Each source is fetched twice, as the check would (``browser: true``
sources in the browser), and nothing is written anywhere. A page whose text is short, or whose
selector matches nothing, without a browser is loaded in one too, when one is installed: a much
longer text there means the source needs ``browser: true``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from monitor import diff as differ
from monitor.browser import unavailable
from monitor.check import read_page, source_text
from monitor.checking import fetch_source, render_request
from monitor.clauses import ClauseMatch, Outcome, find_clause
from monitor.cycle import HostGate
from monitor.errors import ExtractError, FeedError, FetchError
from monitor.feeds import FeedItem
from monitor.fetch import Fetched, Fetcher
from monitor.statements import items_text, read_items
from monitor.watchlist import FeedSource, ListingSource, PageSource, PledgeSpec, WatchedSource, Watchlist

SHORT_TEXT = 200  # characters: less is rarely a whole policy page; more likely a wrong element


@dataclass(frozen=True)
class Problem:
    """Something that would make the source's checks wrong or useless."""

    kind: str  # fetch | selector | extract | feed | short | shell | clause | unstable
    message: str


@dataclass(frozen=True)
class ClauseFinding:
    """One clause looked up in the text; ``pledge_id`` None for a clause given on the command line."""

    pledge_id: str | None
    match: ClauseMatch


@dataclass(frozen=True)
class Trial:
    """What fetching one source twice found."""

    source: WatchedSource
    fetched: Fetched | None = None
    text: str | None = None
    items: tuple[FeedItem, ...] = ()
    clauses: tuple[ClauseFinding, ...] = ()
    blink: differ.TextDiff | None = None  # how the second fetch's text differed from the first
    note: str | None = None  # how the page was read, when that needs saying (repaired markup)
    problems: tuple[Problem, ...] = ()
    second_fetch: bool = field(default=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def stable(self) -> bool:
        return self.second_fetch and self.blink is None


def try_source(
    source: WatchedSource,
    pledges: Sequence[PledgeSpec],
    fetcher: Fetcher,
    *,
    extra_clauses: Sequence[str] = (),
    pause: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Trial:
    """Fetch, extract and look up every clause; fetch again after ``pause`` s to compare."""
    try:
        fetched = fetch_source(source, fetcher)
        text, items, note = read_noted(source, fetched)
    except FetchError as exc:
        return Trial(source, problems=(Problem("fetch", str(exc)),))
    except (ExtractError, FeedError) as exc:
        shell = _shell_problem(source, fetcher, None)
        return Trial(source, problems=(shell or _reading_problem(exc),))
    problems = _length_problems(source, text, items)
    if problems and problems[0].kind == "short":
        problems = [_shell_problem(source, fetcher, text) or problems[0]]
    clauses = _findings(source, pledges, extra_clauses, text)
    problems += [_clause_problem(f) for f in clauses if f.match.outcome is not Outcome.EXACT]
    sleep(pause)
    blink, second = None, False
    try:
        again, _ = read(source, fetch_source(source, fetcher))
        second = True
        if again != text:
            blink = differ.compute(text, again)
            problems.append(
                Problem("unstable", f"the text changed between two fetches ({differ.summarize(blink)})")
            )
    except (FetchError, ExtractError, FeedError) as exc:
        problems.append(Problem("fetch", f"the second fetch failed: {exc}"))
    return Trial(source, fetched, text, items, tuple(clauses), blink, note, tuple(problems), second)


def validate_online(
    watchlist: Watchlist,
    fetcher: Fetcher,
    *,
    workers: int = 4,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Trial]:
    """Try every source, a few at once but one at a time per host; results in watchlist order."""
    delay = watchlist.defaults.per_host_delay.total_seconds()
    gate = HostGate(limit=1, delay=delay)

    def one(source: WatchedSource) -> Trial:
        host = gate.enter(source.url)
        try:
            return try_source(source, watchlist.pledges_for(source.id), fetcher, pause=delay, sleep=sleep)
        finally:
            gate.leave(host)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="validate") as pool:
        return list(pool.map(one, watchlist.sources))


def read(source: WatchedSource, fetched: Fetched) -> tuple[str, tuple[FeedItem, ...]]:
    """The text a check would store (for a feed or listing: one line per item) and the items."""
    text, items, _ = read_noted(source, fetched)
    return text, items


def read_noted(source: WatchedSource, fetched: Fetched) -> tuple[str, tuple[FeedItem, ...], str | None]:
    """``read``, and the note a check would log about how the page was read."""
    if isinstance(source, FeedSource | ListingSource):
        items = read_items(source, fetched)
        return items_text(items), items, None
    page = read_page(source, fetched)
    return page.text, (), page.note


def _reading_problem(exc: ExtractError | FeedError) -> Problem:
    message = str(exc)
    selector = "matched nothing" in message or "matched only empty elements" in message
    return Problem("selector" if selector else _kind_of(exc), message)


def _kind_of(exc: ExtractError | FeedError) -> str:
    return "feed" if isinstance(exc, FeedError) else "extract"


def _length_problems(source: WatchedSource, text: str, items: Sequence[FeedItem]) -> list[Problem]:
    if not isinstance(source, PageSource):
        return [] if items else [Problem("feed", f"the {source.kind} has no items")]
    if len(text) < SHORT_TEXT:
        what = source.describe_selection()
        return [
            Problem(
                "short",
                f"the text is only {len(text)} characters (under {SHORT_TEXT}): "
                f"does {what} pick the policy text, or a banner or an empty shell filled by JavaScript?",
            )
        ]
    return []


def _shell_problem(source: WatchedSource, fetcher: Fetcher, text: str | None) -> Problem | None:
    """A page read without a browser that the browser reads much longer: a JavaScript shell."""
    if not isinstance(source, PageSource) or source.browser or unavailable() is not None:
        return None
    rendered = source.model_copy(update={"browser": True, "screenshot": False})
    try:
        full = source_text(rendered, fetcher.browser.render(render_request(rendered)))
    except (FetchError, ExtractError):
        return None
    if len(full) < SHORT_TEXT or (text is not None and len(full) < 2 * len(text)):
        return None
    without = (
        f"the text is {len(text):,} characters without a browser"
        if text is not None
        else f"{source.describe_selection()} matches nothing without a browser"
    )
    return Problem("shell", f"{without}, {len(full):,} with one: add `browser: true`")


def _findings(
    source: WatchedSource, pledges: Sequence[PledgeSpec], extra: Sequence[str], text: str
) -> list[ClauseFinding]:
    """Clauses are only matched on pages: a check never looks for them in a feed."""
    if not isinstance(source, PageSource):
        return []
    wanted: list[tuple[str | None, str]] = [(p.id, c) for p in pledges for c in p.clauses]
    wanted += [(None, c) for c in extra]
    return [ClauseFinding(pledge_id, find_clause(clause, text)) for pledge_id, clause in wanted]


def _clause_problem(finding: ClauseFinding) -> Problem:
    """A clause not found exactly is a problem: a check would alert on it from the first change,
    or take today's rewording as the baseline and never say that the pledge was weakened."""
    owner = f" of pledge {finding.pledge_id}" if finding.pledge_id else ""
    match = finding.match
    if match.outcome is Outcome.NOT_FOUND:
        return Problem("clause", f'clause{owner} not found on the page: "{match.clause}"')
    how = f"{match.outcome.value} ({match.similarity:.0%} similar)"
    return Problem(
        "clause",
        f'clause{owner} not found exactly, only {how}: "{match.clause}" (the page says: "{match.passage}")',
    )
