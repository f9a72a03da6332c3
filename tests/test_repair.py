"""Parser traps: a self-closed or unclosed raw-text element must not hide a page for years."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from monitor.cli import main
from monitor.errors import ExtractError
from monitor.extract import extract, extract_page
from monitor.fetch import Fetcher
from monitor.repair import repair
from monitor.store import models as m
from monitor.store.repo import Store
from tests.conftest import WriteWatchlist
from tests.site import Site
from tests.test_noise import Checker

PLEDGE = "We will not sell face recognition to police."
HTML = "text/html; charset=utf-8"


def page(head: str = "", body_start: str = "", pledge: str = PLEDGE) -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Policy</title>{head}
<link rel="stylesheet" href="/site.css"></head>
<body>{body_start}<nav>Home</nav><main><h1>Our policy</h1><p>{pledge}</p></main>
<footer>Acme</footer></body></html>"""


TRAPS = {
    "iframe-in-head": ('<iframe src="https://tags.example/ns.html" height="0" width="0"/>', ""),
    "textarea-in-head": ("<textarea/>", ""),
    "title-self-closed": ("<title/>", ""),
    "script-self-closed": ('<script src="/app.js" />', ""),
    "style-self-closed": ("<style/>", ""),
    "iframe-in-body": ("", '<iframe src="/consent"/>'),
    "unclosed-iframe-in-body": ("", "<iframe src='/consent'>"),
    "unclosed-title": ("<title>Policy", ""),
}


@pytest.mark.parametrize("trap", TRAPS)
def test_a_trap_hides_the_selection_from_the_parser_and_repair_reveals_it(trap: str) -> None:
    head, body_start = TRAPS[trap]
    trapped = page(head, body_start).encode()
    result = extract_page(trapped, content_type=HTML, select="main")
    assert result.text == f"Our policy\n{PLEDGE}"
    assert result.note is not None
    assert result.note.startswith("the page needed repair: ")
    # without a selector the whole page was swallowed too: it is repaired the same way
    assert PLEDGE in extract(trapped, content_type=HTML)


def test_the_note_names_the_trap_and_where_it_was() -> None:
    note = extract_page(page(TRAPS["iframe-in-head"][0]).encode(), content_type=HTML, select="main").note
    assert note == "the page needed repair: self-closed <iframe/> in <head>"
    note = extract_page(page("", "<iframe>").encode(), content_type=HTML, select="main").note
    assert note == "the page needed repair: unclosed <iframe> in <body>"


def test_a_healthy_page_is_never_repaired() -> None:
    """Repair only runs when the selection came out empty; a page read fine says nothing."""
    healthy = page('<iframe src="/x"></iframe><script src="/a.js"></script>').encode()
    assert extract_page(healthy, content_type=HTML, select="main").note is None


def test_repair_keeps_raw_text_that_only_looks_like_markup() -> None:
    markup = '<script>var s = "<iframe src=x/>";</script><textarea>a <title> b</textarea><p>ok</p>'
    assert repair(markup) is None
    fixed = repair('<iframe src="a/>b" /><p>x</p>')
    assert fixed is not None
    assert fixed.markup == '<iframe src="a/>b"></iframe><p>x</p>'


def test_a_selection_that_repair_cannot_find_still_fails() -> None:
    trapped = page(TRAPS["iframe-in-head"][0]).encode()
    with pytest.raises(ExtractError, match="selector 'article' matched nothing"):
        extract(trapped, content_type=HTML, select="article")


# --- through the real check path --------------------------------------------------------------


def test_a_trapped_page_is_checked_and_its_check_says_it_needed_repair(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    wl = write_watchlist(
        f"""
        defaults: {{per_host: 10, per_host_delay: 0s}}
        sources:
          - {{id: policy, url: "{site.url("/policy")}", select: main}}
        pledges:
          - id: no-police
            company: Acme
            title: No face recognition for police
            made_on: 2020-06-10
            sources: [policy]
            clauses: ["{PLEDGE}"]
        """
    )
    check = Checker(store, wl, fetcher)
    site.put("/policy", page())
    assert check() == {"policy": "baseline"}
    trap = TRAPS["iframe-in-head"][0]
    site.put("/policy", page(trap))  # the template gains the trap: the text is the same
    assert check() == {"policy": "same_text"}
    site.put("/policy", page(trap, pledge=PLEDGE.replace("police", "police departments")))
    assert check() == {"policy": "changed"}  # a real edit behind the trap is still seen
    with store.session() as s:
        notes = list(s.scalars(select(m.Check.note).order_by(m.Check.id)))
    repaired = "the page needed repair: self-closed <iframe/> in <head>"
    assert notes == [None, repaired, repaired]
    db = f"sqlite:///{store.engine.url.database}"
    told = CliRunner().invoke(main, ["--db", db, "history", "--source", "policy"])
    assert f"; note: {repaired}" in told.output, told.output  # the auditor sees the page was repaired
    exported = CliRunner().invoke(main, ["--db", db, "export", "--what", "checks"])
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert [row["note"] for row in rows] == ["", repaired, repaired]
    (change,) = store.changes()
    assert "police departments" in store.snapshot_text(change.to_snapshot_id)
