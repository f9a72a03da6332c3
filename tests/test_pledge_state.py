"""pledge_state: one fold of the events gives the state now and the state over time."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from monitor import pledge_state as ps
from monitor.audit import report as reporter
from monitor.clauses import clause_key
from monitor.cli import main
from monitor.cycle import run_cycle
from monitor.fetch import Fetcher
from monitor.store.audit_queries import AuditStore
from monitor.store.repo import Store
from monitor.sweep import run_sweep
from monitor.watchlist import Watchlist
from tests.conftest import WriteWatchlist
from tests.site import Clock, Site, policy_page

T0 = datetime(2026, 1, 3, 6, 0, tzinfo=UTC)
A, B = "we will not sell it", "we will delete the templates"


@dataclass
class Ev:
    id: int
    kind: str
    created_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    source_id: str | None = "letter"


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def clauses(recorded: dict[tuple[str, str], str], expiry: str | None = None) -> ps.Clauses:
    keys = {(s, clause_key(c)) for s in ("letter", "policy") for c in (A, B)}
    return ps.Clauses(frozenset(keys), {(s, clause_key(c)): v for (s, c), v in recorded.items()}, expiry)


def test_without_events_the_recorded_states_say_it() -> None:
    state = ps.current([], clauses({("letter", A): "exact", ("policy", A): "reworded"}))
    assert (state.state, state.start) == ("reworded", None)


def test_nothing_assessed_is_unknown() -> None:
    assert ps.current([], clauses({("letter", A): "unknown"})).state == "unknown"


def test_the_worst_clause_on_any_source_is_the_pledge_state() -> None:
    """The letter still says it, the policy page reworded it: the pledge is reworded, as alerted."""
    events = [Ev(4, "pledge.reworded", day(3), {"clause": A, "previous_state": "exact"}, "policy")]
    recorded = clauses({("letter", A): "exact", ("policy", A): "reworded"})
    assert [(s.state, s.start, s.event_ids) for s in ps.spans(events, recorded)] == [
        ("intact", None, ()),
        ("reworded", day(3), (4,)),
    ]


def test_restored_on_one_source_while_removed_on_another_stays_removed() -> None:
    events = [
        Ev(
            1,
            "pledge.removed",
            day(2),
            {"clause": A, "previous_state": "exact", "first_missed": day(1).isoformat()},
        ),
        Ev(2, "pledge.weakened", day(3), {"clause": A, "previous_state": "exact"}, "policy"),
        Ev(3, "pledge.restored", day(4), {"clause": A, "previous_state": "weakened"}, "policy"),
    ]
    recorded = clauses({("letter", A): "not_found", ("policy", A): "exact"})
    assert [(s.state, s.start) for s in ps.spans(events, recorded)] == [("intact", None), ("removed", day(1))]


def test_events_of_clauses_no_longer_watched_do_not_count() -> None:
    events = [Ev(1, "pledge.removed", day(2), {"clause": "an old clause", "previous_state": "exact"})]
    assert ps.current(events, clauses({("letter", A): "exact"})).state == "intact"


def test_an_expired_pledge_is_expired_from_its_expiry_event_unless_a_clause_is_worse() -> None:
    expired = Ev(9, "pledge.expired", day(5), {"expires_on": "2026-01-08"})
    recorded = clauses({("letter", A): "exact"}, expiry="2026-01-08")
    assert [(s.state, s.start) for s in ps.spans([expired], recorded)] == [
        ("intact", None),
        ("expired", day(5)),
    ]
    weakened = Ev(10, "pledge.weakened", day(6), {"clause": A, "previous_state": "exact"})
    assert ps.current([expired, weakened], recorded).state == "weakened"


def test_an_expiry_a_renewal_replaced_no_longer_counts() -> None:
    expired = Ev(9, "pledge.expired", day(5), {"expires_on": "2026-01-08"})
    renewed = clauses({("letter", A): "exact"}, expiry="2027-01-08")
    assert ps.current([expired], renewed).state == "intact"


def test_clauses_changing_at_one_instant_are_one_step() -> None:
    at = day(3)
    events = [
        Ev(5, "pledge.reworded", at, {"clause": A, "previous_state": "exact"}),
        Ev(6, "pledge.weakened", at, {"clause": B, "previous_state": "exact"}),
    ]
    recorded = clauses({("letter", A): "reworded", ("letter", B): "weakened"})
    assert [(s.state, s.start, s.event_ids) for s in ps.spans(events, recorded)] == [
        ("intact", None, ()),
        ("weakened", at, (5, 6)),
    ]


# -- status, export, the report and the history agree, through the real pipeline --------------------

STATE_OF_MARK = {"ok": "intact", "REWORDED": "reworded", "WEAKENED": "weakened", "REMOVED": "removed"}
SENTENCE = "We will not sell facial recognition technology to police departments in the United States"


def _article(sentence: str) -> str:
    return f"<h1>Our commitments</h1><p>{sentence}.</p><p>We publish a transparency report every year.</p>"


def _watchlist(write: WriteWatchlist, site: Site, expires_on: str | None = None) -> Watchlist:
    expiry = f"\n    expires_on: {expires_on}" if expires_on else ""
    return write(f"""
defaults: {{per_host: 10, per_host_delay: 0s, confirm_after: 10m}}
sources:
  - id: letter
    url: {site.url("/letter")}
    select: "#policy"
  - id: policy
    url: {site.url("/policy")}
    select: "#policy"
pledges:
  - id: no-police-sales
    company: Example Corp
    title: No facial recognition sales to US police
    made_on: 2020-06-11{expiry}
    sources: [letter, policy]
    clauses: ["{SENTENCE.lower()}"]
""")


def _seen_everywhere(store: Store, wl: Watchlist, tmp_path: Path) -> dict[str, str]:
    """The pledge's state as status, export, the report's badge and page, and history say it."""
    db = ["--watchlist", str(wl.path), "--db", str(store.engine.url)]
    status = CliRunner().invoke(main, [*db, "status"]).output
    line = next(x for x in status.splitlines() if x.strip().startswith("no-police-sales"))
    mark = line.split("Example Corp", 1)[1].split()[0]
    exported = CliRunner().invoke(main, [*db, "export", "--what", "pledges", "--format", "json"]).output
    out = tmp_path / "report"
    reporter.build(AuditStore(store), out, now=datetime(2027, 1, 1, tzinfo=UTC))
    badge = re.search(r'class="state state-[a-z]+">([a-z]+)<', (out / "index.html").read_text())
    page = (out / "pledge" / "no-police-sales.html").read_text()
    page_badge = re.search(r'class="state state-[a-z]+">([a-z]+)<', page)
    history = CliRunner().invoke(main, [*db, "history", "--pledge", "no-police-sales"]).output
    story = history.strip().splitlines()[-1].split("; ")[-1]
    assert badge
    assert page_badge
    return {
        "status": STATE_OF_MARK.get(mark, mark.lower()),
        "export": json.loads(exported)[0]["state"],
        "report": badge.group(1),
        "report page": page_badge.group(1),
        "history": next(
            s for s in (*STATE_OF_MARK.values(), "expired") if story.startswith(s) or f" {s} " in story
        ),
    }


def test_status_export_report_and_history_agree_at_every_moment(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher, tmp_path: Path
) -> None:
    """The letter keeps the clause while the policy page rewords, then weakens it the same day:
    every reader says what the alerts said, and the attestation gives the times."""
    site.put("/letter", policy_page(_article(SENTENCE)))
    site.put("/policy", policy_page(_article(SENTENCE)))
    wl, clock = _watchlist(write_watchlist, site), Clock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))

    def check() -> dict[str, str]:
        store.sync(wl, clock())
        run_cycle(store, wl, fetcher, ["letter", "policy"], clock=clock, rng=random.Random(1))
        return _seen_everywhere(store, wl, tmp_path)

    assert set(check().values()) == {"intact"}
    site.put("/policy", policy_page(_article(SENTENCE.replace("facial recognition", "face recognition"))))
    clock.advance(hours=2)
    assert set(check().values()) == {"reworded"}, "the letter still says it, but the policy page does not"
    site.put("/policy", policy_page(_article("At this time w" + SENTENCE[1:])))
    clock.advance(hours=6)
    assert set(check().values()) == {"weakened"}
    history = CliRunner().invoke(
        main, ["--db", str(store.engine.url), "history", "--pledge", "no-police-sales"]
    )
    assert (
        history.output.strip()
        .splitlines()[-1]
        .endswith(
            "clause intact on every check until 2026-03-01 10:00 UTC; reworded from 2026-03-01 10:00 UTC "
            "(event #1); weakened from 2026-03-01 16:00 UTC (event #2)"
        )
    )
    [pledge] = [p for p in store.pledges() if p.id == "no-police-sales"]
    assert pledge.state_since == clock.now


def test_an_expired_pledge_is_expired_everywhere_and_its_attestation_says_so(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher, tmp_path: Path
) -> None:
    site.put("/letter", policy_page(_article(SENTENCE)))
    site.put("/policy", policy_page(_article(SENTENCE)))
    wl, clock = _watchlist(write_watchlist, site, "2026-03-02"), Clock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    store.sync(wl, clock())
    run_cycle(store, wl, fetcher, ["letter", "policy"], clock=clock, rng=random.Random(1))
    clock.advance(days=2)
    run_sweep(store, wl, clock())
    assert set(_seen_everywhere(store, wl, tmp_path).values()) == {"expired"}
    history = CliRunner().invoke(
        main, ["--db", str(store.engine.url), "history", "--pledge", "no-police-sales"]
    )
    assert (
        history.output.strip()
        .splitlines()[-1]
        .endswith("clause intact on every check until 2026-03-03; expired from 2026-03-03 (event #1)")
    )
