"""Cycle speed against the plain-fetch floor, storage growth, memory and diff speed (issues 2, 7, 14).

    .venv/bin/python benchmarks/cycle.py                  # 2,000 pages, both parts, about 2 minutes
    .venv/bin/python benchmarks/cycle.py --part cli       # `check --all` as a process (issue 14)
    .venv/bin/python benchmarks/cycle.py --part library   # the library path only
    .venv/bin/python benchmarks/cycle.py --pages 10000    # the scale figures, a few minutes
    .venv/bin/python benchmarks/cycle.py --no-fail        # report, never exit 1
    .venv/bin/python benchmarks/cycle.py --py-spy prof/   # also profile each kind of cycle
                                                          # (pip install py-spy; raw stacks, GIL only)
    .venv/bin/python benchmarks/cycle.py --browser        # 100 pages written by their script,
                                                          # checked with browser: true (issue 15)

The ``cli`` part (issue 14) measures what a user runs: ``pledge-monitor check --all`` as a whole
process (start-up, watchlist, sync, the cycle, the sweep, the output), spawned and timed to its
exit, on the site served with ETags, against the floor measured just before it: an unchanged run
(every page a 304) at most 1.1x the floor, a run where 10% of the pages changed one sentence at
most 1.5x, and under 120 MB of peak memory for its process tree (its own peak RSS from ``wait4``,
or the sum sampled every 100 ms over it and any process it starts, if larger). The process runs
with bytecode caching on, as an installed package has it (the first run writes the cache). Its
route takes pledge events only and the edits never touch a clause, so no alert is sent: sending
is the alert service's time, not the cycle's.

The ``library`` part (``run_cycle`` in a child process): a check cycle should be network-bound:
on the same pages, an unchanged cycle should cost little more than fetching every page with plain
``requests`` (the floor), and a cycle where 10% of the pages changed little more again. Both
are measured in the same run, alternately, on a local site of realistic ~50 KB policy pages
served without validators (no ETag, no Last-Modified), so every unchanged check downloads the
whole body and takes the same-hash path: the worst case.

Three processes share the machine: the site (asyncio, one process, each response written with
one send), the floor (this process) and pledge-monitor (a spawned child, so that its peak RSS is
its own). Only one client runs at a time; on a 2-core machine the client gets one core, the site
the other.

With ``--browser`` each page's article is data that an inline script writes into the page after
load, the sources say ``browser: true``, and one Chromium (kept across cycles, as ``run`` keeps it)
renders ``browser_pages`` pages at once. Its memory is sampled every 100 ms over the whole process
tree below pledge-monitor (Playwright's driver, Chromium, its renderers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import multiprocessing
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

CLAUSE = (
    "We will not sell facial recognition technology to police departments in the United States "
    "until there is a national law in place, grounded in human rights, that governs this technology."
)
CLAUSE_EVERY = 20  # one page in 20 carries a pledge clause
CLAUSE_PARAGRAPH = 3
CONCURRENCY = 10
BROWSER_PAGES = 4  # pages open at once in the one Chromium (browser_pages)
TARGET_UNCHANGED = 1.3
TARGET_CHANGED = 2.0
TARGET_RSS_MB = 150.0
TARGET_UNCHANGED_BYTES = 300
TARGET_CHANGE_BYTES = 5 * 1024
TARGET_DIFF_MS = 100.0
TARGET_CLI_UNCHANGED = 1.1  # issue 14: the whole `check --all` process, with ETags
TARGET_CLI_CHANGED = 1.5
TARGET_CLI_RSS_MB = 120.0

_VOCABULARY = """
we our the a to of and in for on with by as is are be will not no any all this that these those
policy policies commitment commitments principle principles responsible technology technologies
facial recognition data privacy customer customers partner partners government governments law
laws national federal state local police department departments enforcement agency agencies use
uses sale sales sell provide offer offering product products service services review reviewed
rights human civil liberties transparency accountability oversight safeguard safeguards consent
accuracy bias fairness testing independent audit audits report reports publish published annual
research researchers community communities advocate advocates stakeholder stakeholders feedback
guidance framework frameworks regulation regulations legislation support supports continue
continues evaluate evaluates request requests approve approved decline declined contract contracts
deploy deployment deployments surveillance identification individuals people person public private
sector industry company employees teams engineers trust trusted protect protects protection secure
security information personal sensitive retention delete deleted storage access controls limited
purpose purposes specific scope include includes including exclude excludes exception exceptions
time period year years month months until unless where when while after before during since
"""
WORDS = tuple(_VOCABULARY.split())


# -- the site ------------------------------------------------------------------------------------


def sentence_pool(seed: int, size: int) -> list[str]:
    """Policy-flavoured sentences: varied enough that pages differ, cheap enough for 10,000 pages."""
    rng = random.Random(seed)
    pool = []
    for _ in range(size):
        words = rng.choices(WORDS, k=rng.randint(10, 26))
        if rng.random() < 0.4:
            words[rng.randrange(3, len(words) - 2)] += ","
        pool.append(" ".join(words).capitalize() + ".")
    return pool


def _script_bundle(seed: int) -> str:
    """An inline script of the size real pages carry (a minified framework bundle)."""
    rng = random.Random(seed)
    parts = []
    for n in range(180):
        name = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=6))
        parts.append(f"function {name}{n}(e,t){{return e&&e.{name}?t.push(e.{name}[{n}]):void 0}}")
    return ";".join(parts)


def _nav(seed: int) -> str:
    rng = random.Random(seed)
    links = []
    for n in range(70):
        label = " ".join(rng.choices(WORDS, k=2)).title()
        links.append(f'<li class="nav-item"><a class="nav-link" href="/section/{n}/">{label}</a></li>')
    return '<nav class="site-nav" aria-label="Main"><ul class="nav-list">' + "".join(links) + "</ul></nav>"


@dataclass
class SiteText:
    """What every page shares, built once: sentence pool, navigation, script bundle."""

    pool: list[str] = field(default_factory=lambda: sentence_pool(1, 6000))
    nav: str = field(default_factory=lambda: _nav(2))
    bundle: str = field(default_factory=lambda: _script_bundle(3))


def paragraphs(text: SiteText, page: int) -> list[list[str]]:
    """The article of one page: ~34 paragraphs of sentences, one carrying the clause on some pages."""
    rng = random.Random(page * 7919 + 17)
    article = [rng.choices(text.pool, k=rng.randint(4, 7)) for _ in range(34)]
    if page % CLAUSE_EVERY == 0:
        article[CLAUSE_PARAGRAPH] = [*article[CLAUSE_PARAGRAPH][:2], CLAUSE]
    return article


def render(text: SiteText, page: int, article: list[list[str]], shell: bool = False) -> bytes:
    body = "\n".join(f"<p>{' '.join(sentences)}</p>" for sentences in article)
    digest = hashlib.md5(body.encode()).hexdigest()
    if shell:  # the article is data; a script writes it into the page after load, as apps do
        data = json.dumps([" ".join(sentences) for sentences in article]).replace("</", "<\\/")
        body = (
            f"<script>window.addEventListener('load', () => {{ const a = document.getElementById('policy');"
            f" for (const t of {data}) {{ const p = document.createElement('p'); p.textContent = t;"
            f" a.appendChild(p); }} }});</script>"
        )
    related = "".join(
        f'<li><a href="/p/{(page + k * 37) % 99991}">Related story {k}</a></li>' for k in range(8)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Responsible technology policy {page}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/site.{digest[:8]}.css">
<style>.hero{{background:#123;color:#fff}}.share-buttons a{{margin:0 4px}}</style>
<script>{text.bundle}</script>
</head><body>
<header class="site-header"><a class="logo" href="/">Example Corp</a>{text.nav}</header>
<main id="content">
<div class="share-buttons"><a href="#">Share</a><a href="#">Post</a><a href="#">Email</a></div>
<article class="policy" id="policy">
<h1>Our commitments on responsible technology, part {page}</h1>
<p class="byline">Policy team, updated quarterly</p>
{body}
</article>
<aside class="related-stories"><h2>Related</h2><ul>{related}</ul></aside>
</main>
<footer class="site-footer"><p>© 2026 Example Corp. All rights reserved.</p>{text.nav}</footer>
<script>window.__PAGE__={{"id":{page},"build":"{digest}"}};</script>
</body></html>
""".encode()


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha1(body).hexdigest()}"'


def response(body: bytes, *, validators: bool) -> bytes:
    """Headers and body as one buffer, written with one send: no Nagle/delayed-ACK stalls."""
    head = [
        "HTTP/1.1 200 OK",
        "Content-Type: text/html; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Cache-Control: max-age=300",
        "Server: bench-site",
    ]
    if validators:
        head.append(f"ETag: {etag_of(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Site:
    """Pages by number; ``change`` edits one sentence of each of some pages, a new edit every time."""

    def __init__(self, pages: int, validators: bool, shell: bool = False) -> None:
        self.text = SiteText()
        self.validators = validators
        self.shell = shell
        self.articles: dict[int, list[list[str]]] = {}
        self.etags: list[bytes] = [b""] * pages
        self.responses = [self._build(page) for page in range(pages)]

    def _build(self, page: int) -> bytes:
        article = self.articles.get(page) or paragraphs(self.text, page)
        body = render(self.text, page, article, self.shell)
        self.etags[page] = etag_of(body).encode()
        return response(body, validators=self.validators)

    def change(self, round_no: int, count: int) -> list[int]:
        rng = random.Random(1000 + round_no)
        chosen = rng.sample(range(len(self.responses)), count)
        for page in chosen:
            article = self.articles.setdefault(page, paragraphs(self.text, page))
            index = rng.choice([k for k in range(len(article)) if k != CLAUSE_PARAGRAPH])
            sentences = list(article[index])
            where = rng.randrange(len(sentences))
            sentences[where] = f"In round {round_no} we revised this sentence about {rng.choice(WORDS)} use."
            article[index] = sentences
            self.responses[page] = self._build(page)
        return chosen

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode()
                writer.write(self.reply(target, head))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def reply(self, target: str, head: bytes) -> bytes:
        parts = target.strip("/").split("/")
        if parts[0] == "p" and len(parts) == 2 and parts[1].isdigit() and int(parts[1]) < len(self.responses):
            page = int(parts[1])
            if self.validators and _header(head, b"if-none-match") == self.etags[page]:
                return (
                    b"HTTP/1.1 304 Not Modified\r\nETag: %s\r\nContent-Length: 0\r\n\r\n" % self.etags[page]
                )
            return self.responses[page]
        if parts[0] == "__change" and len(parts) == 3:
            changed = self.change(int(parts[1]), int(parts[2]))
            body = json.dumps(changed).encode()
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def serve_site(pages: int, validators: bool, shell: bool, ready: Connection) -> None:
    """The site's process: build every page, listen on a free port, say which, serve forever."""
    site = Site(pages, validators, shell)

    async def main() -> None:
        server = await asyncio.start_server(site.handle, "127.0.0.1", 0, backlog=256)
        ready.send(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# -- the floor -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    seconds: float
    cpu: float
    detail: dict[str, Any] = field(default_factory=dict)


def fetch_floor(urls: list[str]) -> Timing:
    """Plain requests, 10 threads, one pooled session: the least any cycle must spend."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=CONCURRENCY, pool_maxsize=CONCURRENCY, max_retries=0)
    session.mount("http://", adapter)

    def get(url: str) -> int:
        reply = session.get(url, timeout=30)
        reply.raise_for_status()
        return len(reply.content)

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        total = sum(pool.map(get, urls))
    timing = Timing(time.perf_counter() - started, time.process_time() - cpu, {"bytes": total})
    session.close()
    return timing


# -- pledge-monitor, in its own process ----------------------------------------------------------


def watchlist_yaml(urls: list[str], browser: bool = False) -> str:
    """Every page a source (select/remove like a real entry); a pledge for each page with a clause."""
    lines = [
        "defaults:",
        *(["  browser: true", f"  browser_pages: {BROWSER_PAGES}"] if browser else []),
        "  interval: 6h",
        f"  concurrency: {CONCURRENCY}",
        f"  per_host: {CONCURRENCY}",
        "  per_host_delay: 0s",
        "routes:",
        "  log:",
        '    urls: ["json://127.0.0.1:9/"]',
        '    events: ["*"]',
        "sources:",
    ]
    for n, url in enumerate(urls):
        lines += [f"  - id: page-{n}", f"    url: {url}", '    select: "#policy"']
        lines += ['    remove: [".byline"]']
    lines.append("pledges:")
    for n in range(0, len(urls), CLAUSE_EVERY):
        lines += [
            f"  - id: pledge-{n}",
            f"    company: Company {n}",
            "    title: No facial recognition sales to police",
            "    made_on: 2020-06-11",
            f"    sources: [page-{n}]",
            "    clauses:",
            f'      - "{CLAUSE}"',
        ]
    return "\n".join(lines) + "\n"


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _children_mb(root: int, itself: bool = False) -> float:
    """Resident memory of every process below ``root`` (Playwright's driver, Chromium and its
    renderers), and of ``root`` too when asked."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    below, pending = {root} if itself else set(), [root]
    while pending:
        parent = pending.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in below:
                below.add(pid)
                pending.append(pid)
    total = 0
    for pid in below:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1])
        except (OSError, ValueError):
            continue
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


class TreeSampler:
    """The peak of ``_children_mb`` during a cycle, sampled every 100 ms from a thread."""

    def __init__(self, root: int | None = None, itself: bool = False) -> None:
        import threading

        self.root, self.itself = root or os.getpid(), itself
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, _children_mb(self.root, self.itself))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


class MonitorWorker:
    """Runs in the child: the library path of `pledge-monitor check` over every source."""

    def __init__(self, workdir: Path) -> None:
        from monitor.process import limit_malloc_arenas

        limit_malloc_arenas()  # as `pledge-monitor check` and `run` do at start
        from monitor.store.db import open_engine
        from monitor.store.repo import Store
        from monitor.watchlist import BrowserSource, load_watchlist

        self.db_path = workdir / "pledge-monitor.db"
        self.imported_mb = _rss_mb()
        started = time.perf_counter()
        self.watchlist = load_watchlist(workdir / "watchlist.yaml")
        self.load_s = time.perf_counter() - started
        self.engine = open_engine(f"sqlite:///{self.db_path}")
        self.store = Store(self.engine)
        started = time.perf_counter()
        self.store.sync(self.watchlist, _now())
        self.sync_s = time.perf_counter() - started
        self.ids = [s.id for s in self.watchlist.sources]
        self.browser = any(isinstance(s, BrowserSource) and s.browser for s in self.watchlist.sources)
        self.fetcher: Any = None  # browser runs keep one Fetcher (one Chromium), as `run` does

    def setup(self) -> dict[str, Any]:
        return {
            "imported_mb": self.imported_mb,
            "load_s": self.load_s,
            "sync_s": self.sync_s,
            "rss_mb": _rss_mb(),
            "db_bytes": self.db_bytes(),
        }

    def cycle(self) -> dict[str, Any]:
        from monitor.cycle import run_cycle
        from monitor.fetch import Fetcher

        defaults = self.watchlist.defaults
        sampler = TreeSampler() if self.browser else None
        started, cpu = time.perf_counter(), time.process_time()
        fetcher = self.fetcher or Fetcher(
            user_agent=defaults.user_agent,
            pool_size=defaults.concurrency,
            max_body=defaults.max_body,
            browser_pages=defaults.browser_pages,
        )
        try:
            summary = run_cycle(self.store, self.watchlist, fetcher, self.ids)
        finally:
            if self.browser:
                self.fetcher = fetcher
            else:
                fetcher.close()
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        return {
            "browser_peak_mb": sampler.stop() if sampler else 0.0,
            "seconds": seconds,
            "cpu": cpu_s,
            "checked": summary.checked,
            "outcomes": dict(summary.outcomes),
            "changes": summary.changes,
            "events": summary.events,
            "db_bytes": self.db_bytes(),
            "rss_mb": _rss_mb(),
            "peak_mb": _peak_mb(),
        }

    def db_bytes(self) -> int:
        """The file size once the WAL is folded in: what the checks really added."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return self.db_path.stat().st_size


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def monitor_process(workdir: str, conn: Connection) -> None:
    worker = MonitorWorker(Path(workdir))
    conn.send(worker.setup())
    while conn.recv() == "cycle":
        conn.send(worker.cycle())
    if worker.fetcher is not None:
        worker.fetcher.close()


class Monitor:
    """The parent's handle on the child that runs pledge-monitor cycles."""

    def __init__(self, context: Any, workdir: Path) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = context.Process(target=monitor_process, args=(str(workdir), child), daemon=True)
        self.process.start()
        child.close()  # the child's end is the child's: if it dies, recv() raises instead of waiting
        self.setup: dict[str, Any] = self.conn.recv()

    def cycle(self) -> Timing:
        self.conn.send("cycle")
        reply: dict[str, Any] = self.conn.recv()
        return Timing(reply["seconds"], reply["cpu"], reply)

    def close(self) -> None:
        self.conn.send("stop")
        self.process.join(timeout=30)


# -- pledge-monitor as a user runs it ------------------------------------------------------------


@dataclass(frozen=True)
class CliRun:
    """One ``pledge-monitor check --all``, timed from spawn to exit, with its peak memory."""

    seconds: float
    cpu: float
    peak_mb: float  # the process's own peak RSS (wait4), or the sampled sum over its tree if larger
    checked: int
    outcomes: dict[str, int]
    changes: int
    events: int
    line: str


SUMMARY = re.compile(
    r"checked (?P<checked>\d+) sources? in [\d.]+s \((?P<outcomes>[^)]*)\); "
    r"(?P<changes>\d+) changes?, (?P<events>\d+) events?"
)


def cli_watchlist_yaml(urls: list[str]) -> str:
    """The same sources and pledges; the route takes pledge events, as an advocacy group's does.
    The edits here never touch a clause, so no alert is sent: sending is the alert service's
    network time, not the cycle's (and apprise is not even imported)."""
    lines = watchlist_yaml(urls).splitlines()
    at = lines.index("  log:")
    lines[at : at + 3] = ["  advocacy:", '    urls: ["json://127.0.0.1:9/"]', '    events: ["pledge.*"]']
    return "\n".join(lines) + "\n"


def check_all(workdir: Path) -> CliRun:
    """``pledge-monitor check --all`` in a fresh process, as cron runs it; its output to a file."""
    command = [str(Path(sys.executable).with_name("pledge-monitor")), "check", "--all"]
    command += ["-w", str(workdir / "watchlist.yaml"), "--db", str(workdir / "pledge-monitor.db")]
    # as installed: pip compiles a package's bytecode once, so a run does not compile the
    # monitor package from source each time (PYTHONDONTWRITEBYTECODE cost about 0.2 s a start)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PLEDGE_MONITOR_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    out = workdir / "check.out"
    with out.open("wb") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=workdir)
        sampler = TreeSampler(proc.pid, itself=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        sampled = sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out.read_text(errors="replace")
    found = SUMMARY.search(text)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"pledge-monitor check --all exited {proc.returncode}:\n{text[-3000:]}")
    outcomes = {}
    for part in found["outcomes"].split(", "):
        count, _, name = part.partition(" ")
        outcomes[name] = int(count)
    return CliRun(
        seconds=seconds,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_mb=max(usage.ru_maxrss / 1024, sampled),
        checked=int(found["checked"]),
        outcomes=outcomes,
        changes=int(found["changes"]),
        events=int(found["events"]),
        line=found.group(0),
    )


@dataclass
class CliResults:
    pages: int
    floor: list[Timing] = field(default_factory=list)
    floor_before_changed: list[Timing] = field(default_factory=list)
    baseline: CliRun | None = None
    unchanged: list[CliRun] = field(default_factory=list)
    changed: list[CliRun] = field(default_factory=list)
    change_count: int = 0
    problems: list[str] = field(default_factory=list)
    load: list[float] = field(default_factory=list)

    def ratio(self, runs: list[CliRun], floors: list[Timing]) -> float:
        return float(statistics.median([r.seconds / f.seconds for r, f in zip(runs, floors, strict=True)]))

    def peak_mb(self) -> float:
        runs = [*self.unchanged, *self.changed, *([self.baseline] if self.baseline else [])]
        return max(r.peak_mb for r in runs)


def run_cli(args: argparse.Namespace, workdir: Path, log: Callable[[str], None]) -> CliResults:
    """The issue-14 measurement: the whole ``check --all`` process against the floor, with ETags."""
    context = multiprocessing.get_context("spawn")
    results = CliResults(args.pages, load=[os.getloadavg()[0]])
    site_conn, site_child = multiprocessing.Pipe()
    site = context.Process(target=serve_site, args=(args.pages, True, False, site_child), daemon=True)
    site.start()
    site_child.close()
    port = site_conn.recv()
    log(f"site (with ETags): {args.pages} pages on 127.0.0.1:{port}")
    urls = [f"http://127.0.0.1:{port}/p/{n}" for n in range(args.pages)]
    (workdir / "watchlist.yaml").write_text(cli_watchlist_yaml(urls))
    try:
        warm = fetch_floor(urls)
        log(f"floor (warm-up): {warm.seconds:.2f}s")
        results.baseline = _cli_cycle(workdir, "baseline", log)
        count = max(1, args.pages // 10)
        for rep in range(args.repeat):
            results.floor.append(fetch_floor(urls))
            log(f"[{rep + 1}/{args.repeat}] floor: {results.floor[-1].seconds:.2f}s")
            unchanged = _cli_cycle(workdir, "unchanged", log)
            _expect_cli(results, unchanged, args.pages, 0)
            results.unchanged.append(unchanged)
            _change(port, 100 + rep, count)
            results.floor_before_changed.append(fetch_floor(urls))
            log(f"[{rep + 1}/{args.repeat}] floor: {results.floor_before_changed[-1].seconds:.2f}s")
            changed = _cli_cycle(workdir, "changed", log)
            _expect_cli(results, changed, args.pages, count)
            results.changed.append(changed)
            results.change_count = count
    finally:
        site.terminate()
        site.join(timeout=10)
    results.load.append(os.getloadavg()[0])
    return results


def _cli_cycle(workdir: Path, label: str, log: Callable[[str], None]) -> CliRun:
    done = check_all(workdir)
    log(
        f"    check --all, {label}: {done.seconds:.2f}s (cpu {done.cpu:.2f}s), "
        f"peak {done.peak_mb:.0f} MB: {done.line}"
    )
    return done


def _expect_cli(results: CliResults, run: CliRun, pages: int, changes: int) -> None:
    if run.checked != pages or run.changes != changes or run.outcomes.get("failed"):
        results.problems.append(f"expected {pages} checks and {changes} changes, got {run.line}")


def cli_rows(r: CliResults) -> Iterator[Row]:
    n, k = r.pages, r.change_count
    floor = statistics.median(t.seconds for t in r.floor + r.floor_before_changed)
    yield Row(
        f"floor: plain `requests`, {CONCURRENCY} threads, every page downloaded", _secs(floor, n), "", None
    )
    assert r.baseline is not None
    yield Row(
        "first `check --all` (migrate, extract and store every page)", _secs(r.baseline.seconds, n), "", None
    )
    yield _ratio_row(
        "`check --all`, nothing changed (304s)",
        _secs(statistics.median(x.seconds for x in r.unchanged), n),
        r.ratio(r.unchanged, r.floor),
        TARGET_CLI_UNCHANGED,
    )
    yield _ratio_row(
        f"`check --all`, 10% changed ({k} pages, one sentence each)",
        _secs(statistics.median(x.seconds for x in r.changed), n),
        r.ratio(r.changed, r.floor_before_changed),
        TARGET_CLI_CHANGED,
    )
    floor_cpu = statistics.median(t.cpu for t in r.floor + r.floor_before_changed)
    cpu_quiet = statistics.median(x.cpu for x in r.unchanged)
    cpu_busy = statistics.median(x.cpu for x in r.changed)
    yield Row(
        "CPU (less noisy than time on a busy machine): floor / unchanged / changed",
        f"{floor_cpu:.1f}s / {cpu_quiet:.1f}s / {cpu_busy:.1f}s",
        "",
        None,
    )
    peak = r.peak_mb()
    first = r.baseline.peak_mb
    quiet_mb = max(x.peak_mb for x in r.unchanged)
    busy_mb = max(x.peak_mb for x in r.changed)
    yield Row(
        "peak RSS of `check --all` (with any process it starts)",
        f"{peak:.0f} MB (first run {first:.0f}, unchanged {quiet_mb:.0f}, changed {busy_mb:.0f})",
        f"< {TARGET_CLI_RSS_MB:.0f} MB",
        peak < TARGET_CLI_RSS_MB,
    )


# -- profiling (optional) ------------------------------------------------------------------------


class Profiler:
    """py-spy attached to the monitor child during one cycle of each kind, when asked for."""

    def __init__(self, folder: Path | None, pid: int) -> None:
        self.folder, self.pid = folder, pid
        self.done: set[str] = set()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, label: str) -> None:
        if self.folder is None or label in self.done:
            return
        self.done.add(label)
        py_spy = Path(sys.executable).with_name("py-spy")
        out = self.folder / f"{label}.txt"
        command = [str(py_spy), "record", "--pid", str(self.pid), "--format", "raw", "--rate", "200", "--gil"]
        self.proc = subprocess.Popen([*command, "--output", str(out)], stdout=subprocess.DEVNULL)
        time.sleep(1.0)  # let it attach before the cycle starts

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=60)
            self.proc = None


# -- the diff microbenchmark ---------------------------------------------------------------------


def diff_benchmark() -> dict[str, Any]:
    """A 2 MB text, 5% of its paragraphs with one sentence replaced: exact, and how fast."""
    from monitor import diff as differ

    pool = sentence_pool(9, 6000)
    rng = random.Random(5)
    old_paragraphs: list[list[str]] = []
    while sum(len(" ".join(p)) + 1 for p in old_paragraphs) < 2 * 10**6:
        old_paragraphs.append(rng.choices(pool, k=rng.randint(3, 6)))
    new_paragraphs = [list(p) for p in old_paragraphs]
    changed = rng.sample(range(len(new_paragraphs)), len(new_paragraphs) // 20)
    for index in changed:
        sentences = new_paragraphs[index]
        sentences[rng.randrange(len(sentences))] = f"This sentence {index} was replaced in a later revision."
    old = "\n".join(" ".join(p) for p in old_paragraphs)
    new = "\n".join(" ".join(p) for p in new_paragraphs)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        result = differ.compute(old, new)
        times.append((time.perf_counter() - started) * 1000)
    delta = differ.to_delta(result)
    exact = differ.apply(old, delta) == new
    # A truncated or coarsened diff deletes whole runs of text; an exact one only the edits.
    old_words = sum(len(" ".join(new_paragraphs[i]).split()) for i in changed)
    local = result.removed_words < old_words
    return {
        "chars": len(old),
        "paragraphs": len(old_paragraphs),
        "changed": len(changed),
        "ms": min(times),
        "ms_all": times,
        "exact": exact,
        "local": local,
        "removed_words": result.removed_words,
        "added_words": result.added_words,
    }


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Results:
    pages: int
    validators: bool = False
    browser: bool = False
    floor: list[Timing] = field(default_factory=list)
    floor_before_changed: list[Timing] = field(default_factory=list)
    unchanged: list[Timing] = field(default_factory=list)
    changed: list[Timing] = field(default_factory=list)
    baseline: Timing | None = None
    setup: dict[str, Any] = field(default_factory=dict)
    unchanged_growth: list[int] = field(default_factory=list)
    changed_growth: list[int] = field(default_factory=list)
    change_count: int = 0
    problems: list[str] = field(default_factory=list)
    diff: dict[str, Any] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)

    def ratio(self, cycles: list[Timing], floors: list[Timing]) -> float:
        """Each cycle against the floor measured just before it: robust to a busy machine."""
        return float(statistics.median([c.seconds / f.seconds for c, f in zip(cycles, floors, strict=True)]))

    def peak_mb(self) -> float:
        return max(float(t.detail["peak_mb"]) for t in [*self.unchanged, *self.changed, *self._base()])

    def _base(self) -> list[Timing]:
        return [self.baseline] if self.baseline else []


def median(timings: list[Timing]) -> float:
    return statistics.median(t.seconds for t in timings)


def _run(args: argparse.Namespace, workdir: Path, log: Callable[[str], None]) -> Results:
    context = multiprocessing.get_context("spawn")
    results = Results(args.pages, validators=args.validators, browser=args.browser, load=[os.getloadavg()[0]])
    site_conn, site_child = multiprocessing.Pipe()
    site = context.Process(
        target=serve_site, args=(args.pages, args.validators, args.browser, site_child), daemon=True
    )
    started = time.perf_counter()
    site.start()
    site_child.close()
    port = site_conn.recv()
    log(f"site: {args.pages} pages on 127.0.0.1:{port}, built in {time.perf_counter() - started:.1f}s")
    urls = [f"http://127.0.0.1:{port}/p/{n}" for n in range(args.pages)]
    (workdir / "watchlist.yaml").write_text(watchlist_yaml(urls, browser=args.browser))
    monitor = Monitor(context, workdir)
    results.setup = monitor.setup
    log(
        f"pledge-monitor: watchlist loaded in {monitor.setup['load_s']:.1f}s, "
        f"synced in {monitor.setup['sync_s']:.1f}s"
    )
    profiler = Profiler(Path(args.py_spy) if args.py_spy else None, monitor.process.pid or 0)
    try:
        warm = fetch_floor(urls)
        log(f"floor (warm-up): {warm.seconds:.2f}s, {warm.detail['bytes'] / 2**20:.0f} MB")
        results.baseline = _cycle(monitor, profiler, "baseline", log)
        last_size = results.baseline.detail["db_bytes"]
        for rep in range(args.repeat):
            results.floor.append(fetch_floor(urls))
            log(f"[{rep + 1}/{args.repeat}] floor: {results.floor[-1].seconds:.2f}s")
            unchanged = _cycle(monitor, profiler, "unchanged", log)
            _expect(results, unchanged, args.pages, 0)
            results.unchanged.append(unchanged)
            results.unchanged_growth.append(unchanged.detail["db_bytes"] - last_size)
            count = max(1, args.pages // 10)
            _change(port, rep + 1, count)
            results.floor_before_changed.append(fetch_floor(urls))
            log(f"[{rep + 1}/{args.repeat}] floor: {results.floor_before_changed[-1].seconds:.2f}s")
            changed = _cycle(monitor, profiler, "changed", log)
            _expect(results, changed, args.pages, count)
            results.changed.append(changed)
            results.changed_growth.append(changed.detail["db_bytes"] - unchanged.detail["db_bytes"])
            results.change_count = count
            last_size = changed.detail["db_bytes"]
    finally:
        profiler.stop()
        monitor.close()
        site.terminate()
        site.join(timeout=10)
    results.load.append(os.getloadavg()[0])
    results.diff = {} if args.browser else diff_benchmark()
    if results.diff:
        log(f"diff: {results.diff['ms']:.0f} ms for {results.diff['chars'] / 1e6:.1f} MB")
    return results


def _cycle(monitor: Monitor, profiler: Profiler, label: str, log: Callable[[str], None]) -> Timing:
    profiler.start(label)
    try:
        timing = monitor.cycle()
    finally:
        profiler.stop()
    d = timing.detail
    log(
        f"    {label}: {timing.seconds:.2f}s (cpu {timing.cpu:.2f}s), {d['outcomes']}, "
        f"{d['changes']} changes, db {d['db_bytes'] / 2**20:.1f} MB, peak {d['peak_mb']:.0f} MB"
    )
    return timing


def _change(port: int, round_no: int, count: int) -> None:
    reply = requests.get(f"http://127.0.0.1:{port}/__change/{round_no}/{count}", timeout=120)
    reply.raise_for_status()


def _expect(results: Results, timing: Timing, pages: int, changes: int) -> None:
    """A cycle that did not see what the site did measured the wrong thing."""
    d = timing.detail
    if d["checked"] != pages or d["changes"] != changes or d["outcomes"].get("failed"):
        results.problems.append(f"expected {pages} checks and {changes} changes, got {d}")


# -- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    target: str
    ok: bool | None


def browser_rows(r: Results) -> Iterator[Row]:
    """Browser checks have no target yet: the figures, beside the plain fetch of the same pages."""
    n, k = r.pages, r.change_count
    assert r.baseline is not None
    yield Row(
        f"plain fetch of the same pages: `requests`, {CONCURRENCY} threads",
        _secs(median(r.floor + r.floor_before_changed), n),
        "",
        None,
    )
    yield Row("first cycle (baseline; includes starting Chromium)", _secs(r.baseline.seconds, n), "", None)
    yield Row("unchanged cycle (every page rendered)", _secs(median(r.unchanged), n), "", None)
    yield Row(f"cycle with 10% changed ({k} pages)", _secs(median(r.changed), n), "", None)
    peak = r.peak_mb()
    chromium = max(float(t.detail["browser_peak_mb"]) for t in [*r.unchanged, *r.changed, *r._base()])
    yield Row(
        f"peak RSS: pledge-monitor / Chromium and its {BROWSER_PAGES} pages (Playwright's driver included)",
        f"{peak:.0f} MB / {chromium:.0f} MB",
        "",
        None,
    )


def rows(r: Results) -> Iterator[Row]:
    if r.browser:
        yield from browser_rows(r)
        return
    floor, unchanged, changed = (
        median(r.floor + r.floor_before_changed),
        median(r.unchanged),
        median(r.changed),
    )
    n, k = r.pages, r.change_count
    yield Row(f"floor: plain `requests`, {CONCURRENCY} threads", _secs(floor, n), "", None)
    assert r.baseline is not None
    yield Row("first cycle (baseline: extract, store every page)", _secs(r.baseline.seconds, n), "", None)
    yield _ratio_row("unchanged cycle", _secs(unchanged, n), r.ratio(r.unchanged, r.floor), TARGET_UNCHANGED)
    yield _ratio_row(
        f"cycle with 10% changed ({k} pages, one sentence each)",
        _secs(changed, n),
        r.ratio(r.changed, r.floor_before_changed),
        TARGET_CHANGED,
    )
    cpu = statistics.median(t.cpu for t in r.unchanged)
    floor_cpu = statistics.median(t.cpu for t in r.floor)
    yield Row("client CPU: floor / unchanged cycle", f"{floor_cpu:.1f}s / {cpu:.1f}s", "", None)
    per_check = statistics.median(r.unchanged_growth) / n
    yield Row(
        "database growth per unchanged check",
        f"{per_check:.0f} bytes",
        f"< {TARGET_UNCHANGED_BYTES}",
        per_check < TARGET_UNCHANGED_BYTES,
    )
    per_change = (statistics.median(r.changed_growth) - per_check * (n - k)) / k
    yield Row(
        "database growth per change (50 KB page, one sentence)",
        f"{per_change / 1024:.1f} KB",
        f"< {TARGET_CHANGE_BYTES // 1024} KB",
        per_change < TARGET_CHANGE_BYTES,
    )
    base_per_page = (r.baseline.detail["db_bytes"] - r.setup["db_bytes"]) / n
    yield Row("database growth per first snapshot", f"{base_per_page / 1024:.1f} KB", "", None)
    peak, imported, loaded = r.peak_mb(), r.setup["imported_mb"], r.setup["rss_mb"]
    yield Row(
        "peak RSS of the pledge-monitor process",
        f"{peak:.0f} MB ({imported:.0f} after imports, {loaded:.0f} after watchlist load and sync)",
        f"< {TARGET_RSS_MB:.0f} MB",
        peak < TARGET_RSS_MB,
    )
    yield Row("watchlist load / sync", f"{r.setup['load_s']:.1f}s / {r.setup['sync_s']:.1f}s", "", None)
    d = r.diff
    yield Row(
        f"diff of a {d['chars'] / 1e6:.1f} MB text, {d['changed']} of {d['paragraphs']} paragraphs changed",
        f"{d['ms']:.0f} ms, {'exact' if d['exact'] and d['local'] else 'NOT EXACT'}",
        f"< {TARGET_DIFF_MS:.0f} ms, exact",
        d["ms"] < TARGET_DIFF_MS and d["exact"] and d["local"],
    )


def _ratio_row(label: str, took: str, ratio: float, target: float) -> Row:
    """A run against the floor: its time, its ratio in bold, and whether it meets the target."""
    return Row(label, f"{took}, **{ratio:.2f}x** floor", f"≤ {target}x", ratio <= target)


def _secs(seconds: float, pages: int) -> str:
    rate = pages / seconds
    return f"{seconds:.2f}s ({rate:,.0f} pages/s)" if rate >= 10 else f"{seconds:.2f}s ({rate:.2f} pages/s)"


def table(r: Results) -> str:
    out = [
        "The library path (`run_cycle` in a child process): "
        f"{r.pages:,} pages of ~50 KB on a local site, "
        + ("each written by its script after load, checked in Chromium; " if r.browser else "")
        + (
            "with ETags (unchanged pages answer 304, the floor still downloads them). "
            if r.validators
            else "no validators (every unchanged check downloads the page). "
        )
        + f"Each cycle is timed right after a floor run and the ratio is the median of "
        f"{len(r.floor)} such pairs. Site and client share {os.cpu_count()} cores (load average "
        f"{r.load[0]:.1f} at the start, {r.load[-1]:.1f} at the end).",
        "",
        *_markdown(rows(r)),
    ]
    return "\n".join(out)


def cli_table(r: CliResults) -> str:
    out = [
        "`pledge-monitor check --all` as a whole process, as cron runs it: "
        f"{r.pages:,} pages of ~50 KB on a local site with ETags (an unchanged page answers 304; "
        "the floor downloads every page). Each run is timed from spawn to exit right after a floor "
        f"run; the ratio is the median of {len(r.floor)} such pairs. Site and client share "
        f"{os.cpu_count()} cores (load average {r.load[0]:.1f} at the start, {r.load[-1]:.1f} at the end).",
        "",
        *_markdown(cli_rows(r)),
    ]
    return "\n".join(out)


def _markdown(found: Iterator[Row]) -> list[str]:
    out = ["| measure | result | target | |", "|---|---|---|---|"]
    for row in found:
        mark = "" if row.ok is None else ("ok" if row.ok else "**missed**")
        out.append(f"| {row.measure} | {row.value} | {row.target} | {mark} |")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, help="how many pages (default 2000; 100 with --browser)")
    parser.add_argument(
        "--part",
        choices=["cli", "library", "all"],
        default="all",
        help="`check --all` as a process (with ETags), the library path (no validators), or both",
    )
    parser.add_argument(
        "--browser", action="store_true", help="pages written by a script, checked with browser: true"
    )
    parser.add_argument("--repeat", type=int, default=3, help="alternating floor/cycle runs (median)")
    parser.add_argument(
        "--validators", action="store_true", help="library path: serve ETags (unchanged pages get 304)"
    )
    parser.add_argument("--workdir", help="where the watchlist and database go (default: a temp dir)")
    parser.add_argument("--py-spy", metavar="DIR", help="record one py-spy profile per cycle kind into DIR")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    parser.add_argument(
        "--no-fail", action="store_true", help="report only; exit 0 even if a target is missed"
    )
    args = parser.parse_args()
    if args.pages is None:
        args.pages = 100 if args.browser else 2000
    if args.browser:
        args.part = "library"
    started = time.perf_counter()
    say = lambda line: print(line, flush=True)  # noqa: E731
    raw: dict[str, Any] = {"load": os.getloadavg()[0]}
    missed: list[str] = []
    problems: list[str] = []
    tables: list[str] = []
    if args.part in ("cli", "all"):
        with _workdir(args, "cli") as workdir:
            cli = run_cli(args, workdir, say)
        tables.append(cli_table(cli))
        missed += [row.measure for row in cli_rows(cli) if row.ok is False]
        problems += cli.problems
        raw["cli"] = _raw_cli(cli)
    if args.part in ("library", "all"):
        with _workdir(args, "library") as workdir:
            results = _run(args, workdir, say)
        tables.append(table(results))
        missed += [row.measure for row in rows(results) if row.ok is False]
        problems += results.problems
        raw["library"] = _raw(results)
    for text in tables:
        print()
        print(text)
    print(f"\n(the benchmark took {time.perf_counter() - started:.0f}s)")
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=2, default=str))
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    if (missed or problems) and not args.no_fail:
        print(f"missed: {'; '.join(missed) or 'sanity checks'}", file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def _workdir(args: argparse.Namespace, part: str) -> Iterator[Path]:
    if args.workdir:
        folder = Path(args.workdir) / part
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix=f"pm-bench-{part}-") as temp:
        yield Path(temp)


def _raw_cli(r: CliResults) -> dict[str, Any]:
    return {
        "pages": r.pages,
        "load": r.load,
        "floor": [t.__dict__ for t in r.floor],
        "floor_before_changed": [t.__dict__ for t in r.floor_before_changed],
        "baseline": r.baseline.__dict__ if r.baseline else None,
        "unchanged": [x.__dict__ for x in r.unchanged],
        "changed": [x.__dict__ for x in r.changed],
    }


def _raw(r: Results) -> dict[str, Any]:
    return {
        "pages": r.pages,
        "setup": r.setup,
        "floor": [t.__dict__ for t in r.floor],
        "floor_before_changed": [t.__dict__ for t in r.floor_before_changed],
        "load": r.load,
        "baseline": r.baseline.__dict__ if r.baseline else None,
        "unchanged": [t.__dict__ for t in r.unchanged],
        "changed": [t.__dict__ for t in r.changed],
        "unchanged_growth": r.unchanged_growth,
        "changed_growth": r.changed_growth,
        "diff": r.diff,
    }


if __name__ == "__main__":
    sys.exit(main())
