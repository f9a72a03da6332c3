"""benchmarks/pledges.py: the harness itself, on a few of its cases (the whole run is `make bench`)."""

from __future__ import annotations

import pytest

from benchmarks import pledges
from benchmarks.pledge_cases import CASES


def test_a_few_cases_are_classified_and_their_alerts_shown(capsys: pytest.CaptureFixture[str]) -> None:
    chosen = [c for c in CASES if c.id in ("ibm-hedge", "microsoft-removed", "amazon-post-moved")]
    assert pledges.run(quiet=False, cases=chosen) == 0
    out = capsys.readouterr().out
    assert "real   3/3 classified right" in out
    assert "noise  3/3 without a pledge event" in out
    assert "fault  3/3 without a pledge event or source.changed" in out
    assert "IBM: ibm-hedge: clause weakened" in out
    assert 'hedge added: "at this time"' in out.lower()
    assert "clause removed" in out
    assert "page moved to" in out


def test_a_wrong_classification_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    from dataclasses import replace

    wrong = replace(next(c for c in CASES if c.id == "ibm-hedge"), expect="reworded")
    assert pledges.run(quiet=True, cases=[wrong]) == 1
    assert "<-- WRONG" in capsys.readouterr().out


def test_there_are_at_least_thirty_cases_with_their_record() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(c.record and c.clause for c in CASES)
