"""``pledge-monitor try``: one source fetched now, shown as a check would see it, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.cli import main
from tests import browser
from tests.conftest import WriteWatchlist
from tests.site import Site, policy_page

CLAUSE = "We will not sell facial recognition technology to police departments in the United States"
ARTICLE = f"""<h1>Our facial recognition commitments</h1>
<div class="share">Share on LinkedIn</div>
<p>{CLAUSE} until there is a national law in place, grounded in human rights.</p>
<p>We review every request for our face services against our principles, and we publish how many
requests we declined each year in our transparency report.</p>"""


@pytest.fixture
def watchlist_file(site: Site, write_watchlist: WriteWatchlist, tmp_path: Path) -> Path:
    write_watchlist(
        f"""
        defaults:
          per_host_delay: 0s
        sources:
          - id: policy
            url: {site.url("/policy")}
            select: "#policy"
            remove: [".share"]
        pledges:
          - id: no-police-sales
            company: Example Corp
            title: No facial recognition sales to US police
            made_on: 2020-06-11
            sources: [policy]
            clauses:
              - "{CLAUSE}"
          - id: second
            company: Example Corp
            title: A clause that is not on the page
            made_on: 2020-06-11
            sources: [policy]
            clauses:
              - "a one-year moratorium on police use of Rekognition"
        """
    )
    return tmp_path / "watchlist.yaml"


@pytest.fixture
def no_sources(write_watchlist: WriteWatchlist, tmp_path: Path) -> Path:
    """A watchlist for trying URLs: only its defaults count (no pause between the two fetches)."""
    write_watchlist("defaults: {per_host_delay: 0s}\nsources: []\n")
    return tmp_path / "watchlist.yaml"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_try_shows_the_text_each_clause_and_that_the_text_is_stable(
    site: Site, watchlist_file: Path, tmp_path: Path
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    result = run("-w", str(watchlist_file), "try", "policy")
    lines = result.output.splitlines()
    assert lines[0] == f"policy: {site.url('/policy')}"
    assert lines[1].startswith("  fetched: HTTP 200, ")
    assert lines[1].endswith("bytes, text/html")
    assert lines[2].startswith("  extracted text: ")
    assert lines[2].endswith("(select '#policy'; remove '.share')")
    assert "  | Our facial recognition commitments" in lines
    assert "Share on LinkedIn" not in result.output  # removed
    assert "Home | Policies" not in result.output  # outside the selection
    assert f'    found exactly        no-police-sales: "{CLAUSE}"' in lines
    assert '    NOT FOUND            second: "a one-year moratorium on police use of Rekognition"' in lines
    assert "  second fetch: the same text (stable)" in lines
    assert lines[-2:] == [
        "  1 problem:",
        '    clause: clause of pledge second not found on the page: "a one-year moratorium on police use of'
        ' Rekognition"',
    ]
    assert result.exit_code == 1
    assert site.hits["/policy"] == 2
    assert not (tmp_path / "pledge-monitor.db").exists()  # try writes nothing


def test_an_approximate_clause_is_a_problem_shown_with_the_passage_and_why(
    site: Site, watchlist_file: Path
) -> None:
    """A clause found only approximately is not "no problems": checks would take the weakened
    wording as the baseline (or alert at once), so try names it and exits 1."""
    site.put("/policy", policy_page(ARTICLE.replace("will not sell", "will not currently sell")))
    result = run("-w", str(watchlist_file), "try", "policy")
    lines = result.output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.endswith(f'no-police-sales: "{CLAUSE}"'))
    assert lines[at].startswith("    WEAKENED (9")
    assert "%)" in lines[at]
    assert lines[at + 1] == (
        '      on the page: "We will not currently sell facial recognition technology to police'
        ' departments in the United States until there is a national law in place, grounded in human rights"'
    )  # quoted as published, to the end of its phrase
    assert lines[at + 2].startswith("      Weakened (")
    assert 'hedge added: "currently"' in lines[at + 2]
    assert result.exit_code == 1
    assert "  2 problems:" in lines
    problem = next(line for line in lines if "of pledge no-police-sales" in line)
    assert problem.startswith(
        "    clause: clause of pledge no-police-sales not found exactly, only weakened ("
    )
    assert "no problems" not in result.output


def test_a_reworded_command_line_clause_is_a_problem(site: Site, no_sources: Path) -> None:
    site.put("/policy", policy_page(ARTICLE))
    reworded = f"{CLAUSE} until there is a federal law in place"
    result = run(
        "-w", str(no_sources), "try", site.url("/policy"), "--select", "#policy", "--clause", reworded
    )
    lines = result.output.splitlines()
    assert any(
        line.startswith("    REWORDED (") and line.endswith(f'--clause: "{reworded}"') for line in lines
    ), result.output
    assert lines[-2] == "  1 problem:"
    assert lines[-1].startswith("    clause: clause not found exactly, only reworded (")
    assert result.exit_code == 1


def test_a_page_that_blinks_is_shown_with_its_diff(httpserver: HTTPServer, no_sources: Path) -> None:
    stamps = iter(["09:00:01", "09:00:02"])

    def handle(request: Request) -> Response:
        return Response(
            policy_page(ARTICLE + f"<p>Page generated at {next(stamps)}</p>"), content_type="text/html"
        )

    httpserver.expect_request("/policy").respond_with_handler(handle)
    result = run("-w", str(no_sources), "try", httpserver.url_for("/policy"), "--select", "#policy")
    assert result.exit_code == 1
    assert (
        "  second fetch: the text CHANGED between two fetches; every check would see a change:"
        in result.output
    )
    assert "    Page generated at 09:00:[-01-]{+02+}" in result.output
    assert "unstable: the text changed between two fetches" in result.output


def test_try_a_url_with_rules_and_clauses_from_the_command_line(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """A new page, before it is in the watchlist (or before there is one): --ignore takes out what
    changes on every fetch."""
    stamps = iter(["09:00:01", "09:00:02"])

    def handle(request: Request) -> Response:
        return Response(
            policy_page(ARTICLE + f"<p>Page generated at {next(stamps)}</p>"), content_type="text/html"
        )

    httpserver.expect_request("/policy").respond_with_handler(handle)
    result = run(
        "-w", str(tmp_path / "no-watchlist-here.yaml"),
        "try", httpserver.url_for("/policy"),
        "--select", "#policy", "--remove", ".share", "--ignore", r"Page generated at [\d:]+",
        "--clause", CLAUSE,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"try: {httpserver.url_for('/policy')}"
    assert f'    found exactly        --clause: "{CLAUSE}"' in lines
    assert "  second fetch: the same text (stable)" in lines
    assert lines[-1] == "  no problems"
    text = [line for line in lines if line.startswith("  | ")]
    assert text
    assert not any("Share on LinkedIn" in line or "generated" in line for line in text)


def test_options_override_the_rules_of_a_watchlist_source(site: Site, watchlist_file: Path) -> None:
    site.put("/policy", policy_page(ARTICLE))
    result = run("-w", str(watchlist_file), "try", "policy", "--select", "nav")
    assert "(select 'nav'; remove '.share')" in result.output
    assert "  | Home | Policies | Contact" in result.output
    assert "short: the text is only 25 characters" in result.output


def test_a_selector_that_matches_nothing(site: Site, watchlist_file: Path) -> None:
    site.put("/policy", policy_page(ARTICLE))
    result = run("-w", str(watchlist_file), "try", "policy", "--select", "article.policy-body")
    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        "  1 problem:",
        f"    selector: selector 'article.policy-body' matched nothing at {site.url('/policy')}",
    ]


def test_long_texts_are_cut_unless_full(httpserver: HTTPServer, no_sources: Path) -> None:
    paragraphs = "\n".join(f"<p>Paragraph {n} of our commitments.</p>" for n in range(1, 101))
    httpserver.expect_request("/long").respond_with_data(policy_page(paragraphs), content_type="text/html")
    url = httpserver.url_for("/long")
    cut = run("-w", str(no_sources), "try", url, "--select", "#policy")
    assert "  | Paragraph 60 of our commitments." in cut.output
    assert "Paragraph 61 of" not in cut.output
    assert "  | ... (40 more lines; --full shows them all)" in cut.output
    assert "100 lines" in cut.output
    full = run("-w", str(no_sources), "try", url, "--select", "#policy", "--full")
    assert "  | Paragraph 100 of our commitments." in full.output
    assert "more lines" not in full.output


def test_mistakes_are_named(site: Site, watchlist_file: Path) -> None:
    unknown = run("-w", str(watchlist_file), "try", "polcy")
    assert unknown.exit_code == 1
    assert "Error: no source 'polcy'" in unknown.output
    assert "did you mean 'policy'?" in unknown.output
    bad_regex = run("-w", str(watchlist_file), "try", "policy", "--ignore", "(unclosed")
    assert bad_regex.exit_code == 2
    assert "invalid regular expression '(unclosed'" in bad_regex.output
    assert site.hits == {}  # nothing fetched for a mistake


def test_page_options_on_a_feed_are_a_usage_error(site: Site, write_watchlist: WriteWatchlist) -> None:
    path = write_watchlist(f"sources:\n  - {{id: news, kind: feed, url: '{site.url('/news.xml')}'}}\n").path
    result = run("-w", str(path), "try", "news", "--select", "main", "--remove", ".share")
    assert result.exit_code == 2
    assert "--select, --remove: not used by news, a source of kind feed" in result.output
    assert site.hits == {}  # nothing fetched for a mistake


def test_a_failed_fetch_is_reported(site: Site, watchlist_file: Path) -> None:
    site.put("/policy", "down", status=404)
    result = run("-w", str(watchlist_file), "try", "policy")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith("    fetch: ")
    assert "404" in result.output


@pytest.mark.browser
def test_try_a_url_in_the_browser(httpserver: HTTPServer, no_sources: Path) -> None:
    browser.chromium()
    written = json.dumps(f"<article id='policy'>{ARTICLE}</article>")
    shell = (
        "<!doctype html><html><body><main id='app'>Loading</main><script>"
        f"window.addEventListener('load', () => {{ document.getElementById('app').innerHTML = {written}; }});"
        "</script></body></html>"
    )
    httpserver.expect_request("/app").respond_with_data(shell, content_type="text/html")
    url = httpserver.url_for("/app")
    plain = run("-w", str(no_sources), "try", url, "--select", "#policy")
    assert plain.exit_code == 1
    assert "shell: selector '#policy' matches nothing without a browser" in plain.output
    result = run("-w", str(no_sources), "try", url, "--select", "#policy", "--browser", "--clause", CLAUSE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].startswith("  fetched: HTTP 200, ")
    assert ", rendered in Chromium " in lines[1]
    assert any(line.startswith(f"  | {CLAUSE} until") for line in lines)
    assert f'    found exactly        --clause: "{CLAUSE}"' in lines


def test_try_shows_a_section_and_a_page_that_needed_repair(
    site: Site, write_watchlist: WriteWatchlist, tmp_path: Path
) -> None:
    """A template with a self-closed iframe in <head>: the section is read from the repaired page."""
    body = f"""<html><head><title>Policy</title><iframe src="/ns.html"/></head><body><main>
    <h2 id="commitments">Our commitments</h2><p>{CLAUSE}.</p><h2>History</h2><p>Founded 1990.</p>
    </main></body></html>"""
    site.put("/policy", body)
    write_watchlist(
        f"""
        defaults: {{per_host_delay: 0s}}
        sources:
          - id: policy
            url: {site.url("/policy")}
            select: {{start_after: "h2#commitments", end_before: h2}}
        """
    )
    result = run("-w", str(tmp_path / "watchlist.yaml"), "try", "policy")
    lines = result.output.splitlines()
    assert lines[2] == "  repaired: the page needed repair: self-closed <iframe/> in <head> " + (
        "(the HTML parser could not see the selection without it)"
    )
    assert lines[3].endswith("(select section from after 'h2#commitments' to before 'h2')")
    assert f"  | {CLAUSE}." in lines
    assert "Founded" not in result.output
