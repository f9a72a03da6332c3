"""A recorded history for the audit tests: real checks of a real local site, over ten simulated weeks.

Built once per test module (about a second) and copied per test, so tests can tamper freely.
The story, on a 6-hourly clock from 2026-01-03:
  - ``policy`` (served gzip-encoded, like most sites) carries the pledge's clause; it changes once
    outside the clause (adding a quoted XSS payload as text, plus real script and img tags in the
    raw HTML), then the clause is weakened ("currently"), then restored;
  - ``news`` carries no pledge; it fails three times in a row (source.failing), then recovers.
"""

from __future__ import annotations

import gzip
import random
import shutil
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.cycle import run_cycle
from monitor.fetch import Fetcher
from monitor.store.db import open_engine
from monitor.store.repo import Store
from monitor.watchlist import Watchlist, load_watchlist
from tests.site import Site, policy_page

START = datetime(2026, 1, 3, 6, 0, tzinfo=UTC)
PLEDGE = "no-police-sales"
CLAUSE = "We will not sell facial recognition technology to police departments in the United States"
XSS_SCRIPT = "<script>document.title='pwned'</script>"
XSS_IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"

ARTICLE = f"""<h1>Our facial recognition commitments</h1>
<p>{CLAUSE} until there is a national law in place.</p>
<p>We review every request against our principles.</p>"""
# a page that quotes markup as text (escaped in its HTML), and carries live markup too
ARTICLE_XSS = (
    ARTICLE.replace("every request", "every request, including the ones below,")
    + "\n<p>Example payloads we block: &lt;script&gt;document.title='pwned'&lt;/script&gt; and "
    + "&lt;img src=x onerror=\"document.body.setAttribute('data-pwned','1')\"&gt;</p>\n"
    + XSS_SCRIPT
    + "\n"
    + XSS_IMG
)
ARTICLE_WEAK = ARTICLE_XSS.replace("We will not sell", "We will not currently sell")
NEWS = (
    "<!doctype html><html><body><article id='news'><p>Company news: nothing yet.</p></article></body></html>"
)


class GzipSite(Site):
    """Like tests.site.Site, but sends bodies gzip-encoded when the client accepts it."""

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if response.status_code == 200 and "gzip" in request.headers.get("Accept-Encoding", ""):
            response.set_data(gzip.compress(response.get_data(), mtime=0))
            response.headers["Content-Encoding"] = "gzip"
        return response


@dataclass
class Recorded:
    """Where the history was written, and what the site served at each step."""

    db: Path
    url: str
    served: dict[str, list[bytes]] = field(default_factory=dict)  # source id -> distinct bodies served
    end: datetime = START


def watchlist_yaml(site: Site) -> str:
    return textwrap.dedent(
        f"""
        defaults:
          per_host: 10
          per_host_delay: 0s
          confirm_after: 0s
          concurrency: 1  # one check at a time: the same ids on every run
        sources:
          - id: policy
            url: {site.url("/policy")}
            select: "#policy"
          - id: news
            url: {site.url("/news")}
            select: "#news"
        pledges:
          - id: {PLEDGE}
            company: Example Corp
            title: No facial recognition sales to US police
            made_on: 2020-06-11
            sources: [policy]
            clauses:
              - "{CLAUSE}"
        """
    )


def record(folder: Path, db_url: str | None = None) -> Recorded:
    """Run the story against a real local server, into ``db_url`` or a SQLite file in ``folder``."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        return _story(folder, server, db_url)
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def _story(folder: Path, server: HTTPServer, db_url: str | None) -> Recorded:
    import re

    site = GzipSite(server)
    server.expect_request(re.compile(".*")).respond_with_handler(site.handle)
    (folder / "watchlist.yaml").write_text(watchlist_yaml(site))
    wl = load_watchlist(folder / "watchlist.yaml")
    db = folder / "pledge-monitor.db"
    recorded = Recorded(db=db, url=db_url or f"sqlite:///{db}")
    engine = open_engine(recorded.url)
    store = Store(engine)
    clock = [START]

    def put(path: str, body: str, **kw: object) -> None:
        site.put(path, body, **kw)
        served = recorded.served.setdefault(path.strip("/"), [])
        if kw.get("status", 200) == 200 and body.encode() not in served:
            served.append(body.encode())

    def cycles(n: int) -> None:
        with Fetcher(user_agent="pledge-monitor-test", retries=0) as fetcher:
            for _ in range(n):
                _cycle(store, wl, fetcher, clock[0])
                clock[0] += timedelta(hours=6)

    put("/policy", policy_page(ARTICLE))
    put("/news", NEWS)
    cycles(20)  # 5 days unchanged
    put("/policy", policy_page(ARTICLE_XSS))  # change #1: outside the clause
    cycles(12)
    put("/news", "down for maintenance", status=503)
    cycles(3)  # source.failing
    put("/news", NEWS)
    cycles(6)  # source.recovered
    put("/policy", policy_page(ARTICLE_WEAK))  # change #2: clause weakened
    cycles(10)
    put("/policy", policy_page(ARTICLE_XSS))  # change #3: clause restored
    cycles(8)
    recorded.end = clock[0]
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return recorded


def _cycle(store: Store, wl: Watchlist, fetcher: Fetcher, now: datetime) -> None:
    store.sync(wl, now)
    run_cycle(store, wl, fetcher, [s.id for s in wl.sources], clock=lambda: now, rng=random.Random(1))


def copy_of(recorded: Recorded, folder: Path) -> Path:
    """A private copy of the database (and its watchlist) to tamper with."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(recorded.db, folder / recorded.db.name)
    shutil.copy(recorded.db.parent / "watchlist.yaml", folder / "watchlist.yaml")
    return folder / recorded.db.name


def open_store(db: Path | str) -> Store:
    """A store on a SQLite file, or on any database URL."""
    return Store(open_engine(db if isinstance(db, str) else f"sqlite:///{db}"))
