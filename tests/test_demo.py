"""``pledge-monitor demo``: the README's first command tells the whole story, offline, in seconds."""

from __future__ import annotations

import re
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli import main
from monitor.demo.story import render_watchlist
from monitor.demo.timeline import SCENES
from monitor.store.db import open_engine
from monitor.store.repo import Store
from monitor.watchlist import load_watchlist

EVENT = re.compile(r"^   => event #(\d+) \[(\w+)\] ([a-z.]+): (.*)$", re.M)

# The story, event by event: each kind the product raises, in the order the timeline makes them.
STORY = [
    ("pledge.expiring", "Amazon: Moratorium on police use of Rekognition: expires in 30 days (10 June 2021)"),
    ("source.changed", "amazon-moratorium-post: text changed"),
    ("source.failing", "ibm-letter: 3 checks in a row failed"),
    ("source.recovered", "ibm-letter: checks succeed again"),
    ("source.moved", "microsoft-face-limited-access: page moved to"),
    ("pledge.reworded", "IBM: No general purpose facial recognition or analysis software: clause reworded"),
    ("pledge.weakened", "Amazon: Moratorium on police use of Rekognition: clause weakened"),
    ("pledge.expiring", "Example Vision (hypothetical): Hypothetical: a 90-day pause on police use of face"),
    ("pledge.expiring", "Example Vision (hypothetical): Hypothetical: a 90-day pause on police use of face"),
    ("pledge.expired", "Example Vision (hypothetical): Hypothetical: a 90-day pause on police use of face"),
    (
        "pledge.removed",
        "Google: AI applications Google will not pursue (weapons, surveillance): clause removed",
    ),
    (
        "pledge.removed",
        "Google: AI applications Google will not pursue (weapons, surveillance): clause removed",
    ),
]


@dataclass(frozen=True)
class Run:
    result: Result
    seconds: float
    leftovers: list[Path]  # what the demo left in the temporary directory

    @property
    def output(self) -> str:
        return self.result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One run of `pledge-monitor demo`, its temporary files in a directory we can look into."""
    scratch = tmp_path_factory.mktemp("scratch")
    saved, tempfile.tempdir = tempfile.tempdir, str(scratch)
    try:
        started = time.perf_counter()
        result = CliRunner().invoke(main, ["demo"])
        seconds = time.perf_counter() - started
    finally:
        tempfile.tempdir = saved
    return Run(result, seconds, list(scratch.iterdir()))


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    where = tmp_path_factory.mktemp("kept") / "pledge-demo"
    return CliRunner().invoke(main, ["demo", "--keep", str(where)]), where


def scene_text(output: str, title: str) -> str:
    """The part of the output under one scene heading."""
    start = output.index(f" · {title} ")
    end = output.find("\n== ", start)
    return output[start:end]


def test_the_demo_runs_offline_in_under_a_minute_and_cleans_up(demo: Run) -> None:
    assert demo.result.exit_code == 0, demo.output
    assert demo.seconds < 60
    assert demo.leftovers == []  # the temporary database is gone
    assert "http://127.0.0.1:" in demo.output  # its own local servers, no internet


def test_every_kind_of_event_appears_in_the_order_of_the_story(demo: Run) -> None:
    events = [(kind, title) for _, _, kind, title in EVENT.findall(demo.output)]
    assert [kind for kind, _ in events] == [kind for kind, _ in STORY]
    for (_, title), (_, expected) in zip(events, STORY, strict=True):
        assert title.startswith(expected)
    ids = [int(i) for i, *_ in EVENT.findall(demo.output)]
    assert ids == list(range(1, len(STORY) + 1))


def test_the_first_baseline_and_an_unchanged_check(demo: Run) -> None:
    first = scene_text(demo.output, "IBM writes to Congress")
    assert (
        "ibm-letter                               first check: baseline stored; 1 clause found exactly"
        in first
    )
    assert (
        "google-ai-principles                     first check: baseline stored; 2 clauses found exactly"
        in first
    )
    unchanged = scene_text(demo.output, "The next check: nothing changed")
    assert unchanged.count("unchanged: check logged, nothing stored") == 3
    assert "=> event" not in unchanged


def test_an_outage_is_failing_then_recovered_never_a_lapse(demo: Run) -> None:
    outage = scene_text(demo.output, "A bad morning for IBM's web site (illustrative)")
    assert "ibm-letter                               FAILED: HTTP 503 Service Unavailable" in outage
    assert "FAILED: HTTP 503 Service Unavailable (1 in a row; not a lapse)" in outage
    assert "FAILED: timed out after 1s (3 in a row; not a lapse)" in outage
    kinds = [kind for _, _, kind, _ in EVENT.findall(outage)]
    assert kinds == ["source.failing", "source.recovered"]
    assert "pledge." not in "".join(title for *_, title in EVENT.findall(outage))


def test_a_removal_waits_for_the_re_check(demo: Run) -> None:
    removal = scene_text(demo.output, 'Google removes "AI applications we will not pursue"')
    first, recheck = removal.split("-- 10:10 · the re-check")
    assert (
        "google-ai-principles                     text changed: change #4; 2 clauses missing: re-check due"
        in first
    )
    assert "=> event" not in first
    assert [kind for _, _, kind, _ in EVENT.findall(recheck)] == ["pledge.removed", "pledge.removed"]


def test_alerts_go_to_the_console_and_to_the_webhook(demo: Run) -> None:
    weakened = scene_text(demo.output, "Amazon narrows how it describes the moratorium")
    assert "   | [critical] Amazon: Moratorium on police use of Rekognition: clause weakened" in weakened
    assert '   | - scope narrowed: "in connection with criminal investigations"' in weakened
    # info events go to the webhook only (the console route asks for warning and above)
    renewal = scene_text(demo.output, 'Amazon extends the moratorium "until further notice"')
    assert "On the console" not in renewal
    assert "The webhook received 1 alert" in renewal
    received = [int(n) for n in re.findall(r"The webhook received (\d+) alerts?", demo.output)]
    assert sum(received) == len(STORY)
    assert f"   {len(STORY)} alerts, one JSON document each: " in demo.output
    assert '   |     "kind": "pledge.weakened",' in demo.output  # the sample document


def test_the_renewal_is_recorded_and_stops_the_reminders(demo: Run) -> None:
    renewal = scene_text(demo.output, 'Amazon extends the moratorium "until further notice"')
    assert "lines tagged #[renewal] switched on in watchlist.yaml" in renewal
    # without the renewal, the sweep would say pledge.expired on 10 June 2021
    assert "=> event" not in scene_text(demo.output, "The original deadline passes")


def test_status_and_where_to_look_next(demo: Run) -> None:
    status = demo.output[demo.output.index("== Where things stand") :]
    amazon = next(line for line in status.splitlines() if "amazon-rekognition-moratorium" in line)
    assert "WEAKENED" in amazon.upper()
    google = next(line for line in status.splitlines() if "google-applications-not-pursued" in line)
    assert "REMOVED" in google.upper()
    tail = demo.output[demo.output.index("== Where to look next") :]
    assert "pledge-monitor demo --keep pledge-demo" in tail
    assert "     pledge-monitor --db sqlite:///pledge-demo/demo.db history\n" in tail
    weakened = "show 3    # pledge.weakened on amazon-moratorium-post"
    assert f"pledge-monitor --db sqlite:///pledge-demo/demo.db {weakened}" in tail
    assert "pledge-monitor -w pledge-demo/watchlist.yaml --db sqlite:///pledge-demo/demo.db status" in tail


def test_the_kept_database_answers_the_commands_the_demo_suggests(kept: tuple[Result, Path]) -> None:
    result, where = kept
    assert result.exit_code == 0, result.output
    assert (where / "demo.db").exists()
    assert (where / "watchlist.yaml").exists()
    tail = result.output[result.output.index("== Where to look next") :]
    commands = [shlex.split(line.split("#")[0])[1:] for line in tail.splitlines() if line.startswith("     ")]
    assert len(commands) == 7
    assert all(f"sqlite:///{where.resolve()}/demo.db" in c for c in commands)
    outputs = {}
    for args in commands:
        run = CliRunner().invoke(main, args)
        assert run.exit_code == 0, (args, run.output)
        outputs[" ".join(args[2:])] = run.output
    assert "in connection with criminal investigations" in outputs["show 3"]
    assert "pledge.weakened" in outputs["history amazon-moratorium-post"]


def test_the_outage_source_has_no_pledge_event_in_the_database(kept: tuple[Result, Path]) -> None:
    _, where = kept
    engine = open_engine(f"sqlite:///{where / 'demo.db'}")
    try:
        events = Store(engine).events(source_id="ibm-letter")
    finally:
        engine.dispose()
    assert [e.kind for e in events] == ["source.failing", "source.recovered"]


def test_keep_refuses_to_overwrite_a_previous_demo(tmp_path: Path) -> None:
    (tmp_path / "demo.db").write_text("an earlier demo")
    result = CliRunner().invoke(main, ["demo", "--keep", str(tmp_path)])
    assert result.exit_code == 1
    assert f"Error: {tmp_path / 'demo.db'} already exists" in result.output
    assert (tmp_path / "demo.db").read_text() == "an earlier demo"


def test_the_watchlist_switches_lines_on_by_tag() -> None:
    template = "a: 1\n#[x] b: http://demo.invalid/p\n#[y] c: 3\n# a comment\n"
    text = render_watchlist(template, ["x"], "http://127.0.0.1:8", "json://127.0.0.1:9/alerts")
    assert text == "a: 1\nb: http://127.0.0.1:8/p\n#[y] c: 3\n# a comment\n"


def test_the_bundled_watchlist_and_pages_fit_the_timeline(tmp_path: Path) -> None:
    from importlib import resources

    package = resources.files("monitor.demo")
    tags = {tag for scene in SCENES for step in scene.steps for tag in step.enable}
    text = render_watchlist(
        (package / "watchlist.yaml").read_text(), tags, "http://127.0.0.1:8", "json://127.0.0.1:9/alerts"
    )
    (tmp_path / "watchlist.yaml").write_text(text)
    watchlist = load_watchlist(tmp_path / "watchlist.yaml")
    assert len(watchlist.sources) == 8
    assert len(watchlist.pledges) == 7
    assert not any(line.startswith("#[") for line in text.splitlines())
    assert "demo.invalid" not in text
    pages = {r.page for scene in SCENES for step in scene.steps for r in step.site.values() if r.page}
    assert pages
    assert all((package / "pages" / name).is_file() for name in pages)
