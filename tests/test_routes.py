"""Which routes an event goes to: the filters of each route against the pledges the event concerns."""

from __future__ import annotations

import pytest

from monitor.events import EventKind, Severity
from monitor.lifecycle import EventDraft
from monitor.routes import concerned, routes_for
from monitor.watchlist import Watchlist
from tests.conftest import WriteWatchlist

WATCHLIST = """
sources:
  - {id: ibm-letter, url: "https://example.org/ibm"}
  - {id: msft-blog, url: "https://example.org/msft"}
  - {id: press, url: "https://example.org/press"}
pledges:
  - id: ibm-exit
    company: IBM
    title: IBM exits facial recognition
    made_on: 2020-06-08
    clauses: [IBM no longer offers general purpose facial recognition]
    sources: [ibm-letter]
    tags: [facial-recognition]
  - id: msft-police
    company: Microsoft
    title: No sales to US police
    made_on: 2020-06-11
    clauses: [we will not sell facial recognition technology to police departments]
    sources: [msft-blog]
    tags: [police]
routes:
  everything: {urls: "json://127.0.0.1:9/all"}
  critical-only: {urls: "json://127.0.0.1:9/crit", min_severity: critical}
  ibm-desk: {urls: "json://127.0.0.1:9/ibm", companies: [IBM]}
  police-beat: {urls: "json://127.0.0.1:9/police", tags: [police]}
  msft-pledge: {urls: "json://127.0.0.1:9/msft", pledges: [msft-police]}
  changes-only: {urls: "json://127.0.0.1:9/changes", events: ["source.*"]}
"""


@pytest.fixture
def watchlist(write_watchlist: WriteWatchlist) -> Watchlist:
    return write_watchlist(WATCHLIST)


def draft(
    kind: EventKind, severity: Severity, *, pledge: str | None = None, source: str = "", **details: object
) -> EventDraft:
    return EventDraft(kind, severity, "title", pledge, source, dict(details))


def test_a_pledge_event_goes_where_its_pledge_company_and_tags_are_wanted(watchlist: Watchlist) -> None:
    weakened = draft(EventKind.PLEDGE_WEAKENED, Severity.CRITICAL, pledge="msft-police", source="msft-blog")
    assert routes_for(weakened, watchlist) == ["everything", "critical-only", "police-beat", "msft-pledge"]
    ibm = draft(EventKind.PLEDGE_WEAKENED, Severity.CRITICAL, pledge="ibm-exit", source="ibm-letter")
    assert routes_for(ibm, watchlist) == ["everything", "critical-only", "ibm-desk"]


def test_a_source_event_concerns_the_pledges_that_watch_the_source(watchlist: Watchlist) -> None:
    changed = draft(EventKind.SOURCE_CHANGED, Severity.INFO, source="ibm-letter")
    assert [p.id for p in concerned(changed, watchlist)] == ["ibm-exit"]
    assert routes_for(changed, watchlist) == ["everything", "ibm-desk", "changes-only"]


def test_pledges_named_in_the_details_replace_the_sources_pledges(watchlist: Watchlist) -> None:
    named = draft(EventKind.SOURCE_CHANGED, Severity.INFO, source="ibm-letter", pledges=["msft-police"])
    assert [p.id for p in concerned(named, watchlist)] == ["msft-police"]
    assert routes_for(named, watchlist) == ["everything", "police-beat", "msft-pledge", "changes-only"]


def test_a_source_no_pledge_watches_reaches_only_routes_without_pledge_filters(watchlist: Watchlist) -> None:
    press = draft(EventKind.SOURCE_CHANGED, Severity.INFO, source="press")
    assert concerned(press, watchlist) == []
    assert routes_for(press, watchlist) == ["everything", "changes-only"]
