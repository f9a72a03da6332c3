"""The daily sweep: deadline reminders, expiry, renewals, and sources gone quiet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from monitor.fetch import Fetcher
from monitor.store.repo import Store
from monitor.sweep import deadline_events, run_sweep
from monitor.watchlist import Watchlist, parse_watchlist
from tests.conftest import WriteWatchlist
from tests.site import Site
from tests.test_noise import Checker

BOTH_BACKENDS = True  # the store's behaviour is tested on SQLite and on PostgreSQL

YAML = """
defaults:
  expiry_reminders: [30, 7]
  stale_after: 3d
routes:
  console:
    urls: ["console://"]
sources:
  - id: amazon-post
    url: https://www.aboutamazon.com/news/policy-news-views/moratorium
pledges:
  - id: amazon-moratorium
    company: Amazon
    title: Moratorium on police use of Rekognition
    made_on: 2020-06-10
    expires_on: 2021-06-10
    sources: [amazon-post]
    clauses: ["a one-year moratorium on police use of Amazon's facial recognition technology"]
"""


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=6, tzinfo=UTC)


def kinds(store: Store) -> list[tuple[str, int | None]]:
    return [(e.kind, e.details.get("days_left")) for e in store.events()]


def test_reminders_then_expiry_each_once(write_watchlist: WriteWatchlist, store: Store) -> None:
    wl = write_watchlist(YAML)
    store.sync(wl, at("2021-05-01"))
    for day in [
        "2021-05-01",
        "2021-05-11",
        "2021-05-12",
        "2021-06-03",
        "2021-06-04",
        "2021-06-10",
        "2021-06-11",
    ]:
        run_sweep(store, wl, at(day))
    assert kinds(store) == [("pledge.expiring", 30), ("pledge.expiring", 7), ("pledge.expired", 0)]
    assert next(p for p in store.pledges()).state == "expired"
    titles = [e.title for e in store.events()]
    assert titles[0] == "Amazon: Moratorium on police use of Rekognition: expires in 30 days (10 June 2021)"
    assert [a.route for e in store.events() for a in _alerts(store, e.id)] == ["console"] * 3


def _alerts(store: Store, event_id: int) -> list:  # type: ignore[type-arg]
    from monitor.store.outbox import alerts_of_events

    return alerts_of_events(store.engine, [event_id])


def test_a_renewal_stops_the_expiry(write_watchlist: WriteWatchlist, store: Store) -> None:
    renewed = YAML.replace(
        "    expires_on: 2021-06-10\n",
        "    expires_on: 2021-06-10\n"
        '    renewed: {until: indefinite, on: 2021-05-18, note: "extended until further notice"}\n',
    )
    wl = write_watchlist(renewed)
    store.sync(wl, at("2021-05-01"))
    for day in ["2021-06-03", "2021-06-10", "2022-01-01"]:
        run_sweep(store, wl, at(day))
    assert kinds(store) == []


def test_a_renewal_until_a_date_moves_the_deadline() -> None:
    wl = parse_watchlist(
        YAML.replace(
            "    expires_on: 2021-06-10\n",
            "    expires_on: 2021-06-10\n    renewed: {until: 2022-06-10, on: 2021-05-18}\n",
        )
    )
    pledge = wl.pledges[0]
    assert deadline_events(pledge, date(2021, 6, 10), (30, 7), set()) == []
    [event] = deadline_events(pledge, date(2022, 6, 3), (30, 7), set())
    assert event.kind == "pledge.expiring"
    assert event.details["expires_on"] == "2022-06-10"


def test_a_pledge_added_late_gets_only_the_nearest_reminder() -> None:
    pledge = parse_watchlist(YAML).pledges[0]
    [event] = deadline_events(pledge, date(2021, 6, 5), (30, 7), set())
    assert event.details["reminder"] == 7
    assert event.details["days_left"] == 5


def test_no_deadline_no_events() -> None:
    wl: Watchlist = parse_watchlist(YAML.replace("    expires_on: 2021-06-10\n", ""))
    assert deadline_events(wl.pledges[0], date(2030, 1, 1), (30, 7), set()) == []


def test_a_source_with_no_good_check_for_too_long_is_failing_once(
    write_watchlist: WriteWatchlist, store: Store
) -> None:
    wl = write_watchlist(YAML.replace("    expires_on: 2021-06-10\n", ""))
    now = at("2026-03-01")
    store.sync(wl, now)
    with store.session.begin() as s:
        from monitor.store import models as m

        row = s.get(m.Source, "amazon-post")
        assert row is not None
        row.last_check_at, row.last_good_at = now, now - timedelta(days=4)
    run_sweep(store, wl, now)
    run_sweep(store, wl, now + timedelta(days=1))
    events = store.events()
    assert [e.kind for e in events] == ["source.failing"]
    assert events[0].details["stale"] is True
    assert store.source_row("amazon-post").health == "failing"


def test_a_new_source_that_never_worked_is_failing_only_after_stale_after(
    write_watchlist: WriteWatchlist, store: Store
) -> None:
    """`check` runs the sweep after every check: a first failure is not yet "no good check for 3 days"."""
    from monitor.store import models as m

    wl = write_watchlist(YAML.replace("    expires_on: 2021-06-10\n", ""))
    now = at("2026-03-01")
    store.sync(wl, now)
    with store.session.begin() as s:
        row = s.get(m.Source, "amazon-post")
        assert row is not None
        row.last_check_at = now
        s.add(m.Check(source_id="amazon-post", at=now, ms=5, status=503, outcome="failed", error="HTTP 503"))
    assert run_sweep(store, wl, now) == []
    assert run_sweep(store, wl, now + timedelta(days=2)) == []
    (event_id,) = run_sweep(store, wl, now + timedelta(days=3, seconds=1))
    (event,) = store.events()
    assert (event.id, event.kind, event.title) == (
        event_id,
        "source.failing",
        "amazon-post: no good check ever",
    )


def test_a_source_that_keeps_failing_is_reminded_until_it_recovers(
    site: Site, write_watchlist: WriteWatchlist, store: Store, fetcher: Fetcher
) -> None:
    """One source.failing at the start of a long outage is not enough: it is said again every
    failing_reminder, with the reason, in the daily sweep, and no more once the source recovers."""
    wl = write_watchlist(
        f"""
        defaults:
          {{per_host: 10, per_host_delay: 0s, failing_after: 2, failing_reminder: 3d, stale_after: 30d}}
        sources:
          - {{id: policy, url: "{site.url("/policy")}", select: main}}
        """
    )
    check = Checker(store, wl, fetcher)  # one check a day, at midnight
    site.put("/policy", "<main><p>We will not sell it.</p></main>")
    assert check() == {"policy": "baseline"}
    site.put("/policy", "<main><div class='app'></div></main>")
    for _ in range(8):
        assert check() == {"policy": "failed"}
        run_sweep(store, wl, datetime(2026, 3, 1, 6, tzinfo=UTC) + timedelta(days=check.day))
    failing = [e for e in store.events() if e.kind == "source.failing"]
    assert [(e.created_at.day, e.details.get("reminder", False)) for e in failing] == [
        (4, False),  # the second failed check in a row
        (7, True),
        (10, True),
    ]
    reminder = failing[1]
    assert reminder.details["failures"] == 5
    assert "selector 'main' matched only empty elements" in reminder.details["last_error"]
    assert reminder.title.startswith(
        "policy: still failing, no good check since 2026-03-02 00:00 UTC (5 failed in a row): selector 'main'"
    )
    site.put("/policy", "<main><p>We will not sell it.</p></main>")
    assert check() == {"policy": "unchanged"}  # the page as it was before the outage
    for day in range(4):
        run_sweep(store, wl, datetime(2026, 3, 11, 6, tzinfo=UTC) + timedelta(days=day))
    kinds = [e.kind for e in store.events() if e.kind.startswith("source.")]
    assert kinds == ["source.failing", "source.failing", "source.failing", "source.recovered"]
