"""The daily sweep: deadline reminders, expiry, renewals, and sources gone quiet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from monitor.store.repo import Store
from monitor.sweep import deadline_events, run_sweep
from monitor.watchlist import Watchlist, parse_watchlist
from tests.conftest import WriteWatchlist

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
    assert event.kind == "pledge.expiring" and event.details["expires_on"] == "2022-06-10"


def test_a_pledge_added_late_gets_only_the_nearest_reminder() -> None:
    pledge = parse_watchlist(YAML).pledges[0]
    [event] = deadline_events(pledge, date(2021, 6, 5), (30, 7), set())
    assert event.details["reminder"] == 7 and event.details["days_left"] == 5


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
