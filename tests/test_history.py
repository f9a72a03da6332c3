"""history: runs of checks, the clause story, the attestation summary, and the command."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from monitor import pledge_state
from monitor.audit import history as h
from monitor.clauses import clause_key
from monitor.cli import main
from monitor.store.audit_queries import CheckRow
from monitor.store.db import open_engine
from tests.audit_history import PLEDGE, Recorded, copy_of, record

T0 = datetime(2026, 1, 3, 6, 0, tzinfo=UTC)


def check(i: int, source: str = "a", outcome: str = "unchanged", snapshot: int | None = None) -> CheckRow:
    return CheckRow(i, source, T0 + timedelta(hours=6 * i), outcome, 200, snapshot, None)


@dataclass
class Ev:
    id: int
    kind: str
    created_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    severity: str = "high"
    source_id: str | None = "a"
    change_id: int | None = None
    title: str = "t"


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


CLAUSE = "we will not sell it"


def spans(
    events: list[Ev], recorded: str = "exact", clauses: tuple[str, ...] = (CLAUSE,)
) -> list[h.ClauseSpan]:
    """The pledge's spans from its events, its clauses recorded in ``recorded`` state on source a."""
    keys = {("a", clause_key(c)) for c in clauses}
    return pledge_state.spans(events, pledge_state.Clauses(frozenset(keys), dict.fromkeys(keys, recorded)))


def about(details: dict[str, Any], clause: str = CLAUSE) -> dict[str, Any]:
    return {"clause": clause, **details}


# -- runs -----------------------------------------------------------------------------------------


def test_a_new_snapshot_or_a_change_of_outcome_class_starts_a_run() -> None:
    rows = [
        check(1, outcome="baseline", snapshot=1),
        check(2),
        check(3, outcome="not_modified"),
        check(4, outcome="failed"),
        check(5, outcome="failed"),
        check(6, outcome="same_text"),
        check(7, outcome="changed", snapshot=2),
        check(8),
    ]
    found = list(h.runs(rows))
    assert [(r.kind, r.snapshot_id, r.first_id, r.last_id, r.count, r.new_snapshot) for r in found] == [
        ("fetched", 1, 1, 3, 3, True),
        ("failed", 1, 4, 5, 2, False),
        ("fetched", 1, 6, 6, 1, False),
        ("fetched", 2, 7, 8, 2, True),
    ]


def test_runs_never_span_two_sources() -> None:
    rows = [check(1, "a", "baseline", 1), check(2, "a"), check(3, "b", "unchanged"), check(4, "b")]
    found = list(h.runs(rows))
    assert [(r.source_id, r.snapshot_id, r.count) for r in found] == [("a", 1, 2), ("b", None, 2)]


def test_a_run_tells_the_note_its_checks_kept() -> None:
    repaired = "the page needed repair: unclosed <iframe> in <body>"
    rows = [check(1, outcome="baseline", snapshot=1), check(2)._replace(note=repaired), check(3)]
    (run,) = h.runs(rows)
    assert run.note == repaired
    assert (
        h.describe_run(run)
        == f"a: new text stored as snapshot #1, then 2 more with the same text; note: {repaired}"
    )
    (plain,) = h.runs([check(1, outcome="baseline", snapshot=1), check(2)])
    assert h.describe_run(plain) == "a: new text stored as snapshot #1, then 1 more with the same text"


def test_runs_stream_without_holding_the_checks() -> None:
    def endless() -> Any:
        i = 0
        while True:
            i += 1
            yield check(i, snapshot=i if i % 1000 == 1 else None)

    first_two = []
    for run in h.runs(endless()):
        first_two.append(run)
        if len(first_two) == 2:
            break
    assert [r.count for r in first_two] == [1000, 1000]


# -- the clause story -----------------------------------------------------------------------------


def test_the_summary_quotes_the_clause_story_in_plain_words() -> None:
    events = [
        Ev(7, "pledge.weakened", day(254), about({"previous_state": "exact"})),
        Ev(9, "pledge.restored", day(300), about({"previous_state": "weakened"})),
        Ev(8, "source.changed", day(260)),
    ]
    runs = [
        h.Run("a", "fetched", 1, 1, day(0), 300, day(200), 300, True),
        h.Run("a", "failed", 1, 301, day(201), 302, day(202), 2, False),
        h.Run("a", "fetched", 1, 303, day(203), 412, day(321), 110, False),
    ]
    assert h.attest(runs, spans(events)).text() == (
        "checked 412 times between 2026-01-03 and 2026-11-20 (2 failed); clause intact on every successful "
        "check until 2026-09-14; weakened from 2026-09-14 (event #7); intact again from 2026-10-30 (event #9)"
    )


def test_without_failures_or_events_the_clause_held_on_every_check() -> None:
    runs = [h.Run("a", "fetched", 1, 1, day(0), 412, day(321), 412, True)]
    assert h.attest(runs, spans([])).text() == (
        "checked 412 times between 2026-01-03 and 2026-11-20; clause intact on every check"
    )


def test_a_removal_counts_from_the_first_check_that_missed_the_clause() -> None:
    first_missed = day(10).isoformat()
    events = [Ev(3, "pledge.removed", day(11), about({"first_missed": first_missed}))]
    assert [(s.state, s.start, s.end) for s in spans(events, "not_found")] == [
        ("intact", None, day(10)),
        ("removed", day(10), None),
    ]


def test_clauses_that_change_together_are_one_step_of_the_story() -> None:
    other = "we will delete the templates"
    events = [
        Ev(11, "pledge.removed", day(30), about({"first_missed": day(29).isoformat()})),
        Ev(12, "pledge.removed", day(30), about({"first_missed": day(29).isoformat()}, other)),
    ]
    runs = [h.Run("a", "fetched", 1, 1, day(0), 40, day(31), 40, True)]
    assert h.attest(runs, spans(events, "not_found", (CLAUSE, other)), clauses=2).text() == (
        "checked 40 times between 2026-01-03 and 2026-02-03; clauses intact on every check until 2026-02-01; "
        "removed from 2026-02-01 (events #11, #12)"
    )


def test_same_day_transitions_show_their_times() -> None:
    events = [
        Ev(4, "pledge.weakened", day(10.25), about({"previous_state": "exact"})),
        Ev(5, "pledge.restored", day(10.5), about({"previous_state": "weakened"})),
    ]
    runs = [h.Run("a", "fetched", 1, 1, day(0), 40, day(11), 40, True)]
    assert h.attest(runs, spans(events)).text() == (
        "checked 40 times between 2026-01-03 and 2026-01-14; clause intact on every check until "
        "2026-01-13 12:00 UTC; weakened from 2026-01-13 12:00 UTC (event #4); intact again from "
        "2026-01-13 18:00 UTC (event #5)"
    )


def test_an_expired_pledge_says_so_in_its_attestation() -> None:
    events = [Ev(6, "pledge.expired", day(20), {"expires_on": "2026-01-23"})]
    keys = frozenset({("a", clause_key(CLAUSE))})
    clauses = pledge_state.Clauses(keys, dict.fromkeys(keys, "exact"), "2026-01-23")
    runs = [h.Run("a", "fetched", 1, 1, day(0), 40, day(25), 40, True)]
    assert h.attest(runs, pledge_state.spans(events, clauses)).text() == (
        "checked 40 times between 2026-01-03 and 2026-01-28; clause intact on every check until "
        "2026-01-23; expired from 2026-01-23 (event #6)"
    )


def test_a_window_starts_in_the_state_the_clause_was_in_then() -> None:
    events = [Ev(7, "pledge.reworded", day(5), about({"previous_state": "exact"}))]
    clipped = h.clip(spans(events, "reworded"), day(8))
    runs = [h.Run("a", "fetched", 1, 1, day(8), 4, day(9), 4, False)]
    assert h.attest(runs, clipped, clauses=2).text() == (
        "checked 4 times between 2026-01-11 and 2026-01-12; clauses reworded on every check"
    )


def test_nothing_checked_says_so() -> None:
    assert h.attest([], spans([], "unknown")).text() == "not checked yet"


# -- the command, on a recorded history -------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def db(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_of(recorded, tmp_path_factory.mktemp("db"))


def run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "history", *args])


def test_history_of_a_pledge_is_a_short_timeline_and_the_attestation(db: Path) -> None:
    result = run(db, "--pledge", PLEDGE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "2026-01-03 06:00 .. 2026-01-08 00:00  "
        "policy: new text stored as snapshot #1, then 19 more with the same text"
    )
    assert (
        '2026-01-13 12:00                      change #2 policy: +1 word, -0 words: added "currently"'
        in lines
    )
    assert any(
        line.endswith(
            "pledge.weakened: Example Corp: No facial recognition sales to US police: clause weakened"
        )
        for line in lines
    )
    assert len(lines) == 12  # 4 runs (59 checks), 3 changes, 3 events, a blank line, the summary
    assert lines[-1] == (
        f"pledge {PLEDGE}: checked 59 times between 2026-01-03 and 2026-01-17; clause intact on every check "
        "until 2026-01-13; weakened from 2026-01-13 (event #4); intact again from 2026-01-16 (event #5)"
    )


def test_history_of_a_source_counts_failures_and_its_own_events(db: Path) -> None:
    result = run(db, "--source", "news")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "source news: checked 59 times between 2026-01-03 and 2026-01-17 (3 failed); text never changed"
    )
    assert "source.failing: news: 3 checks in a row failed" in result.output
    assert "news: 3 checks failed (http://" in result.output
    assert "pledge.weakened" not in result.output


def test_the_source_may_be_given_as_an_argument(db: Path) -> None:
    assert run(db, "news").output == run(db, "--source", "news").output


def test_since_narrows_the_window_and_keeps_the_clause_state_at_its_start(db: Path) -> None:
    result = run(db, "--pledge", PLEDGE, "--since", "2026-01-14")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        f"pledge {PLEDGE}: checked 16 times between 2026-01-14 and 2026-01-17; clause weakened on every "
        "check until 2026-01-16; intact again from 2026-01-16 (event #5)"
    )
    assert "change #2" not in result.output
    assert "change #3" in result.output


def test_history_of_everything_ends_with_one_line_per_pledge(db: Path) -> None:
    result = run(db)
    assert result.exit_code == 0, result.output
    tail = result.output.splitlines()[-2:]
    assert (
        tail[0]
        == "all sources: checked 118 times between 2026-01-03 and 2026-01-17 (3 failed); text changed 3 times"
    )
    assert tail[1].startswith(f"pledge {PLEDGE}: checked 59 times")


def test_limit_keeps_the_latest_lines(db: Path) -> None:
    lines = run(db, "--pledge", PLEDGE, "-n", "2").output.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("2026-01-16 00:00  ")


def test_unknown_ids_and_two_scopes_are_clear_errors(db: Path) -> None:
    result = run(db, "--pledge", "no-such-pledge")
    assert result.exit_code == 1
    assert (
        result.output == "Error: no pledge 'no-such-pledge' in the database (see `pledge-monitor status`)\n"
    )
    result = run(db, "--pledge", PLEDGE, "--source", "news")
    assert result.exit_code == 2
    assert "give --pledge or --source, not both" in result.output


def test_an_empty_database_says_how_to_start(tmp_path: Path) -> None:
    open_engine(f"sqlite:///{tmp_path / 'empty.db'}").dispose()  # migrated, nothing recorded
    result = run(tmp_path / "empty.db")
    assert result.exit_code == 0
    assert result.output == "No history yet: run `pledge-monitor check`.\n"
