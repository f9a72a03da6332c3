"""Pledge cases: is every real change to a pledge classified right, and does nothing else alert?

Every case of ``pledge_cases.py`` (a public pledge, its page before and after a change) is served on
127.0.0.1 three ways and run through the real check path (``run_cycle``, a SQLite store, the
real fetcher), two checks per step: the check, then the confirming re-check ``confirm_after``
later.

- **real**: the page changes as the record says (or goes 404, or moves with a 301). It must raise
  exactly the event a careful reader expects: weakened, reworded, removed, gone or moved (or, for
  "changed", only ``source.changed``), and only once over three steps.
- **noise**: the same page with what real sites change on every fetch (navigation, banners, build
  hashes, tracking parameters, whitespace, non-breaking spaces): no pledge event.
- **fault**: a glitch that is not an HTTP error, then the page back as it was (a redirect to the home
  or a search page, a soft 404, a loading shell, a page cut off halfway, an error page with 200, an
  empty body, a 503, a bot challenge, a one-off 404, a cut-off page that lasts three checks): no
  pledge event and no ``source.changed``.

It prints a line per case, the figures, and the alert text of each real case; exit 1 if any case
is wrong.

    .venv/bin/python benchmarks/pledges.py [--quiet]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere: the package is the repo's
    sys.path.insert(0, str(REPO))

from benchmarks.pledge_cases import CASES, Case  # noqa: E402
from monitor.alerts.render import render_event  # noqa: E402
from monitor.cycle import run_cycle  # noqa: E402
from monitor.fetch import Fetcher  # noqa: E402
from monitor.store import models as m  # noqa: E402
from monitor.store.db import open_engine  # noqa: E402
from monitor.store.repo import Store  # noqa: E402
from monitor.watchlist import Watchlist, parse_watchlist  # noqa: E402

STEPS = 3
STEP = timedelta(hours=6)
CONFIRM_AFTER = timedelta(minutes=10)
START = datetime(2026, 1, 5, tzinfo=UTC)
CLASSES = {
    "pledge.weakened": "weakened",
    "pledge.reworded": "reworded",
    "pledge.removed": "removed",
    "source.gone": "gone",
    "source.moved": "moved",
}


# --- a local web site ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    location: str | None = None
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


class Site:
    """Serves whatever reply each path holds now, on 127.0.0.1, from threads."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site._lock:
                    reply = site.replies.get(self.path.split("?")[0]) or Reply(404, b"<h1>Not Found</h1>")
                self.send_response(reply.status)
                if reply.location:
                    self.send_header("Location", reply.location)
                self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def put(self, path: str, reply: Reply) -> None:
        with self._lock:
            self.replies[path] = reply

    @contextmanager
    def running(self) -> Iterator[Site]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


# --- pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dress:
    """What surrounds the article on one fetch: the noise real sites change all the time."""

    nav: str = '<a href="/">Home</a> | <a href="/news">Newsroom</a> | <a href="/about">About</a>'
    banner: str = ""
    footer: str = "&copy; 2026"
    build: str = "a1b2c3"


def page(article: str, dress: Dress = Dress()) -> bytes:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Policy</title>
<script>window.__BUILD__ = "{dress.build}";</script></head>
<body><nav>{dress.nav}</nav>
{dress.banner}
<article>
{article}
</article>
<footer>{dress.footer}</footer>
</body></html>""".encode()


def ok(body: bytes) -> Reply:
    return Reply(body=body)


NOISES: tuple[tuple[str, Callable[[str, int], bytes]], ...] = (
    ("navigation changed", lambda a, n: page(a, Dress(nav=f"Home | Stories {n} | Careers | Investors"))),
    ("cookie banner", lambda a, n: page(a, Dress(banner=f"<div class='cookie'>We use cookies ({n}).</div>"))),
    ("footer year", lambda a, n: page(a, Dress(footer=f"&copy; {2026 + n} Example"))),
    ("build hash", lambda a, n: page(a, Dress(build=f"f{n}e{n}d{n}"))),
    (
        "whitespace reflowed",
        lambda a, n: page(a.replace(" ", "  " if n % 2 else " \n ").replace("><", ">\n<")),
    ),
    ("non-breaking spaces", lambda a, n: page(a.replace("the ", "the&nbsp;", n))),
    (
        "tracking parameters",
        lambda a, n: page(a + f"<p><a href='/share?utm_source=mail&utm_campaign={n}'>Share</a></p>"),
    ),
)


def _cut(body: bytes) -> bytes:
    return body[: len(body) // 2]  # stops mid-sentence, no closing tags


@dataclass(frozen=True)
class Fault:
    """A glitch served at a step's first check; ``lasts`` checks in a row, then the page is back."""

    name: str
    reply: Callable[[Site, str, bytes], Reply]
    lasts: int = 1
    extra: Callable[[Site], None] | None = None


def _home(site: Site) -> None:
    site.put("/", ok(page("<h1>Welcome</h1><p>We make the cloud.</p>")))
    site.put("/search", ok(page("<h1>Search</h1><p>No results.</p>")))


FAULTS: tuple[Fault, ...] = (
    Fault("redirect to the home page", lambda s, path, b: Reply(302, location=s.url("/")), extra=_home),
    Fault(
        "redirect to a search page", lambda s, path, b: Reply(302, location=s.url("/search?q=x")), extra=_home
    ),
    Fault(
        "soft 404",
        lambda s, path, b: ok(page("<h1>Page not found</h1><p>Sorry, we can't find that page.</p>")),
    ),
    Fault("loading shell", lambda s, path, b: ok(page("<p>Loading...</p>"))),
    Fault("cut off halfway", lambda s, path, b: ok(_cut(b))),
    Fault(
        "error page with 200",
        lambda s, path, b: ok(page("<h1>Something went wrong</h1><p>Try again later.</p>")),
    ),
    Fault("empty body", lambda s, path, b: ok(b"")),
    Fault("503", lambda s, path, b: Reply(503, b"<h1>Service Unavailable</h1>")),
    Fault(
        "bot challenge",
        lambda s, path, b: Reply(
            403,
            b"<title>Just a moment...</title><p>Checking your browser</p>",
            headers=(("cf-mitigated", "challenge"),),
        ),
    ),
    Fault("404 once", lambda s, path, b: Reply(404, b"<h1>Not Found</h1>")),
    Fault("cut off, three checks", lambda s, path, b: ok(_cut(b)), lasts=3),
)


# --- variants of a case --------------------------------------------------------------------------


@dataclass
class Variant:
    """One source in the replay: a case served as it happened, with noise, or with a fault."""

    case: Case
    kind: str  # real | noise | fault
    n: int  # which noise or fault

    @property
    def id(self) -> str:
        return f"{self.case.id}--{self.kind}"

    @property
    def path(self) -> str:
        return f"/{self.id}"

    @property
    def label(self) -> str:
        if self.kind == "noise":
            return NOISES[self.n % len(NOISES)][0]
        if self.kind == "fault":
            return FAULTS[self.n % len(FAULTS)].name
        return self.case.expect

    def reply(self, site: Site, check: int) -> Reply:
        """What the page answers at check ``check`` (0: the baseline; then two per step)."""
        before = page(self.case.before)
        step = (check + 1) // 2
        if self.kind == "noise":  # from the baseline on: noise 0, 1, 2, 3
            return ok(NOISES[self.n % len(NOISES)][1](self.case.before, step))
        if check == 0:
            return ok(before)
        if self.kind == "fault":
            fault = FAULTS[self.n % len(FAULTS)]
            return fault.reply(site, self.path, before) if check <= fault.lasts else ok(before)
        if self.case.expect == "gone":
            return Reply(404, b"<h1>Not Found</h1>")
        if self.case.expect == "moved":
            return Reply(301, location=site.url(f"/moved{self.path}"))
        return ok(page(self.case.after))


def watchlist_yaml(site: Site, variants: Sequence[Variant]) -> str:
    defaults = {
        "per_host": 16,
        "per_host_delay": "0s",
        "concurrency": 8,
        "confirm_after": "10m",
        "gone_after": "12h",
        "failing_after": 3,
        "jitter": 0,
    }
    sources = [{"id": v.id, "url": site.url(v.path), "select": "article"} for v in variants]
    pledges = [
        {
            "id": v.id,
            "company": v.case.company,
            "title": v.case.id,
            "made_on": "2020-01-01",
            "sources": [v.id],
            "clauses": [v.case.clause],
        }
        for v in variants
    ]
    return yaml.safe_dump({"defaults": defaults, "sources": sources, "pledges": pledges}, sort_keys=False)


# --- replay and verdicts ---------------------------------------------------------------------------


@dataclass
class Verdict:
    variant: Variant
    kinds: Sequence[str]
    right: bool
    got: str
    alert: str = ""
    events: list[m.Event] = field(default_factory=list)


def replay(site: Site, store: Store, fetcher: Fetcher, variants: Sequence[Variant]) -> int:
    """Every variant side by side: the baseline, then STEPS steps of a check and its re-check."""
    watchlist: Watchlist = parse_watchlist(watchlist_yaml(site, variants))
    for v in variants:
        if v.kind == "real" and v.case.expect == "moved":
            site.put(f"/moved{v.path}", ok(page(v.case.before)))
        if v.kind == "fault" and (extra := FAULTS[v.n % len(FAULTS)].extra) is not None:
            extra(site)
    ids = [v.id for v in variants]
    checks = 0
    for check in range(1 + 2 * STEPS):
        step = (check + 1) // 2
        now = START + step * STEP + (CONFIRM_AFTER if check and check % 2 == 0 else timedelta())
        for v in variants:
            site.put(v.path, v.reply(site, check))
        store.sync(watchlist, now)
        summary = run_cycle(store, watchlist, fetcher, ids, clock=_fixed(now), rng=random.Random(0))
        checks += summary.checked
    return checks


def _fixed(now: datetime) -> Callable[[], datetime]:
    return lambda: now


def verdict(variant: Variant, events: list[m.Event]) -> Verdict:
    kinds = [e.kind for e in events]
    pledge_events = [k for k in kinds if k.startswith("pledge.")]
    if variant.kind == "noise":
        return Verdict(variant, kinds, not pledge_events, ", ".join(kinds) or "nothing", events=events)
    if variant.kind == "fault":
        bad = pledge_events + [k for k in kinds if k == "source.changed"]
        return Verdict(variant, kinds, not bad, ", ".join(kinds) or "nothing", events=events)
    classes = [CLASSES[k] for k in kinds if k in CLASSES]
    got = ", ".join(classes) if classes else ("changed" if "source.changed" in kinds else "nothing")
    told = next((e for e in events if e.kind in CLASSES or e.kind == "source.changed"), None)
    alert = render_event(told, "console").text if told is not None else ""
    return Verdict(variant, kinds, got == variant.case.expect, got, alert, events)


def run(quiet: bool, cases: Sequence[Case] = CASES) -> int:
    variants = [Variant(c, kind, i) for i, c in enumerate(cases) for kind in ("real", "noise", "fault")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, Site().running() as site:
        store = Store(open_engine(f"sqlite:///{Path(tmp) / 'pledges.db'}"))
        with Fetcher(user_agent="pledge-monitor-bench", retries=0) as fetcher:
            checks = replay(site, store, fetcher, variants)
        by_source: dict[str, list[m.Event]] = {}
        for event in sorted(store.events(), key=lambda e: e.id):
            by_source.setdefault(event.source_id or "", []).append(event)
        verdicts = [verdict(v, by_source.get(v.id, [])) for v in variants]
        store.engine.dispose()
    elapsed = time.perf_counter() - started
    for line in report(verdicts, checks, elapsed, quiet):
        print(line)
    return 0 if all(v.right for v in verdicts) else 1


def report(verdicts: Sequence[Verdict], checks: int, elapsed: float, quiet: bool) -> list[str]:
    lines = [f"{'case':<34} {'variant':<6} {'expected':<26} {'got':<40} ok"]
    for v in verdicts:
        mark = "" if v.right else "  <-- WRONG"
        illustrative = "*" if v.variant.case.illustrative and v.variant.kind == "real" else " "
        expected = v.variant.label if v.variant.kind == "real" else f"nothing ({v.variant.label})"
        lines.append(
            f"{v.variant.case.id + illustrative:<34} {v.variant.kind:<6} {expected:<26} {v.got:<40}{mark}"
        )
    lines.append(
        "* illustrative: the pledge is on the public record, this edit of it is written for the benchmark"
    )
    lines.append("")
    for kind in ("real", "noise", "fault"):
        group = [v for v in verdicts if v.variant.kind == kind]
        right = sum(v.right for v in group)
        what = {
            "real": "classified right",
            "noise": "without a pledge event",
            "fault": "without a pledge event or source.changed",
        }[kind]
        lines.append(f"{kind:<6} {right}/{len(group)} {what}")
    real = [v for v in verdicts if v.variant.kind == "real"]
    for expect in ("weakened", "reworded", "removed", "gone", "moved", "changed"):
        group = [v for v in real if v.variant.case.expect == expect]
        if group:
            lines.append(f"  {expect:<9} {sum(v.right for v in group)}/{len(group)}")
    per_check = 1000 * elapsed / max(checks, 1)
    lines.append(f"{checks} checks through run_cycle in {elapsed:.1f}s ({per_check:.0f} ms a check)")
    if not quiet:
        lines.append("")
        lines.append("Alert text of each real case:")
        for v in real:
            lines.append("")
            lines.append(f"=== {v.variant.case.id}: expected {v.variant.case.expect}, got {v.got}")
            lines.append(f"    record: {v.variant.case.record}")
            lines.append(v.alert.strip() or "(no alert)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="the table and figures, without the alert texts")
    return run(parser.parse_args(argv).quiet)


if __name__ == "__main__":
    raise SystemExit(main())
