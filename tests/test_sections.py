"""Sections: the text between two elements, declared in the watchlist and read by the real check."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.errors import ExtractError
from monitor.extract import extract
from monitor.fetch import Fetcher
from monitor.store import models as m
from monitor.store.repo import Store
from monitor.watchlist import SectionSpec, parse_watchlist
from tests.conftest import WriteWatchlist
from tests.site import Site
from tests.test_noise import Checker

PLEDGE = "We will not sell face recognition to police."
HTML = "text/html; charset=utf-8"


def section(**rule: str) -> SectionSpec:
    return SectionSpec(**rule)


COMMITMENTS = section(start_after="h2#commitments", end_before="h2")


def text(body: str, *select: str | SectionSpec, remove: tuple[str, ...] = ()) -> str:
    return extract(body.encode(), content_type=HTML, select=select, remove=remove)


def policy(commitments: str = f"<p>{PLEDGE}</p><p>We review this yearly.</p>", tail: str = "") -> str:
    """A long page whose commitments are one run of siblings between two headings."""
    return f"""<html><body><nav>Home | About</nav><main>
<h1>Our approach</h1><p>Intro text.</p>
<h2 id="commitments">Our commitments</h2>{commitments}
<h2 id="history">History</h2><p>Founded in 1990.</p>{tail}
</main><footer>(c) Acme</footer></body></html>"""


def test_a_section_is_the_text_between_its_start_and_its_end() -> None:
    assert text(policy(), COMMITMENTS) == f"{PLEDGE}\nWe review this yearly."


def test_before_and_after_include_the_boundary_elements() -> None:
    with_heading = section(start_before="h2#commitments", end_before="h2#history")
    assert text(policy(), with_heading) == f"Our commitments\n{PLEDGE}\nWe review this yearly."
    through_history = section(start_after="h2#commitments", end_after="h2#history")
    assert text(policy(), through_history) == f"{PLEDGE}\nWe review this yearly.\nHistory"


def test_inline_siblings_in_a_section_read_as_one_line() -> None:
    body = '<div><b id="s">Pledge:</b> we will <em>not</em> sell it. <b id="e">End</b> after</div>'
    assert text(body, section(start_after="#s", end_before="#e")) == "we will not sell it."


def test_a_missing_end_keeps_the_section_inside_the_start_element_parent() -> None:
    """The last section of a page: no next heading. The footer and navigation stay out."""
    body = policy().replace('<h2 id="history">History</h2><p>Founded in 1990.</p>', "")
    assert text(body, COMMITMENTS) == f"{PLEDGE}\nWe review this yearly."
    assert "Acme" not in text(body, section(start_after="h2#commitments", end_before="h3.never"))


def test_a_start_matching_twice_starts_two_sections_and_reads_each_once() -> None:
    body = """<main><h2 class="pledge">One</h2><p>First pledge.</p><h2>Other</h2><p>Skip me.</p>
    <h2 class="pledge">Two</h2><p>Second pledge.</p><h2>End</h2></main>"""
    assert text(body, section(start_before="h2.pledge", end_before="h2:not(.pledge)")) == (
        "One\nFirst pledge.\nTwo\nSecond pledge."
    )
    # the second start lies inside the first section: its text is not read twice
    nested = "<main><h2>A</h2><p>x</p><h2>B</h2><p>y</p><h3>end</h3></main>"
    assert text(nested, section(start_after="h2", end_before="h3")) == "x\nB\ny"


def test_a_range_spanning_nested_elements_takes_what_lies_between() -> None:
    """Start deep in one wrapper, end deep in another: the section climbs out and back in."""
    body = """<main>
      <div class="block"><div class="title"><h2 id="commitments">Our commitments</h2></div>
        <p>We will not sell it.</p></div>
      <div class="block"><p>We audit every year.</p>
        <div class="title"><h2 id="next">Next</h2></div><p>Not this.</p></div>
      <p>Nor this.</p>
    </main>"""
    assert text(body, section(start_after="#commitments", end_before="#next")) == (
        "We will not sell it.\nWe audit every year."
    )


def test_sections_mix_with_selectors_in_page_order_and_respect_remove() -> None:
    body = policy(f'<p>{PLEDGE}</p><p class="share">Share this</p>')
    assert text(body, "h1", COMMITMENTS, remove=(".share",)) == f"Our approach\n{PLEDGE}"
    assert text(body, COMMITMENTS, "h1") == f"Our approach\n{PLEDGE}\nShare this"  # page order
    assert text(body, "main", COMMITMENTS) == text(body, "main")  # inside main: read once


def test_hidden_elements_in_a_section_stay_hidden() -> None:
    body = policy(f'<p>{PLEDGE}</p><p style="display:none">Draft</p>')
    assert text(body, COMMITMENTS) == PLEDGE


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            section(start_after="h2#gone", end_before="h2"),
            "section from after 'h2#gone' to before 'h2' matched nothing",
        ),
        (
            section(start_after="h2#commitments", end_before="h2#history"),
            "section from after 'h2#commitments' to before 'h2#history' matched only empty elements",
        ),
    ],
)
def test_a_section_that_is_not_there_fails_instead_of_reading_nothing(
    rule: SectionSpec, message: str
) -> None:
    body = policy(commitments="<p> </p>")
    with pytest.raises(ExtractError, match=message):
        text(body, "main", rule)


def test_watchlist_reads_sections_and_keeps_a_single_selector_as_it_was() -> None:
    watchlist = parse_watchlist(
        """
sources:
  - id: plain
    url: https://acme.example/a
    select: main
  - id: one-section
    url: https://acme.example/a
    select: {start_after: "h2#commitments", end_before: h2}
  - id: mixed
    url: https://acme.example/a
    select: [h1, {start_before: "#a", end_after: "#b"}]
"""
    )
    plain, one, mixed = watchlist.sources
    assert plain.select == plain.selection == "main"
    assert one.select == (COMMITMENTS,)
    assert mixed.selection == ("h1", section(start_before="#a", end_after="#b"))
    assert mixed.describe_selection() == "selector 'h1' and section from before '#a' to after '#b'"
    assert len({plain.rules_fingerprint(), one.rules_fingerprint(), mixed.rules_fingerprint()}) == 3


# --- through the real check path --------------------------------------------------------------


def test_a_section_is_watched_through_the_check_and_ignores_the_rest_of_the_page(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    wl = write_watchlist(
        f"""
        defaults: {{per_host: 10, per_host_delay: 0s}}
        sources:
          - id: commitments
            url: "{site.url("/policy")}"
            select: {{start_after: "h2#commitments", end_before: h2}}
        pledges:
          - id: no-police
            company: Acme
            title: No face recognition for police
            made_on: 2020-06-10
            sources: [commitments]
            clauses: ["{PLEDGE}"]
        """
    )
    check = Checker(store, wl, fetcher)
    site.put("/policy", policy())
    assert check() == {"commitments": "baseline"}
    site.put("/policy", policy(tail="<p>Founded in 1991.</p>").replace("Intro text", "New intro"))
    assert check() == {"commitments": "same_text"}  # outside the section: no change
    site.put("/policy", policy(f"<p>{PLEDGE}</p><p>We review this every two years.</p>"))
    assert check() == {"commitments": "changed"}
    (change,) = store.changes()
    assert store.snapshot_text(change.to_snapshot_id) == f"{PLEDGE}\nWe review this every two years."
    site.put("/policy", policy().replace('id="commitments"', 'id="promises"'))
    assert check() == {"commitments": "failed"}  # the heading was renamed: a failed check, not a removal
    with store.session() as s:
        error = s.scalars(select(m.Check.error).order_by(m.Check.id.desc())).first()
    assert error is not None
    assert "section from after 'h2#commitments' to before 'h2' matched nothing" in error
    assert [e.kind for e in store.events()] == ["source.changed"]


def test_the_docs_example_of_a_section_is_a_valid_watchlist() -> None:
    page = (Path(__file__).parents[1] / "docs" / "watchlist.md").read_text()
    part = page.split("## Choosing what to watch on a page", 1)[1]
    example = part.split("```yaml\n", 1)[1].split("```", 1)[0]
    (source,) = parse_watchlist(example).sources
    assert source.select == ("h1", section(start_after="h2#our-commitments", end_before="h2"))
