"""Play the timeline against the real pipeline and tell what happened, as a user would see it.

Everything is real but the clock: pages are fetched over HTTP from the demo's local site, checks
are recorded in a real database, the sweep raises deadlines, and alerts go through the outbox to
the console and to a local JSON webhook. Time jumps from scene to scene, so years pass in seconds.
"""

from __future__ import annotations

import io
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from monitor.alerts.deliver import deliver_due
from monitor.checking import CheckResult
from monitor.cycle import run_cycle
from monitor.demo.servers import DemoSite, WebhookReceiver
from monitor.demo.timeline import SCENES, Scene, Step
from monitor.events import EventKind
from monitor.fetch import Fetcher
from monitor.health import status_lines
from monitor.narrate import describe_check, recheck_due, worth_telling
from monitor.store.db import open_engine
from monitor.store.recording import Recorded
from monitor.store.repo import Store
from monitor.watchlist import Watchlist, load_watchlist

Echo = Callable[[str], None]

SITE_PLACEHOLDER = "http://demo.invalid"
HOOK_PLACEHOLDER = "json://demo-hook.invalid/alerts"
DB_NAME = "demo.db"
WATCHLIST_NAME = "watchlist.yaml"
_TAGGED = re.compile(r"#\[([a-z0-9-]+)\] ")


@dataclass
class DemoReport:
    """What the demo did, for its closing lines and for tests."""

    db_url: str
    watchlist_path: Path
    event_kinds: Counter[str] = field(default_factory=Counter)
    events_by_source: dict[str, list[str]] = field(default_factory=dict)
    webhook: list[dict[str, Any]] = field(default_factory=list)
    notable_changes: list[tuple[int, str, str]] = field(default_factory=list)  # change id, source, kind
    elapsed: float = 0.0


def render_watchlist(template: str, tags: Iterable[str], site: str, hook: str) -> str:
    """Switch on the lines of the given tags and point the URLs at the local servers."""
    enabled = set(tags)
    lines = []
    for line in template.splitlines(keepends=True):
        tagged = _TAGGED.match(line)
        if tagged and tagged.group(1) in enabled:
            line = line[tagged.end() :]
        lines.append(line)
    return "".join(lines).replace(SITE_PLACEHOLDER, site).replace(HOOK_PLACEHOLDER, hook)


def run_demo(workdir: Path, echo: Echo, *, kept: bool, scenes: Sequence[Scene] = SCENES) -> DemoReport:
    """Play every scene in ``workdir``; ``kept`` says whether the database outlives the demo."""
    started = time.perf_counter()
    db_path = (workdir / DB_NAME).resolve()
    report = DemoReport(db_url=f"sqlite:///{db_path}", watchlist_path=(workdir / WATCHLIST_NAME).resolve())
    engine = open_engine(report.db_url)
    try:
        with (
            DemoSite() as site,
            WebhookReceiver() as hook,
            Fetcher(user_agent="pledge-monitor-demo", retries=0) as fetcher,
        ):
            play = _Play(Store(engine), site, hook, fetcher, report, echo)
            play.introduce()
            for scene in scenes:
                play.scene(scene)
            report.webhook = list(hook.received)
            play.conclude()
    finally:
        engine.dispose()
    report.elapsed = time.perf_counter() - started
    _where_next(report, echo, kept)
    return report


class _Play:
    """The state of one run of the demo and the telling of it."""

    def __init__(
        self,
        store: Store,
        site: DemoSite,
        hook: WebhookReceiver,
        fetcher: Fetcher,
        report: DemoReport,
        echo: Echo,
    ) -> None:
        self.store, self.site, self.hook, self.fetcher = store, site, hook, fetcher
        self.report, self.echo = report, echo
        self.template = (resources.files("monitor.demo") / WATCHLIST_NAME).read_text(encoding="utf-8")
        self.tags: set[str] = set()
        self.watchlist: Watchlist | None = None
        self.now: datetime | None = None
        self.rng = random.Random(2020)

    # -- the scenes ------------------------------------------------------------------------

    def introduce(self) -> None:
        self.echo("pledge-monitor demo: the 2020 facial recognition pledges, and what became of them")
        self.echo("")
        self.echo("Everything runs on this computer, offline: the companies' pages are served from")
        self.echo(f"{self.site.base} and alerts go to the console and to a JSON webhook at")
        self.echo(f"{self.hook.base}{self.hook.path}. The clock jumps from scene to scene. Dates and")
        self.echo("quoted words follow the public record; the pages are written for the demo, and edits")
        self.echo("marked (illustrative) or (hypothetical) did not happen on those pages as shown.")

    def scene(self, scene: Scene) -> None:
        first = scene.steps[0].at
        self.echo("")
        self.echo(_rule(f"{first.day} {first:%B %Y} · {scene.title}"))
        for line in scene.story:
            self.echo(f"   {line}")
        for step in scene.steps:
            self.step(step)

    def step(self, step: Step) -> None:
        self.now = step.at
        self.site.update(step.site)
        if step.note:
            self.echo("")
            self.echo(f"   -- {step.note}")
        watchlist = self.load(step.enable)
        self.store.sync(watchlist, step.at)
        results: list[CheckResult] = []
        summary = run_cycle(
            self.store,
            watchlist,
            self.fetcher,
            [s.id for s in watchlist.sources],
            clock=lambda: step.at,
            on_result=results.append,
            rng=self.rng,
        )
        self.tell_checks(watchlist, step, results, summary.records)
        self.events([i for r in summary.records for i in r.event_ids])
        self.note_changes(summary.records, results)
        self.sweep(watchlist, step.at)
        self.deliver(watchlist, step.at)

    def tell_checks(
        self, watchlist: Watchlist, step: Step, results: Sequence[CheckResult], recorded: Sequence[Recorded]
    ) -> None:
        """One line per check worth telling (every check when the step asks), in watchlist order."""
        records = {r.source_id: r for r in recorded}
        order = [s.id for s in watchlist.sources]
        self.echo("")
        self.echo(f"   pledge-monitor checked {len(results)} sources:")
        shown = 0
        for result in sorted(results, key=lambda r: order.index(r.source_id)):
            record = records.get(result.source_id)
            if step.show_all or worth_telling(result, record):
                self.echo(f"     {result.source_id:<40} {describe_check(result, record)}")
                shown += 1
        if shown == 0:
            self.echo("     all unchanged")
        elif shown < len(results):
            quiet = len(results) - shown
            self.echo(f"     ({quiet} other{'s' if quiet != 1 else ''} unchanged)")

    def load(self, enable: Sequence[str]) -> Watchlist:
        """Write the watchlist as a maintainer would have it on this day, and load it."""
        if self.watchlist is not None and set(enable) <= self.tags:
            return self.watchlist
        self.tags.update(enable)
        text = render_watchlist(self.template, self.tags, self.site.base, self.hook.apprise_url())
        self.report.watchlist_path.write_text(text, encoding="utf-8")
        if self.watchlist is not None:
            tags = ", ".join(f"#[{tag}]" for tag in enable)
            self.echo(f"   (the maintainer's edit: lines tagged {tags} switched on in {WATCHLIST_NAME})")
        self.watchlist = load_watchlist(self.report.watchlist_path)
        return self.watchlist

    def events(self, ids: Sequence[int]) -> None:
        for event in self.store.events_by_ids(ids):
            self.report.event_kinds[event.kind] += 1
            self.report.events_by_source.setdefault(event.source_id or "", []).append(event.kind)
            self.echo(f"   => event #{event.id} [{event.severity}] {event.kind}: {event.title}")

    def note_changes(self, records: Sequence[Recorded], results: Sequence[CheckResult]) -> None:
        """Remember each change with what it meant, for the closing hints."""
        missing = {r.source_id for r in results if recheck_due(r)}
        for record in records:
            if record.change_id is None:
                continue
            kinds = [e.kind for e in self.store.events_by_ids(record.event_ids)]
            kind = (
                kinds[0] if kinds else EventKind.PLEDGE_REMOVED if record.source_id in missing else "change"
            )
            self.report.notable_changes.append((record.change_id, record.source_id, kind))

    def sweep(self, watchlist: Watchlist, now: datetime) -> None:
        try:
            from monitor.sweep import run_sweep
        except ImportError:  # an older build: no deadline events to show
            return
        ids = run_sweep(self.store, watchlist, now)
        if ids:
            self.echo("   the daily sweep (deadlines, quiet sources):")
            self.events(ids)

    def deliver(self, watchlist: Watchlist, now: datetime) -> None:
        console = io.StringIO()
        before = self.hook.count()
        summary = deliver_due(self.store, watchlist, now=now, env={}, stream=console, worker="demo")
        text = console.getvalue().strip()
        if text:
            self.echo("")
            self.echo("   On the console (route 'console', warning and above):")
            for line in text.splitlines():
                self.echo(f"   | {line}".rstrip())
        received = self.hook.count() - before
        if received or summary.errors:
            noun = "alert" if received == 1 else "alerts"
            self.echo(f"   The webhook received {received} {noun} (route 'webhook', every event).")
        for error in summary.errors:
            self.echo(f"   delivery problem: {error}")

    # -- the end ---------------------------------------------------------------------------

    def conclude(self) -> None:
        assert self.watchlist is not None
        assert self.now is not None
        self.echo("")
        self.echo(_rule("Where things stand: pledge-monitor status"))
        for line in status_lines(self.store, self.now):
            self.echo(f"   {line}")
        self.echo("")
        self.echo(_rule("What the webhook received"))
        received = self.report.webhook
        kinds = Counter(str(doc.get("alert", {}).get("kind")) for doc in received)
        self.echo(f"   {len(received)} alerts, one JSON document each: " + _counted(kinds))
        sample = next(
            (d for d in received if d.get("alert", {}).get("kind") == EventKind.PLEDGE_WEAKENED), None
        )
        if sample is not None:
            self.echo("   For example, the weakened Amazon pledge (abridged):")
            for line in json.dumps(_abridged(sample), indent=2, ensure_ascii=False).splitlines():
                self.echo(f"   | {line}")


def hints(report: DemoReport, db_url: str, watchlist_path: str) -> list[str]:
    """Commands to explore the demo's database, with the real change ids of this run."""
    base = f"pledge-monitor --db {db_url}"
    lines = [f"{base} history", f"{base} history amazon-moratorium-post"]
    seen: set[str] = set()
    for change_id, source_id, kind in report.notable_changes:
        if kind in seen or kind == "change":
            continue
        seen.add(kind)
        lines.append(f"{base} show {change_id}    # {kind} on {source_id}")
    lines.append(f"pledge-monitor -w {watchlist_path} --db {db_url} status")
    return lines


def _where_next(report: DemoReport, echo: Echo, kept: bool) -> None:
    echo("")
    echo(_rule("Where to look next"))
    if kept:
        echo(f"   The database and the watchlist are kept in {report.watchlist_path.parent}:")
        lines = hints(report, report.db_url, str(report.watchlist_path))
    else:
        echo("   The demo's database was temporary. Keep it with `pledge-monitor demo --keep pledge-demo`,")
        echo("   then try (the ids are the same on every run):")
        lines = hints(report, f"sqlite:///pledge-demo/{DB_NAME}", f"pledge-demo/{WATCHLIST_NAME}")
    for line in lines:
        echo(f"     {line}")
    echo("   (The demo's local servers are gone: these commands read the database, they fetch nothing.)")
    echo(f"   The demo took {report.elapsed:.1f} s.")


def _rule(title: str, width: int = 96) -> str:
    head = f"== {title} "
    return head + "=" * max(3, width - len(head))


def _counted(kinds: Counter[str]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))


def _abridged(document: dict[str, Any]) -> dict[str, Any]:
    alert = dict(document.get("alert") or {})
    details = dict(alert.get("details") or {})
    keep = ("clause", "passage", "similarity", "signals")
    alert["details"] = {k: details[k] for k in keep if k in details}
    if "signals" in alert["details"]:
        alert["details"]["signals"] = [s.get("explanation", s) for s in alert["details"]["signals"]]
    return {"title": document.get("title"), "type": document.get("type"), "alert": alert}
