"""Trying sources for real: what ``validate --online`` reports, against a real local site."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.clauses import Outcome
from monitor.cli import main
from monitor.fetch import Fetcher
from monitor.online import SHORT_TEXT, try_source, validate_online
from tests import browser
from tests.conftest import WriteWatchlist
from tests.site import Site, policy_page, serve

CLAUSE = "We will not sell facial recognition technology to police departments in the United States"
ARTICLE = f"""<h1>Our facial recognition commitments</h1>
<p>{CLAUSE} until there is a national law in place, grounded in human rights.</p>
<p>We review every request for our face services against our principles, and we publish how many
requests we declined each year in our transparency report.</p>"""


def page_watchlist(sources: str, pledges: str = "") -> str:
    return f"""
        defaults:
          per_host_delay: 0s
        sources:
{sources}
        pledges:
{pledges or "          []"}
        """


def source(sid: str, url: str, select: str = "#policy") -> str:
    return f"""          - id: {sid}
            url: {url}
            select: "{select}"
"""


def pledge(pid: str, sid: str, clause: str) -> str:
    return f"""          - id: {pid}
            company: Example Corp
            title: A pledge
            made_on: 2020-06-11
            sources: [{sid}]
            clauses: ["{clause}"]
"""


def test_a_good_page_has_no_problems(httpserver: HTTPServer, write_watchlist: WriteWatchlist) -> None:
    site = serve(httpserver)
    site.put("/policy", policy_page(ARTICLE))
    wl = write_watchlist(page_watchlist(source("policy", site.url("/policy")), pledge("p", "policy", CLAUSE)))
    with Fetcher(user_agent="t", retries=0) as fetcher:
        trial = try_source(wl.source("policy"), wl.pledges_for("policy"), fetcher)
    assert trial.ok
    assert trial.stable
    assert trial.problems == ()
    assert trial.text is not None
    assert trial.text.startswith("Our facial recognition commitments")
    assert "Home | Policies" not in trial.text  # the selector left the navigation out
    assert [f.match.outcome for f in trial.clauses] == [Outcome.EXACT]
    assert site.hits["/policy"] == 2  # fetched twice, to compare


@pytest.mark.parametrize(
    ("article", "select", "kind", "words"),
    [
        (ARTICLE, "#nowhere", "selector", "selector '#nowhere' matched nothing"),
        ("<p>Accept cookies?</p>", "#policy", "short", "the text is only 15 characters"),
    ],
    ids=["selector-matches-nothing", "short-text"],
)
def test_problems_are_named(
    httpserver: HTTPServer, fetcher: Fetcher, write_watchlist: WriteWatchlist, article: str, select: str,
    kind: str, words: str,
) -> None:  # fmt: skip
    site = serve(httpserver)
    site.put("/policy", policy_page(article))
    wl = write_watchlist(page_watchlist(source("policy", site.url("/policy"), select)))
    trial = try_source(wl.source("policy"), (), fetcher)
    assert [p.kind for p in trial.problems] == [kind]
    assert words in trial.problems[0].message


def test_a_clause_found_approximately_is_a_problem(
    httpserver: HTTPServer, fetcher: Fetcher, write_watchlist: WriteWatchlist
) -> None:
    """Reworded already (or a typo in the copy): either way checks would start from the changed
    words and never report them, so the maintainer must look before trusting the source."""
    site = serve(httpserver)
    site.put("/policy", policy_page(ARTICLE.replace("will not sell", "will not currently sell")))
    wl = write_watchlist(page_watchlist(source("policy", site.url("/policy")), pledge("p", "policy", CLAUSE)))
    trial = try_source(wl.source("policy"), wl.pledges_for("policy"), fetcher)
    assert not trial.ok
    match = trial.clauses[0].match
    assert match.outcome is Outcome.WEAKENED
    assert match.passage is not None
    assert "currently" in match.passage
    (problem,) = trial.problems
    assert problem.kind == "clause"
    assert problem.message.startswith("clause of pledge p not found exactly, only weakened (")
    assert "currently" in problem.message


def test_a_clause_not_on_the_page_is_a_problem(
    httpserver: HTTPServer, fetcher: Fetcher, write_watchlist: WriteWatchlist
) -> None:
    site = serve(httpserver)
    site.put("/policy", policy_page(ARTICLE))
    wl = write_watchlist(
        page_watchlist(
            source("policy", site.url("/policy")),
            pledge("p", "policy", "a one-year moratorium on police use of Rekognition"),
        )
    )
    trial = try_source(wl.source("policy"), wl.pledges_for("policy"), fetcher)
    assert [p.kind for p in trial.problems] == ["clause"]
    assert trial.problems[0].message == (
        'clause of pledge p not found on the page: "a one-year moratorium on police use of Rekognition"'
    )


def test_the_short_text_limit(
    httpserver: HTTPServer, fetcher: Fetcher, write_watchlist: WriteWatchlist
) -> None:
    site = serve(httpserver)
    long_enough = "x" * (SHORT_TEXT - 1) + "y"
    site.put("/short", policy_page(long_enough[:-1]))
    site.put("/long", policy_page(long_enough))
    wl = write_watchlist(
        page_watchlist(source("short", site.url("/short")) + source("long", site.url("/long")))
    )
    assert [p.kind for p in try_source(wl.source("short"), (), fetcher).problems] == ["short"]
    assert try_source(wl.source("long"), (), fetcher).ok


def blinking(httpserver: HTTPServer, path: str) -> None:
    """A page whose text differs on every request (a counter, as a rotating quote would)."""
    count = iter(range(1, 1000))

    def handle(request: Request) -> Response:
        return Response(
            policy_page(ARTICLE + f"<p>Visitor number {next(count)}</p>"), content_type="text/html"
        )

    httpserver.expect_request(path).respond_with_handler(handle)


def test_a_page_that_blinks_is_unstable(
    httpserver: HTTPServer, fetcher: Fetcher, write_watchlist: WriteWatchlist
) -> None:
    blinking(httpserver, "/blink")
    site = serve(httpserver)
    wl = write_watchlist(page_watchlist(source("blink", site.url("/blink"))))
    trial = try_source(wl.source("blink"), (), fetcher)
    assert not trial.stable
    assert trial.blink is not None
    assert (trial.blink.removed(), trial.blink.added()) == (["1"], ["2"])
    assert [p.kind for p in trial.problems] == ["unstable"]


def test_a_failed_fetch_is_a_problem_not_a_crash(
    httpserver: HTTPServer, fetcher: Fetcher, write_watchlist: WriteWatchlist
) -> None:
    site = serve(httpserver)
    wl = write_watchlist(page_watchlist(source("gone", site.url("/gone"))))
    trial = try_source(wl.source("gone"), (), fetcher)
    assert trial.text is None
    assert [p.kind for p in trial.problems] == ["fetch"]
    assert "404" in trial.problems[0].message


def test_a_feed_lists_its_items_and_has_no_clauses(
    httpserver: HTTPServer, fetcher: Fetcher, write_watchlist: WriteWatchlist
) -> None:
    site = serve(httpserver)
    rss = (Path(__file__).parent / "fixtures" / "feeds" / "amazon-newsroom-rss2.xml").read_bytes()
    site.put("/rss.xml", rss, content_type="application/rss+xml")
    wl = write_watchlist(
        f"""
        sources:
          - id: news
            kind: feed
            url: {site.url("/rss.xml")}
        pledges:
          - id: p
            company: Amazon
            title: t
            made_on: 2020-06-10
            sources: [news]
            clauses: ["{CLAUSE}"]
        """
    )
    trial = try_source(wl.source("news"), wl.pledges_for("news"), fetcher)
    assert trial.ok
    assert trial.items
    assert trial.clauses == ()
    first = trial.text.splitlines()[0] if trial.text else ""
    assert first == f"2021-05-18 {trial.items[0].title} <{trial.items[0].link}>"  # as stored for a feed


class Concurrency:
    """Counts requests in progress per host, and the most seen at once overall."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.per_host: dict[str, int] = {}
        self.most_per_host = 0

    def handler(self, body: str) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            host = request.host
            with self.lock:
                self.now += 1
                self.per_host[host] = self.per_host.get(host, 0) + 1
                self.most = max(self.most, self.now)
                self.most_per_host = max(self.most_per_host, self.per_host[host])
            time.sleep(0.05)
            with self.lock:
                self.now -= 1
                self.per_host[host] -= 1
            return Response(body, content_type="text/html")

        return handle


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    """pytest-httpserver's default server answers one request at a time: this one does not."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_sources_run_in_parallel_but_one_at_a_time_per_host(
    threaded_server: HTTPServer, fetcher: Fetcher, write_watchlist: WriteWatchlist
) -> None:
    seen = Concurrency()
    threaded_server.expect_request("/p").respond_with_handler(seen.handler(policy_page(ARTICLE)))
    port = threaded_server.port
    urls = [f"http://{host}:{port}/p?n={n}" for n in range(3) for host in ("localhost", "127.0.0.1")]
    sources = "".join(source(f"s{i}", url) for i, url in enumerate(urls))
    wl = write_watchlist(page_watchlist(sources))
    trials = validate_online(wl, fetcher, workers=4)
    assert [t.source.id for t in trials] == [f"s{i}" for i in range(6)]  # in watchlist order
    assert all(t.ok for t in trials)
    assert seen.most_per_host == 1  # polite: one request at a time per host
    assert seen.most == 2  # but the two hosts were tried at the same time


def test_validate_online_reports_each_problem_and_exits_1(
    httpserver: HTTPServer, write_watchlist: WriteWatchlist, tmp_path: Path
) -> None:
    blinking(httpserver, "/blink")
    site = serve(httpserver)
    site.put("/policy", policy_page(ARTICLE))
    site.put("/banner", policy_page("<p>We use cookies.</p>"))
    sources = (
        source("good", site.url("/policy"))
        + source("no-match", site.url("/policy"), "article.main")
        + source("banner", site.url("/banner"))
        + source("blink", site.url("/blink"))
        + source("typo", site.url("/policy"))
    )
    pledges = pledge("p1", "good", CLAUSE) + pledge("p2", "typo", "We shall never sell face recognition")
    write_watchlist(page_watchlist(sources, pledges))
    result = CliRunner().invoke(main, ["-w", str(tmp_path / "watchlist.yaml"), "validate", "--online"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("OK (5 sources, 2 pledges, 0 routes)")
    assert lines[1].startswith("good      ok       ")
    assert "1/1 clauses exact; stable" in lines[1]
    assert "no-match  PROBLEM" in result.output
    assert "selector: selector 'article.main' matched nothing" in result.output
    assert "short: the text is only 15 characters" in result.output
    assert "unstable: the text changed between two fetches" in result.output
    assert 'clause: clause of pledge p2 not found on the page: "We shall never sell face recognition"' in (
        result.output
    )
    assert lines[-1] == "online: 5 sources tried, 1 ok, 4 with problems"
    assert not (tmp_path / "pledge-monitor.db").exists()  # nothing written


def test_validate_online_passes_a_good_watchlist(
    httpserver: HTTPServer, write_watchlist: WriteWatchlist, tmp_path: Path
) -> None:
    site = serve(httpserver)
    site.put("/policy", policy_page(ARTICLE))
    write_watchlist(page_watchlist(source("good", site.url("/policy")), pledge("p1", "good", CLAUSE)))
    result = CliRunner().invoke(main, ["-w", str(tmp_path / "watchlist.yaml"), "validate", "--online"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "online: 1 source tried, 1 ok, 0 with problems"


def test_validate_without_online_fetches_nothing(
    httpserver: HTTPServer, write_watchlist: WriteWatchlist, tmp_path: Path
) -> None:
    site: Site = serve(httpserver)
    site.put("/policy", policy_page(ARTICLE))
    write_watchlist(page_watchlist(source("good", site.url("/policy"))))
    result = CliRunner().invoke(main, ["-w", str(tmp_path / "watchlist.yaml"), "validate"])
    assert result.exit_code == 0
    assert site.hits == {}


SHELL = f"""<!doctype html><html><head><meta charset="utf-8"><title>Commitments</title></head>
<body><main id="app">Loading</main><script>
window.addEventListener("load", () => {{
  document.getElementById("app").innerHTML = '<article id="policy">' + {json.dumps(ARTICLE)} + "</article>";
}});
</script></body></html>"""


@pytest.mark.browser
def test_a_javascript_shell_is_named_with_both_lengths_and_the_fix(
    httpserver: HTTPServer, write_watchlist: WriteWatchlist, tmp_path: Path
) -> None:
    browser.chromium()
    site = serve(httpserver)
    site.put("/app", SHELL)
    sources = (
        source("whole-page", site.url("/app"), "body")
        + source("selected", site.url("/app"))
        + source("rendered", site.url("/app")).rstrip("\n")
        + "\n            browser: true\n"
    )
    write_watchlist(page_watchlist(sources, pledge("p1", "rendered", CLAUSE)))
    result = CliRunner().invoke(main, ["-w", str(tmp_path / "watchlist.yaml"), "validate", "--online"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    shell_lines = [line.strip() for line in lines if line.strip().startswith("shell:")]
    assert len(shell_lines) == 2, result.output
    assert re.fullmatch(
        r"shell: the text is 7 characters without a browser, [\d,]+ with one: add `browser: true`",
        shell_lines[0],
    ), shell_lines[0]
    assert re.fullmatch(
        r"shell: selector '#policy' matches nothing without a browser, [\d,]+ with one: "
        r"add `browser: true`",
        shell_lines[1],
    ), shell_lines[1]
    assert any(line.startswith("rendered") and "1/1 clauses exact; stable" in line for line in lines)
    assert lines[-1] == "online: 3 sources tried, 1 ok, 2 with problems"
