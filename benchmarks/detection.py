"""Detection quality on real pages: replay labelled page histories through the real check path.

Each labelled step of the corpus (``github-policies/cases.json``: a before page, an after page and
whether the policy text changed) is served on 127.0.0.1 and checked twice by ``run_cycle`` with a
watchlist a user would write (url, select, remove) and a fresh SQLite store. A step is detected when
the second check records a Change. The figures are precision and recall of those Changes against the
labels, with links off and on (and, for comparison, with only the URL), plus extraction speed.

    .venv/bin/python benchmarks/detection.py [--corpus PATH]

The corpus is read in place (``$PLEDGE_MONITOR_CORPUS`` or ``../shared/corpus`` from the repo root);
without it the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from selectolax.lexbor import LexborHTMLParser, LexborNode

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere: the package is the repo's
    sys.path.insert(0, str(REPO))

from monitor import diff as differ  # noqa: E402
from monitor.cycle import run_cycle  # noqa: E402
from monitor.extract import extract  # noqa: E402
from monitor.fetch import Fetcher  # noqa: E402
from monitor.store.db import open_engine  # noqa: E402
from monitor.store.repo import Store  # noqa: E402
from monitor.watchlist import Watchlist, parse_watchlist  # noqa: E402

CORPUS_ENV = "PLEDGE_MONITOR_CORPUS"
CASES = Path("github-policies") / "cases.json"
CONTENT_TYPE = "text/html; charset=utf-8"


# --- the labelled steps --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One labelled pair of consecutive fetches of a document."""

    document: str
    before: str
    after: str
    fetched_at: datetime
    label: str
    url: str
    select: str | None
    remove: tuple[str, ...]
    text_changed: bool
    links_changed: bool

    @property
    def substantive(self) -> bool:
        return self.label == "substantive"

    def name(self) -> str:
        return (
            f"{self.document} {Path(self.before).stem}->{Path(self.after).stem} ({self.fetched_at:%Y-%m-%d})"
        )


def corpus_root(explicit: str | None) -> Path:
    """Where the corpus is: --corpus, then the environment, then next to the repository."""
    return Path(explicit or os.environ.get(CORPUS_ENV) or REPO.parent / "shared" / "corpus")


def load_steps(root: Path) -> list[Step]:
    cases = json.loads((root / CASES).read_text())
    return [
        Step(
            document=case["document"],
            before=case["before"],
            after=case["after"],
            fetched_at=datetime.fromisoformat(case["fetched_at"]).astimezone(UTC),
            label=case["label"],
            url=case["url"],
            select=case.get("select"),
            remove=tuple(case.get("remove") or ()),
            text_changed=bool(case["selected_text_changed"]),
            links_changed=bool(case["selected_links_changed"]),
        )
        for case in cases
    ]


def by_document(steps: Sequence[Step]) -> dict[str, list[Step]]:
    documents: dict[str, list[Step]] = {}
    for step in steps:
        documents.setdefault(step.document, []).append(step)
    return documents


# --- a local web site ----------------------------------------------------------------------------


class PageServer:
    """Serves whatever page each path currently holds, on 127.0.0.1, from threads."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    body = server.pages.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def put(self, path: str, body: bytes) -> None:
        with self._lock:
            self.pages[path] = body

    @contextmanager
    def running(self) -> Iterator[PageServer]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


# --- replay --------------------------------------------------------------------------------------


class ReplayClock:
    """The fetch dates of the corpus, kept strictly increasing for the store."""

    def __init__(self) -> None:
        self.now = datetime(2000, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, at: datetime) -> None:
        self.now = max(at, self.now + timedelta(seconds=1))


@dataclass(frozen=True)
class Settings:
    """What the user writes for a source; the same for every page of the corpus."""

    name: str
    links: bool = False
    whole_page: bool = False  # only the URL: no select, no remove


TEXT = Settings("select/remove")
LINKS = Settings("select/remove, links: true", links=True)
WHOLE_PAGE = Settings("url only (whole page)", whole_page=True)
SETTINGS = (TEXT, LINKS, WHOLE_PAGE)


@dataclass(frozen=True)
class Verdict:
    """What the second check of a step recorded."""

    step: Step
    settings: Settings
    outcome: str
    detected: bool
    checks: int = 1
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


def watchlist_yaml(source_id: str, url: str, step: Step, settings: Settings) -> str:
    """The watchlist a user would write for this page: url, select, remove (and links)."""
    source: dict[str, object] = {"id": source_id, "url": url}
    if step.select and not settings.whole_page:
        source["select"] = step.select
    if step.remove and not settings.whole_page:
        source["remove"] = list(step.remove)
    if settings.links:
        source["links"] = True
    defaults = {"per_host": 10, "per_host_delay": "0s", "concurrency": 1}
    return yaml.safe_dump({"defaults": defaults, "sources": [source]}, sort_keys=False)


@dataclass
class Replay:
    """One document replayed with one kind of settings in its own store."""

    document: str
    steps: list[Step]
    settings: Settings
    corpus: Path
    server: PageServer
    fetcher: Fetcher
    store: Store

    @property
    def path(self) -> str:
        return f"/{SETTINGS.index(self.settings)}/{self.document}"

    def run(self) -> list[Verdict]:
        """Check each step's before page (unless the store already holds it), then its after page."""
        url = self.server.url(self.path)
        watchlist = parse_watchlist(watchlist_yaml(self.document, url, self.steps[0], self.settings))
        clock = ReplayClock()
        verdicts: list[Verdict] = []
        held: str | None = None
        for step in self.steps:
            checks = 1
            if held != step.before:
                clock.move_to(step.fetched_at - timedelta(hours=1))
                self.check(watchlist, clock, step.before)
                checks = 2
            clock.move_to(step.fetched_at)
            outcome, change_id = self.check(watchlist, clock, step.after)
            verdicts.append(self.verdict(step, outcome, change_id, checks))
            held = step.after
        return verdicts

    def check(self, watchlist: Watchlist, clock: ReplayClock, page: str) -> tuple[str, int | None]:
        """Serve ``page`` and check the source once; returns the outcome and the Change id."""
        self.server.put(self.path, (self.corpus / "github-policies" / page).read_bytes())
        self.store.sync(watchlist, clock())
        summary = run_cycle(
            self.store, watchlist, self.fetcher, [self.document], clock=clock, rng=random.Random(0)
        )
        (record,) = summary.records
        if record.outcome == "failed":
            raise RuntimeError(f"check of {page} failed: {self.store.checks(limit=1)[0].error}")
        return record.outcome, record.change_id

    def verdict(self, step: Step, outcome: str, change_id: int | None, checks: int) -> Verdict:
        if change_id is None:
            return Verdict(step, self.settings, outcome, detected=False, checks=checks)
        change = self.store.change(change_id)
        old, new = (self.store.snapshot_text(i) for i in (change.from_snapshot_id, change.to_snapshot_id))
        diff = differ.compute(old, new)
        detected = outcome == "changed"
        return Verdict(
            step, self.settings, outcome, detected, checks, tuple(diff.added()), tuple(diff.removed())
        )


def replay_all(corpus: Path, steps: Sequence[Step], workdir: Path) -> list[Verdict]:
    """Every document with every kind of settings, each in its own store, side by side."""
    plan = [
        (doc, doc_steps, settings) for doc, doc_steps in by_document(steps).items() for settings in SETTINGS
    ]
    # Stores are opened (migrated) one at a time: Alembic's context is process-global.
    engines = [open_engine(f"sqlite:///{workdir / f'{n}.db'}") for n in range(len(plan))]
    try:
        with (
            PageServer().running() as server,
            Fetcher(user_agent="pledge-monitor-benchmark", retries=0) as fetcher,
        ):
            replays = [
                Replay(document, doc_steps, settings, corpus, server, fetcher, Store(engine))
                for (document, doc_steps, settings), engine in zip(plan, engines, strict=True)
            ]
            with ThreadPoolExecutor(max_workers=len(replays)) as pool:
                results = list(pool.map(Replay.run, replays))
    finally:
        for engine in engines:
            engine.dispose()
    return [verdict for verdicts in results for verdict in verdicts]


# --- scores --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """Detections with some settings, scored against one kind of label."""

    settings: Settings
    truth_name: str
    truth: Callable[[Step], bool]
    lists_wrong_steps: bool = True


MEASURES = (
    Measure(TEXT, "substantive (label)", lambda s: s.substantive, lists_wrong_steps=False),
    Measure(TEXT, "visible text changed", lambda s: s.text_changed),
    Measure(LINKS, "text or link targets changed", lambda s: s.links_changed),
    Measure(LINKS, "substantive (label)", lambda s: s.substantive, lists_wrong_steps=False),
    Measure(WHOLE_PAGE, "visible text changed", lambda s: s.text_changed),
)


@dataclass(frozen=True)
class Score:
    measure: Measure
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def row(self) -> str:
        cells = [
            self.measure.settings.name,
            self.measure.truth_name,
            str(self.tp + self.fn),
            str(self.tp + self.fp),
            str(self.tp),
            str(self.fp),
            str(self.fn),
            f"{self.precision:.3f}",
            f"{self.recall:.3f}",
        ]
        return "| " + " | ".join(cells) + " |"


HEADER = (
    "| settings | truth | true steps | changes recorded | TP | FP | FN | precision | recall |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|"
)


def score(measure: Measure, verdicts: Sequence[Verdict]) -> Score:
    pairs = [(measure.truth(v.step), v.detected) for v in verdicts if v.settings == measure.settings]
    return Score(
        measure,
        tp=sum(t and d for t, d in pairs),
        fp=sum(d and not t for t, d in pairs),
        fn=sum(t and not d for t, d in pairs),
    )


# --- why a step went wrong -----------------------------------------------------------------------


def _selected(corpus: Path, page: str, step: Step) -> LexborNode | None:
    tree = LexborHTMLParser((corpus / "github-policies" / page).read_bytes().decode("utf-8", "replace"))
    return tree.css_first(step.select) if step.select else tree.body


def first_difference(old: str, new: str, width: int = 45) -> str:
    """Where two long strings first and last differ, with a little context: 'old' -> 'new'."""
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    left = max(0, start - width)
    return f"{old[left : len(old) - end + width]!r} -> {new[left : len(new) - end + width]!r}"


def _joined_text(node: LexborNode | None) -> str:
    """Text nodes joined with spaces: how a naive extractor reads a page."""
    return " ".join((node.text(separator=" ") if node is not None else "").split())


def page_text(corpus: Path, page: str, step: Step, links: bool) -> str:
    body = (corpus / "github-policies" / page).read_bytes()
    return extract(body, content_type=CONTENT_TYPE, select=step.select, remove=step.remove, links=links)


def explain(corpus: Path, verdict: Verdict) -> str:
    """A short reason for a wrong verdict, from the stored diff or the pages themselves."""
    step = verdict.step
    if verdict.detected:
        where = " (outside the document's select)" if verdict.settings.whole_page else ""
        return f"change recorded{where}: removed {list(verdict.removed)[:3]}, added {list(verdict.added)[:3]}"
    nodes = [_selected(corpus, page, step) for page in (step.before, step.after)]
    reasons = ["extracted text identical"]
    joined = [_joined_text(node) for node in nodes]
    if joined[0] != joined[1]:
        reasons.append(
            "text nodes joined with spaces (a naive extractor) do differ: "
            f"{first_difference(joined[0], joined[1], width=25)}"
        )
    if not verdict.settings.links:
        linked = [page_text(corpus, page, step, links=True) for page in (step.before, step.after)]
        if linked[0] != linked[1]:
            reasons.append(f"link targets differ ({first_difference(linked[0], linked[1], width=25)})")
    markup = [node.html or "" if node is not None else "" for node in nodes]
    reasons.append(f"markup: {first_difference(markup[0], markup[1])}")
    return ";\n      ".join(reasons)


# --- obfuscated link targets, on pages of our own ------------------------------------------------

OBFUSCATION_FETCHES = 300
ADDRESS_CHANGE_EVERY = 25  # one real change of address in so many fetches


def _obfuscated(text: str, rng: random.Random, nested: bool = False) -> str:
    """How anti-harvester plugins write an address: each character as itself, a decimal or a
    hexadecimal reference, new at every page view; ``nested`` (in an attribute) sometimes escapes
    the ampersand again, which a browser's address bar decodes but visible text would show."""
    forms: list[Callable[[str], str]] = [
        lambda c: c,
        lambda c: f"&#{ord(c)};",
        lambda c: f"&#x{ord(c):x};",
        lambda c: f"&#X{ord(c):X};",
    ]
    forms += [lambda c: f"&amp;#{ord(c)};"] if nested else []
    return "".join(rng.choice(forms)(c) for c in text)


def _percent(text: str, rng: random.Random) -> str:
    return "".join(f"%{ord(c):{rng.choice('xX')}}" if c.isalnum() and rng.random() < 0.5 else c for c in text)


def obfuscated_page(address: str, rng: random.Random) -> bytes:
    """A privacy page whose links are written a new way on each fetch; only ``address`` matters."""
    domain = address.partition("@")[2]
    mailto = _obfuscated(f"{rng.choice(['mailto', 'MAILTO', 'MailTo'])}:{address}", rng, nested=True)
    press = f"mailto:{_percent('press', rng)}%40{rng.choice([domain, domain.upper()])}"
    port = rng.choice(["", ":443"])
    terms = (
        f"https://{rng.choice(['acme.example', 'ACME.example'])}{port}/{rng.choice(['~', '%7E', '%7e'])}terms"
    )
    return f"""<!doctype html><html><head><title>Privacy</title></head><body><main>
<h1>Privacy</h1><p>We will not sell your personal data. Questions: <a href="{mailto}">write to us</a>,
or to <a href="\t{press}\n">the press team</a>. Read <a href="{terms}">the terms</a>.</p>
<p>Our data officer is {_obfuscated("Ada Lovelace", rng)}.</p></main></body></html>""".encode()


def obfuscation_replay(workdir: Path, links: bool, fetches: int = OBFUSCATION_FETCHES) -> Score:
    """Fetches of one page with freshly obfuscated links, and now and then a new address."""
    engine = open_engine(f"sqlite:///{workdir / f'obfuscated-{links}.db'}")
    rng = random.Random(13)
    addresses = ["privacy@acme.example", "dpo@acme.example"]
    measure = Measure(
        Settings(f"obfuscated links, links: {str(links).lower()}", links=links), "address changed", bool
    )
    tp = fp = fn = 0
    try:
        with (
            PageServer().running() as server,
            Fetcher(user_agent="pledge-monitor-benchmark", retries=0) as fetcher,
        ):
            store = Store(engine)
            source = {"id": "obfuscated", "url": server.url("/privacy"), "select": "main", "links": links}
            defaults = {"per_host": 10, "per_host_delay": "0s", "concurrency": 1}
            watchlist = parse_watchlist(yaml.safe_dump({"defaults": defaults, "sources": [source]}))
            clock = ReplayClock()
            current = 0
            for fetch in range(fetches):
                changed = fetch > 0 and fetch % ADDRESS_CHANGE_EVERY == 0
                current = 1 - current if changed else current
                server.put("/privacy", obfuscated_page(addresses[current], rng))
                clock.move_to(clock.now + timedelta(hours=6))
                store.sync(watchlist, clock())
                summary = run_cycle(
                    store, watchlist, fetcher, ["obfuscated"], clock=clock, rng=random.Random(0)
                )
                (record,) = summary.records
                detected = record.outcome == "changed"
                tp, fp, fn = (
                    tp + (changed and detected),
                    fp + (detected and not changed),
                    fn + (changed and not detected),
                )
    finally:
        engine.dispose()
    return Score(measure, tp=tp, fp=fp, fn=fn)


# --- extraction speed ----------------------------------------------------------------------------


def extraction_times(corpus: Path, steps: Sequence[Step], links: bool) -> tuple[list[float], list[int]]:
    """Milliseconds per page (best of 3 runs) over every corpus page, with its document's rules."""
    rules = {step.document: step for step in steps}
    times, sizes = [], []
    for document, step in sorted(rules.items()):
        for page in sorted((corpus / "github-policies" / document).glob("*.html")):
            body = page.read_bytes()
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                extract(
                    body,
                    content_type=CONTENT_TYPE,
                    select=step.select,
                    remove=step.remove,
                    links=links,
                    url=step.url,
                )
                runs.append((time.perf_counter() - started) * 1000)
            times.append(min(runs))
            sizes.append(len(body))
    return times, sizes


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- report --------------------------------------------------------------------------------------


def report(corpus: Path, steps: Sequence[Step], verdicts: Sequence[Verdict]) -> list[str]:
    scores = [score(measure, verdicts) for measure in MEASURES]
    lines = [
        f"{len(steps)} labelled steps of {len(by_document(steps))} documents: "
        f"{sum(s.substantive for s in steps)} substantive, {sum(s.text_changed for s in steps)} with the "
        f"visible text changed, {sum(s.links_changed for s in steps)} with text or link targets changed",
        "",
        HEADER,
        *(s.row() for s in scores),
        "",
        "Wrong steps:",
    ]
    wrong = [
        (measure, v)
        for measure in MEASURES
        if measure.lists_wrong_steps
        for v in verdicts
        if v.settings == measure.settings and v.detected != measure.truth(v.step)
    ]
    for measure, v in wrong:
        kind = "missed" if measure.truth(v.step) else "false alarm"
        lines.append(f"- [{measure.settings.name} vs {measure.truth_name}] {kind}: {v.step.name()}")
        lines.append(f"      {explain(corpus, v)}")
    if not wrong:
        lines.append("- none")
    link_only = [v for v in verdicts if v.step.substantive and not v.step.text_changed]
    silent = sum(not v.detected for v in link_only if v.settings == TEXT)
    caught = sum(v.detected for v in link_only if v.settings == LINKS)
    lines.append(
        f"- (by design: without links, {silent} substantive steps that change only link targets or anchors"
        f" record no change; with links: true, {caught} of them do)"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", help=f"corpus folder (default: ${CORPUS_ENV} or ../shared/corpus)")
    parser.add_argument(
        "--obfuscated-fetches",
        type=int,
        default=OBFUSCATION_FETCHES,
        help="fetches of the obfuscated-links page",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    corpus = corpus_root(args.corpus)
    if not (corpus / CASES).is_file():
        print(f"corpus not found at {corpus}: nothing to measure")
        return 0
    steps = load_steps(corpus)
    print(f"Detection quality: replaying {corpus / CASES} through run_cycle on 127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="pledge-monitor-bench-") as workdir:
        replay_started = time.perf_counter()
        verdicts = replay_all(corpus, steps, Path(workdir))
        replay_seconds = time.perf_counter() - replay_started
    for line in report(corpus, steps, verdicts):
        print(line)
    print()
    print(
        f"Obfuscated link targets (pages of our own): {args.obfuscated_fetches} fetches of one page whose"
        f" links are written a new way on every fetch, the e-mail address changing every"
        f" {ADDRESS_CHANGE_EVERY}:"
    )
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="pledge-monitor-bench-") as workdir:
        for links in (False, True):
            print(obfuscation_replay(Path(workdir), links, args.obfuscated_fetches).row())
    print()
    for links in (False, True):
        times, sizes = extraction_times(corpus, steps, links)
        print(
            f"Extraction{' with links' if links else ''}: {len(times)} pages "
            f"(median {statistics.median(sizes) / 1000:.0f} KB), median {statistics.median(times):.2f} ms, "
            f"p95 {percentile(times, 0.95):.2f} ms, max {max(times):.2f} ms per page (best of 3 runs each)"
        )
    print(
        f"Wall time: {time.perf_counter() - started:.1f} s (replay {replay_seconds:.1f} s: "
        f"{len(verdicts)} steps, {sum(v.checks for v in verdicts)} checks)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
