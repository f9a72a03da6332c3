"""Clause outcomes and source health through the real pipeline: a local site, real checks, a real store.

Each case serves a realistic "before" page, checks, serves the "after" page, checks again (and once
more after confirm_after, for lapses), then compares the pledge events with what a careful reader
of the two pages would say.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from monitor.cycle import run_cycle
from monitor.fetch import Fetcher
from monitor.store.repo import Store
from monitor.watchlist import Watchlist
from tests.conftest import WriteWatchlist
from tests.site import Clock, Site, policy_page

BOTH_BACKENDS = True  # the store's behaviour is tested on SQLite and on PostgreSQL

CLAUSE = "we will not sell facial recognition technology to police departments in the United States"

BASE = """<h1>Facial recognition: our commitments</h1>
<p>Updated June 11, 2020.</p>
<p>We will not sell facial recognition technology to police departments in the United States
until there is a national law in place, grounded in human rights, that will govern this technology.</p>
<h2>Responsible AI</h2>
<p>Our Responsible AI Standard guides how we design, build and test AI systems.</p>
<h2>Customers</h2>
<p>Enterprise customers can request access to Face API features through a review process.</p>"""

RESPONSIBLE_AI = """<h2>Responsible AI</h2>
<p>Our Responsible AI Standard guides how we design, build and test AI systems.</p>
"""
assert RESPONSIBLE_AI in BASE

SENTENCE = "We will not sell facial recognition technology to police departments in the United States"


def said(replacement: str) -> str:
    return BASE.replace(SENTENCE, replacement)


# (name, after-article, expected pledge events (kinds), expected pledge state)
CLAUSE_CASES = [
    ("exact, unchanged wording", BASE, [], "intact"),
    (
        "exact, curly quotes and dashes around",
        BASE.replace("human rights,", "human rights \u2014"),
        [],
        "intact",
    ),
    (
        "exact, moved to another section",
        BASE.replace("<h2>Customers</h2>", "").replace("<p>We will", "<p>Enterprise first.</p><p>We will"),
        [],
        "intact",
    ),
    (
        "reworded, a synonym",
        said("We will not sell face recognition technology to police departments in the United States"),
        ["pledge.reworded"],
        "reworded",
    ),
    (
        "weakened, hedge added",
        said(
            "At this time we will not sell facial recognition technology to police departments "
            "in the United States"
        ),
        ["pledge.weakened"],
        "weakened",
    ),
    (
        "weakened, negation dropped",
        said("We will sell facial recognition technology to police departments in the United States"),
        ["pledge.weakened"],
        "weakened",
    ),
    (
        "weakened, time limit added",
        said(
            "For one year we will not sell facial recognition technology to police departments "
            "in the United States"
        ),
        ["pledge.weakened"],
        "weakened",
    ),
    (
        "weakened, scope narrowed",
        said(
            "We will not sell facial recognition technology to police departments in the United States "
            "for use in criminal investigations"
        ).replace("We will not sell", "We will not sell real-time"),
        ["pledge.weakened"],
        "weakened",
    ),
]


NOISE_CASES = [
    ("cookie banner added", policy_page(BASE, banner="<div class='cookie'>We use cookies. Accept?</div>")),
    ("navigation changed", policy_page(BASE, nav="Home | Newsroom | Careers | Investors")),
    ("footer year", policy_page(BASE, footer="© 2027 Example Corp")),
    ("date stamp changed", policy_page(BASE.replace("Updated June 11, 2020.", "Updated March 3, 2026."))),
    ("whitespace reflowed", policy_page(BASE.replace(" ", "  ").replace("\n", "\n\n"))),
    ("tracking parameters in links", policy_page(BASE + "<p><a href='/x?utm_source=mail'>More</a></p>")),
    ("unrelated paragraph edited", policy_page(BASE.replace("design, build and test", "design and test"))),
    (
        "unrelated sections reordered",
        policy_page(BASE.replace(RESPONSIBLE_AI, "") + RESPONSIBLE_AI),
    ),
    ("share buttons text", policy_page(BASE + "<div class='share'>Share on LinkedIn | Share by email</div>")),
    (
        "related articles list",
        policy_page(BASE + "<ul><li>Our approach to AI</li><li>Privacy report</li></ul>"),
    ),
    ("non-breaking spaces", policy_page(BASE.replace("national law", "national&nbsp;law"))),
    ("script and build hash", policy_page(BASE).replace("window.__BUILD__", "window.__BUILD2__")),
]


def watchlist_text(site: Site, clauses: tuple[str, ...] = (CLAUSE,), *, select: str = "#policy") -> str:
    """One source and, when there are clauses, the pledge it carries."""
    listed = "".join(f'\n      - "{c}"' for c in clauses)
    pledge = f"""
pledges:
  - id: no-police-sales
    company: Example Corp
    title: No facial recognition sales to US police
    made_on: 2020-06-11
    sources: [policy]
    clauses:{listed}"""
    return f"""
defaults: {{per_host: 10, per_host_delay: 0s, confirm_after: 10m, failing_after: 3}}
sources:
  - id: policy
    url: {site.url("/policy")}
    select: "{select}"
{pledge if clauses else ""}
"""


def watchlist(write: WriteWatchlist, site: Site, *clauses: str, select: str = "#policy") -> Watchlist:
    return write(watchlist_text(site, clauses or (CLAUSE,), select=select))


def check(store: Store, wl: Watchlist, fetcher: Fetcher, clock: Clock) -> None:
    store.sync(wl, clock())
    run_cycle(store, wl, fetcher, ["policy"], clock=clock, rng=random.Random(1))


def pledge_kinds(store: Store) -> list[str]:
    return [e.kind for e in store.events() if e.kind.startswith("pledge.")]


def pledge_state(store: Store) -> str:
    return next(p.state for p in store.pledges() if p.id == "no-police-sales")


@pytest.mark.parametrize(("name", "after", "kinds", "state"), CLAUSE_CASES, ids=[c[0] for c in CLAUSE_CASES])
def test_clause_outcomes(
    name: str,
    after: str,
    kinds: list[str],
    state: str,
    site: Site,
    write_watchlist: WriteWatchlist,
    store: Store,
    fetcher: Fetcher,
) -> None:
    site.put("/policy", policy_page(BASE))
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    assert pledge_state(store) == "intact"
    site.put("/policy", policy_page(after))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)  # a further check of the same text raises nothing new
    assert pledge_kinds(store) == kinds
    assert pledge_state(store) == state
    event = next((e for e in store.events() if e.kind.startswith("pledge.")), None)
    if event is not None:
        assert event.details["clause"] == CLAUSE
        assert event.details["passage"]
        assert event.details["word_ops"]
        if event.kind == "pledge.weakened":
            assert event.details["signals"], "a weakened clause explains why"


@pytest.mark.parametrize(("name", "after"), NOISE_CASES, ids=[c[0] for c in NOISE_CASES])
def test_noise_raises_no_pledge_event(
    name: str, after: str, site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(BASE))
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", after)
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    assert pledge_kinds(store) == []
    assert pledge_state(store) == "intact"


def test_removed_only_once_a_recheck_agrees(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(BASE))
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", policy_page(BASE.replace(SENTENCE, "We support clear rules for all technology")))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    assert pledge_kinds(store) == []  # not yet: one fetch is not proof
    assert store.source_row("policy").next_check_at == clock.now + timedelta(minutes=10)
    clock.advance(minutes=10)
    check(store, wl, fetcher, clock)
    assert pledge_kinds(store) == ["pledge.removed"]
    assert pledge_state(store) == "removed"
    site.put("/policy", policy_page(BASE))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    assert pledge_kinds(store) == ["pledge.removed", "pledge.restored"]
    assert pledge_state(store) == "intact"


def test_a_blink_is_not_a_removal(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(BASE))
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", policy_page("<p>Loading...</p><p>Please enable JavaScript to read this policy.</p>"))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    site.put("/policy", policy_page(BASE))
    clock.advance(minutes=10)
    check(store, wl, fetcher, clock)
    assert pledge_kinds(store) == []
    assert pledge_state(store) == "intact"


def test_404_once_then_back_is_no_lapse(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(BASE))
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", "Not Found", status=404)
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    site.put("/policy", policy_page(BASE))
    clock.advance(minutes=10)
    check(store, wl, fetcher, clock)
    kinds = [e.kind for e in store.events()]
    assert "pledge.removed" not in kinds
    assert "source.gone" not in kinds
    assert pledge_state(store) == "intact"


def test_404_is_gone_only_once_every_check_across_gone_after_saw_it(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    """A 404 that outlasts the 10-minute re-check is a deploy or a migration, not a gone page:
    until gone_after (1 day, at least 3 checks) it is a failing source."""
    site.put("/policy", policy_page(BASE))
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", "Gone", status=410)
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    clock.advance(minutes=10)
    check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == []
    assert store.source_row("policy").next_check_at <= clock.now + timedelta(hours=12)  # gone_after / 2
    clock.advance(hours=12)
    check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == ["source.failing"]  # failing_after: 3
    clock.advance(hours=12)  # a day since the first 410
    check(store, wl, fetcher, clock)
    events = store.events()
    assert [e.kind for e in events] == ["source.failing", "source.gone"]
    gone = events[-1]
    assert gone.severity == "critical"  # it carries a clause
    assert gone.details["checks"] == 4
    assert gone.details["why"] == "HTTP 410"
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == ["source.failing", "source.gone"]  # said once
    assert pledge_kinds(store) == []
    assert pledge_state(store) == "intact"


def test_gone_needs_the_404_on_every_check_in_between(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(BASE))
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    for body, status in [("nf", 404), ("nf", 404), ("down", 503), ("nf", 404), ("nf", 404)]:
        site.put("/policy", body, status=status)
        clock.advance(hours=8)
        check(store, wl, fetcher, clock)
    # 32 hours of failures, but the 404s since the 503 span only 8 hours
    assert [e.kind for e in store.events()] == ["source.failing"]
    for _ in range(2):
        clock.advance(hours=8)
        check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == ["source.failing", "source.gone"]


def test_gone_after_is_per_source(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(BASE))
    wl = write_watchlist(watchlist_text(site).replace("    select:", "    gone_after: 1h\n    select:"))
    assert wl.source("policy").gone_after == timedelta(hours=1)
    clock = Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", "nf", status=404)
    for _ in range(3):
        clock.advance(minutes=30)
        check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == ["source.gone"]  # the third check: gone says more than failing


def test_transient_failures_are_failing_then_recovered_never_a_lapse(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(BASE))
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    for body, status in [("down", 503), ("", 200), ("down", 500), ("down", 503)]:
        site.put("/policy", body, status=status)
        clock.advance(hours=7)
        check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == ["source.failing"]
    site.put("/policy", policy_page(BASE))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == ["source.failing", "source.recovered"]
    assert pledge_state(store) == "intact"


def test_selector_matching_nothing_is_a_failed_check_not_a_lapse(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(BASE))
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", "<html><body><main>Redesigned site</main></body></html>")
    for _ in range(2):
        clock.advance(hours=7)
        check(store, wl, fetcher, clock)
    latest = store.checks()[0]
    assert latest.outcome == "failed"
    assert "matched nothing" in (latest.error or "")
    assert [e.kind for e in store.events()] == []


def test_permanent_redirect_to_a_page_with_the_clause_is_a_move(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(BASE))
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", "", status=301, location=site.url("/legal/face-policy"))
    site.put("/legal/face-policy", policy_page(BASE))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    events = store.events()
    assert [e.kind for e in events] == ["source.moved"]
    assert events[0].details["moved_to"] == site.url("/legal/face-policy")


def test_a_redirect_home_that_persists_is_source_gone_never_a_removal(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    """The home page matches the selector and lacks the clause: still a gone page, not a lapse."""
    site.put("/policy", policy_page(BASE))
    wl, clock = watchlist(write_watchlist, site), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", "", status=301, location=site.url("/"))
    site.put("/", policy_page("<p>Welcome to Example Corp. We make the cloud.</p>"))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    clock.advance(minutes=10)
    check(store, wl, fetcher, clock)
    assert [e.kind for e in store.events()] == []
    for _ in range(2):
        clock.advance(hours=12)
        check(store, wl, fetcher, clock)
    events = store.events()
    assert [e.kind for e in events] == ["source.failing", "source.gone"]
    assert events[-1].severity == "critical"
    assert "redirected to" in events[-1].details["why"]
    assert pledge_state(store) == "intact"
    with store.session() as s:
        from monitor.store import models as m

        assert s.query(m.Snapshot).count() == 1  # the home page is kept nowhere as the policy


def test_new_extraction_rules_are_a_baseline_not_a_removal(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    """A maintainer narrows `select` so the clause falls outside it: no pledge event, ever."""
    site.put("/policy", policy_page(BASE))
    clock = Clock()
    check(store, watchlist(write_watchlist, site), fetcher, clock)
    narrowed = watchlist(write_watchlist, site, select="#policy h2")
    for _ in range(3):
        clock.advance(minutes=30)
        check(store, narrowed, fetcher, clock)
    assert pledge_kinds(store) == []
    assert store.checks()[2].outcome == "rebaseline"


def test_a_clause_added_while_the_page_is_unchanged_is_found_at_once(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    """Its baseline is today's page, so a later weakening is reported, not taken as the baseline."""
    site.put("/policy", policy_page(BASE), etag=True)
    clock = Clock()
    check(store, write_watchlist(watchlist_text(site, ())), fetcher, clock)
    clock.advance(hours=7)
    check(store, watchlist(write_watchlist, site), fetcher, clock)  # a 304: the page did not change
    assert pledge_state(store) == "intact"
    site.put("/policy", policy_page(said("At this time w" + SENTENCE[1:])), etag=True)
    clock.advance(hours=7)
    check(store, watchlist(write_watchlist, site), fetcher, clock)
    assert pledge_kinds(store) == ["pledge.weakened"]


def test_a_clause_replaced_in_the_watchlist_is_not_reported_removed(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(BASE))
    clock = Clock()
    check(store, watchlist(write_watchlist, site), fetcher, clock)
    reworded = SENTENCE.replace("We will not sell", "We do not sell")
    site.put("/policy", policy_page(said(reworded)))
    clock.advance(hours=7)
    check(store, watchlist(write_watchlist, site), fetcher, clock)  # the old clause is missing: pending
    new_clause = reworded[0].lower() + reworded[1:]
    for _ in range(3):
        clock.advance(minutes=15)
        check(store, watchlist(write_watchlist, site, new_clause), fetcher, clock)  # the maintainer follows
    assert "pledge.removed" not in pledge_kinds(store)
    assert pledge_state(store) == "intact"


def test_a_redirect_to_the_home_page_stores_nothing_of_it(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(BASE))
    clock = Clock()
    wl = write_watchlist(watchlist_text(site, ()))
    check(store, wl, fetcher, clock)
    site.put("/policy", "", status=301, location=site.url("/"))
    site.put("/", policy_page("<p>Welcome home.</p>"))
    for _ in range(3):
        clock.advance(hours=12)
        check(store, wl, fetcher, clock)
    events = store.events()
    assert [e.kind for e in events] == ["source.gone"]
    assert events[-1].severity == "warning"  # it carries no clause
    assert "redirected to an unrelated page" in (store.checks()[0].error or "")
    with store.session() as s:
        from monitor.store import models as m

        assert s.query(m.Snapshot).count() == 1


# --- a narrowed pledge is a rewording, a removal says what stands there now ---------------------------

MICROSOFT_FACE = (
    "Microsoft will not sell facial recognition technology to police departments in the United States"
    " until strong regulation, grounded in human rights, has been enacted"
)
AZURE_FACE = """<h1>Azure AI Face</h1>
<p>Face is a Limited Access service.</p>
<p>{}.</p>
<p>Customers must apply for access to face identification.</p>"""
MICROSOFT_NOW = (
    "Microsoft does not currently sell facial recognition technology to police departments"
    " in the United States"
)


def face_watchlist(write: WriteWatchlist, site: Site, clause: str, language: str = "") -> Watchlist:
    text = watchlist_text(site, (clause,))
    return write(text + (f"    language: {language}\n" if language else ""))


def test_a_narrowed_pledge_is_weakened_and_quoted_not_removed(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    """Microsoft's "does not currently sell" keeps 67% of the clause's words: under the 75%
    rewording threshold, but what stands in its place is a weakening, not a removal."""
    site.put("/policy", policy_page(AZURE_FACE.format(MICROSOFT_FACE)))
    wl, clock = face_watchlist(write_watchlist, site, MICROSOFT_FACE), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", policy_page(AZURE_FACE.format(MICROSOFT_NOW)))
    for hours in (7, 7):
        clock.advance(hours=hours)
        check(store, wl, fetcher, clock)
    assert pledge_kinds(store) == ["pledge.weakened"]
    assert pledge_state(store) == "weakened"
    event = next(e for e in store.events() if e.kind == "pledge.weakened")
    assert event.details["passage"] == MICROSOFT_NOW
    assert event.details["related"] is True
    assert [s["kind"] for s in event.details["signals"]] == [
        "hedge_added",
        "commitment_dropped",
        "condition_dropped",
    ]
    marked = [MICROSOFT_NOW[a:b] for a, b in event.details["passage_marks"]]
    assert marked == ["does", "currently"]
    assert event.change_id is not None


def test_a_removal_names_its_change_and_what_stands_there_now(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    site.put("/policy", policy_page(AZURE_FACE.format(MICROSOFT_FACE)))
    wl, clock = face_watchlist(write_watchlist, site, MICROSOFT_FACE), Clock()
    check(store, wl, fetcher, clock)
    site.put("/policy", policy_page(AZURE_FACE.replace("<p>{}.</p>\n", "")))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    assert pledge_kinds(store) == []  # not before a re-check agrees
    for _ in range(2):
        clock.advance(minutes=10)
        check(store, wl, fetcher, clock)
    (removing,) = store.changes("policy")
    (event,) = [e for e in store.events() if e.kind == "pledge.removed"]
    assert event.change_id == removing.id  # "Change N: pledge-monitor show N" in the alert
    assert event.details["now_before"] == "Face is a Limited Access service."
    assert event.details["now_after"] == "Customers must apply for access to face identification."


@pytest.mark.parametrize("declared", ["page", "pledge"])
def test_the_page_lang_or_the_pledge_language_picks_the_rules(
    declared: str, site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    """ "keine" -> "eine" is a dropped negation in German; English rules would call it a rewording."""
    clause = "Wir verkaufen keine Gesichtserkennung an Polizeibehörden in Deutschland"
    article = "<h1>Grundsätze</h1>\n<p>{}.</p>\n<p>Kunden beantragen den Zugang.</p>"
    lang = "de" if declared == "page" else "en"
    site.put("/policy", policy_page(article.format(clause)).replace('lang="en"', f'lang="{lang}"'))
    wl = face_watchlist(write_watchlist, site, clause, "de" if declared == "pledge" else "")
    clock = Clock()
    check(store, wl, fetcher, clock)
    after = article.format(clause.replace("keine", "eine"))
    site.put("/policy", policy_page(after).replace('lang="en"', f'lang="{lang}"'))
    clock.advance(hours=7)
    check(store, wl, fetcher, clock)
    assert pledge_kinds(store) == ["pledge.weakened"]
    (event,) = [e for e in store.events() if e.kind == "pledge.weakened"]
    assert [(s["kind"], s["words"]) for s in event.details["signals"]] == [("negation_dropped", "keine")]


def test_an_accent_difference_is_no_rewording(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    clause = "Élysée ne vendra pas la reconnaissance faciale aux services de police"
    article = "<p>{}.</p><p>Contact.</p>"
    site.put("/policy", policy_page(article.format(clause.replace("Élysée", "ELYSEE"))))
    wl, clock = face_watchlist(write_watchlist, site, clause, "fr"), Clock()
    check(store, wl, fetcher, clock)
    assert pledge_state(store) == "intact"
