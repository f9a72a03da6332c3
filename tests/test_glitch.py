"""Glitches: a cut-off page is never a version, and a blink raises nothing.

The README promises both. Each case serves a real page on 127.0.0.1, checks it, serves the glitch
(a 200 that is not the page), checks, serves the page back and checks again ``confirm_after``
later: no Change is stored, no event is raised, and the check log says what was seen.
"""

from __future__ import annotations

import pytest

from monitor import glitch
from monitor.fetch import Fetcher
from monitor.store import models as m
from monitor.store.repo import Store
from tests.conftest import WriteWatchlist
from tests.site import Clock, Site, policy_page
from tests.test_lifecycle import BASE, CLAUSE, SENTENCE, check, pledge_kinds, pledge_state, watchlist

FULL = policy_page(BASE)
CUT = FULL[: FULL.index("police departments in the United States")]  # mid-clause, mid-sentence


def stored(store: Store) -> tuple[int, int]:
    """(snapshots, changes) kept so far."""
    with store.session() as s:
        return s.query(m.Snapshot).count(), s.query(m.Change).count()


# -- the pure rules ---------------------------------------------------------------------------


def test_a_body_that_stops_where_the_last_one_closed_the_page_is_truncated() -> None:
    why = glitch.truncated(CUT.encode(), FULL.encode, "We will not sell facial", BASE)
    assert why is not None
    assert why.startswith("truncated page")
    assert "% of its text" in why


def test_a_page_that_never_closed_its_tags_is_not_truncated() -> None:
    unclosed = FULL.replace("</body></html>", "")
    assert glitch.truncated(CUT.encode(), unclosed.encode, "We will not", BASE) is None


def test_a_complete_page_with_less_text_is_not_truncated() -> None:
    assert glitch.truncated(policy_page("<p>Short.</p>").encode(), FULL.encode, "Short.", BASE) is None


def test_the_last_body_is_read_only_for_a_cut_off_and_shorter_text() -> None:
    asked: list[int] = []

    def last_body() -> bytes:
        asked.append(1)
        return FULL.encode()

    assert glitch.truncated(policy_page("<p>Short.</p>").encode(), last_body, "Short.", BASE) is None
    assert glitch.truncated(CUT.encode(), last_body, BASE + " and a longer text", BASE) is None
    assert asked == []  # a closed page, or a longer text: never cut off, the stored body stays unread
    assert glitch.truncated(CUT.encode(), last_body, "We will not sell facial", BASE) is not None
    assert asked == [1]


def test_not_found_wording_is_a_soft_404_only_when_new_and_the_text_shrank() -> None:
    assert glitch.not_found("Page not found. Try the search.", BASE) is not None
    assert glitch.not_found("Page not found. " + BASE, BASE) is None  # the page kept its text
    assert glitch.not_found("Page not found.", "Page not found. Our FAQ explains ... " * 5) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Loading...", 'the page now says "Loading..."'),
        ("Please enable JavaScript to view this page.", 'the page now says "Please enable JavaScript"'),
        ("Something went wrong. Try again later.", 'the page now says "Something went wrong"'),
        (BASE[: len(BASE) // 3], "the text shrank to 33% of the last version"),
        (BASE[: len(BASE) * 2 // 3], None),
        (BASE + " More.", None),
    ],
)
def test_suspect_texts(text: str, expected: str | None) -> None:
    assert glitch.suspect(text, BASE) == expected


# -- the promises, through the real check path ------------------------------------------------


def test_a_cut_off_page_is_a_failed_check_however_many_times_it_is_seen(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    """200, a correct Content-Length, the HTML stops mid-sentence: never a version, never a lapse."""
    site.put("/policy", FULL)
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", CUT)
    for step in ({"hours": 7}, {"minutes": 10}, {"hours": 7}, {"minutes": 10}, {"hours": 7}):
        clock.advance(**step)
        check(store, wl, fetcher, clock)
    assert pledge_kinds(store) == []
    assert pledge_state(store) == "intact"
    assert [e.kind for e in store.events()] == ["source.failing"]  # five failed checks in a row
    assert stored(store) == (1, 0)
    latest = store.checks()[0]
    assert latest.outcome == "failed"
    assert (latest.error or "").startswith("truncated page")
    site.put("/policy", FULL)
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == ["source.failing", "source.recovered"]
    assert stored(store) == (1, 0)
    assert store.checks()[0].outcome == "unchanged"


def _home(site: Site) -> None:
    site.put("/policy", "", status=302, location=site.url("/"))
    site.put("/", policy_page("<h1>Welcome to Example Corp</h1><p>We make the cloud.</p>"))


def _search(site: Site) -> None:
    site.put("/policy", "", status=302, location=site.url("/search?q=policy"))
    site.put("/search", policy_page("<h1>Search</h1><p>No results for policy.</p>"))


BLINKS = {
    "redirect to the home page": (_home, "redirected to an unrelated page"),
    "redirect to a search page": (_search, "redirected to an unrelated page"),
    "soft 404": (
        lambda site: site.put(
            "/policy", policy_page("<h1>Page not found</h1><p>Sorry, we can't find that page.</p>")
        ),
        'the page says "Page not found"',
    ),
    "loading shell": (
        lambda site: site.put("/policy", policy_page("<p>Loading...</p><p>Please enable JavaScript.</p>")),
        'unconfirmed: the page now says "Loading..."',
    ),
    "error page with 200": (
        lambda site: site.put("/policy", policy_page("<h1>Something went wrong</h1><p>Try again later.</p>")),
        'unconfirmed: the page now says "Something went wrong"',
    ),
    "cut off halfway": (lambda site: site.put("/policy", CUT), "truncated page"),
    "half the text gone": (
        lambda site: site.put("/policy", policy_page(BASE[: BASE.index("<h2>")].replace(SENTENCE, "We"))),
        "unconfirmed: the text shrank",
    ),
}


@pytest.mark.parametrize("name", list(BLINKS))
def test_a_blink_raises_nothing_and_stores_no_change(
    name: str, site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    serve_glitch, logged = BLINKS[name]
    site.put("/policy", FULL)
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    serve_glitch(site)
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    site.put("/policy", FULL)
    clock.advance(minutes=10)  # the confirming re-check sees the page back
    check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == []
    assert stored(store) == (1, 0)
    assert pledge_state(store) == "intact"
    back, blink = store.checks()[:2]
    assert blink.outcome == "failed", blink.error
    assert logged in (blink.error or ""), blink.error
    assert back.outcome == "unchanged"


def test_a_suspect_text_that_stays_is_the_version_and_its_lapse_is_confirmed_with_it(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    """The re-check that confirms the text also confirms the clause is gone: two checks, not three."""
    site.put("/policy", FULL)
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", policy_page("<h1>Facial recognition</h1><p>We support clear rules for AI.</p>"))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    assert store.events() == []
    assert stored(store) == (1, 0)
    clock.advance(minutes=10)
    check(store, wl, fetcher, clock)
    assert pledge_kinds(store) == ["pledge.removed"]
    assert pledge_state(store) == "removed"
    assert stored(store) == (2, 1)
    removed = store.events()[0]
    assert removed.details["clause"] == CLAUSE
    assert removed.details["first_missed"] == (clock.now.replace(minute=0)).isoformat()


def test_a_shrink_that_stays_without_touching_a_clause_is_one_source_changed(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", FULL)
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", policy_page(f"<h1>Facial recognition</h1><p>{SENTENCE}.</p>"))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    assert store.events() == []
    clock.advance(minutes=10)
    check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == ["source.changed"]
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == ["source.changed"]
    assert stored(store) == (2, 1)


def test_a_suspect_text_seen_again_too_soon_is_not_yet_confirmed(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", FULL)
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", policy_page("<p>Loading...</p>"))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    clock.advance(minutes=2)
    check(store, wl, fetcher, clock)  # a manual check right after: still the first sighting's clock
    assert store.events() == []
    assert stored(store) == (1, 0)
    clock.advance(minutes=8)
    check(store, wl, fetcher, clock)
    assert pledge_kinds(store) == ["pledge.removed"]
