"""The outbox state machine: claims, leases, results; on SQLite, and on PostgreSQL when reachable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.audit import chain
from monitor.events import Severity
from monitor.lifecycle import EventDraft
from monitor.store import models as m
from monitor.store import outbox
from monitor.store.repo import Store
from monitor.watchlist import Watchlist
from tests.pg import pg_store

__all__ = ["pg_store"]  # a fixture, used below

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
LEASE = timedelta(minutes=15)

WATCHLIST = """
    routes:
      team:
        urls: console://
    sources:
      - id: amazon-post
        url: https://www.aboutamazon.com/news/moratorium
    pledges:
      - id: amazon-rekognition-moratorium
        company: Amazon
        title: Moratorium on police use of Rekognition
        made_on: 2020-06-10
        sources: [amazon-post]
        clauses: ["a one-year moratorium on police use of facial recognition"]
"""


@pytest.fixture
def watchlist(write_watchlist: Callable[[str], Watchlist]) -> Watchlist:
    return write_watchlist(WATCHLIST)


def add_events(store: Store, watchlist: Watchlist, count: int, at: datetime = T0) -> list[int]:
    drafts = [
        EventDraft(
            kind="source.changed",
            severity=Severity.INFO,
            title=f"amazon-post: text changed ({n})",
            pledge_id=None,
            source_id="amazon-post",
            details={"url": "https://www.aboutamazon.com/news/moratorium", "summary": f"+{n} words"},
        )
        for n in range(count)
    ]
    return store.add_events(drafts, watchlist, at)


def alert_rows(store: Store) -> list[m.Alert]:
    with Session(store.engine) as s:
        return list(s.scalars(select(m.Alert).order_by(m.Alert.id)))


def test_each_event_has_one_pending_alert_per_route(store: Store, watchlist: Watchlist) -> None:
    add_events(store, watchlist, 2)
    rows = alert_rows(store)
    assert [(r.route, r.status, r.attempts, r.next_attempt_at) for r in rows] == [
        ("team", "pending", 0, T0)
    ] * 2
    assert outbox.alert_counts(store.engine) == {
        "pending": 2,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "muted": 0,
    }


def test_claim_takes_due_alerts_once_with_a_lease(store: Store, watchlist: Watchlist) -> None:
    add_events(store, watchlist, 3)
    add_events(store, watchlist, 1, at=T0 + timedelta(hours=1))  # not due yet
    first = outbox.claim_due(store.engine, now=T0, worker="a", lease=LEASE, batch=2)
    second = outbox.claim_due(store.engine, now=T0, worker="b", lease=LEASE)
    assert [i.attempts for i in first] == [1, 1]
    assert len(second) == 1
    assert not {i.alert_id for i in first} & {i.alert_id for i in second}
    assert first[0].fresh
    assert first[0].event.title == "amazon-post: text changed (0)"
    rows = alert_rows(store)
    assert [(r.status, r.claimed_by) for r in rows] == [
        ("sending", "a"),
        ("sending", "a"),
        ("sending", "b"),
        ("pending", None),
    ]
    assert rows[0].claimed_until == T0 + LEASE
    assert (
        outbox.claim_due(store.engine, now=T0 + LEASE - timedelta(seconds=1), worker="c", lease=LEASE) == []
    )


def test_an_abandoned_claim_is_taken_again_after_its_lease(store: Store, watchlist: Watchlist) -> None:
    add_events(store, watchlist, 1)
    (lost,) = outbox.claim_due(store.engine, now=T0, worker="crashed", lease=LEASE)
    assert outbox.begin(store.engine, [lost.alert_id], worker="crashed") == {lost.alert_id}  # then died
    (again,) = outbox.claim_due(store.engine, now=T0 + LEASE, worker="restarted", lease=LEASE)
    assert again.alert_id == lost.alert_id
    assert again.attempts == 2
    assert not again.fresh
    outbox.mark_sent(store.engine, [again.alert_id], T0 + LEASE)
    assert outbox.claim_due(store.engine, now=T0 + timedelta(days=30), worker="x", lease=LEASE) == []


def test_a_sent_alert_is_never_sent_again(store: Store, watchlist: Watchlist) -> None:
    add_events(store, watchlist, 1)
    (item,) = outbox.claim_due(store.engine, now=T0, worker="a", lease=LEASE)
    outbox.mark_sent(store.engine, [item.alert_id], T0)
    # a late result from a worker whose lease ran out must not undo "sent"
    outbox.mark_retry(store.engine, [item.alert_id], worker="a", next_at=T0, progress=outbox.Progress())
    outbox.mark_failed(store.engine, [item.alert_id], worker="a", progress=outbox.Progress())
    outbox.requeue(store.engine, now=T0, include_failed=True)
    (row,) = alert_rows(store)
    assert (row.status, row.sent_at, row.claimed_by) == ("sent", T0, None)
    assert outbox.claim_due(store.engine, now=T0 + timedelta(days=1), worker="b", lease=LEASE) == []


def test_retry_keeps_progress_and_waits_for_its_time(store: Store, watchlist: Watchlist) -> None:
    add_events(store, watchlist, 1)
    (item,) = outbox.claim_due(store.engine, now=T0, worker="a", lease=LEASE)
    outbox.begin(store.engine, [item.alert_id], worker="a")
    later = T0 + timedelta(minutes=1)
    progress = outbox.Progress(frozenset({0}), "json://127.0.0.1/***: error=500")
    outbox.mark_retry(store.engine, [item.alert_id], worker="a", next_at=later, progress=progress)
    assert outbox.claim_due(store.engine, now=later - timedelta(seconds=1), worker="a", lease=LEASE) == []
    (again,) = outbox.claim_due(store.engine, now=later, worker="a", lease=LEASE)
    assert again.progress == progress
    assert again.attempts == 2


def test_results_of_another_workers_claim_are_ignored(store: Store, watchlist: Watchlist) -> None:
    add_events(store, watchlist, 1)
    (item,) = outbox.claim_due(store.engine, now=T0, worker="slow", lease=LEASE)
    outbox.claim_due(store.engine, now=T0 + LEASE, worker="fast", lease=LEASE)
    outbox.mark_failed(store.engine, [item.alert_id], worker="slow", progress=outbox.Progress())
    (row,) = alert_rows(store)
    assert (row.status, row.claimed_by) == ("sending", "fast")


def test_only_a_send_that_began_counts_as_an_attempt(store: Store, watchlist: Watchlist) -> None:
    """A worker killed with a batch claimed made one attempt at most: the send it had begun."""
    add_events(store, watchlist, 3)
    batch = outbox.claim_due(store.engine, now=T0, worker="killed", lease=LEASE)
    assert outbox.begin(store.engine, [batch[0].alert_id], worker="killed") == {batch[0].alert_id}
    assert outbox.release_claims(store.engine, of=["killed"]) == 3  # proven gone: taken back at once
    again = outbox.claim_due(store.engine, now=T0, worker="next", lease=LEASE)
    assert [(i.attempts, i.fresh) for i in again] == [(2, False), (1, True), (1, True)]


def test_a_lost_claim_is_not_begun(store: Store, watchlist: Watchlist) -> None:
    add_events(store, watchlist, 1)
    (item,) = outbox.claim_due(store.engine, now=T0, worker="slow", lease=LEASE)
    outbox.release_claims(store.engine, of=["slow"])  # taken for dead
    outbox.claim_due(store.engine, now=T0, worker="other", lease=LEASE)
    assert outbox.begin(store.engine, [item.alert_id], worker="slow") == set()
    (row,) = alert_rows(store)
    assert (row.status, row.claimed_by, row.attempts) == ("sending", "other", 0)


def test_renew_and_release_claims_touch_only_the_named_workers(store: Store, watchlist: Watchlist) -> None:
    add_events(store, watchlist, 3)
    outbox.claim_due(store.engine, now=T0, worker="a", lease=LEASE, batch=1)
    outbox.claim_due(store.engine, now=T0, worker="b", lease=LEASE, batch=1)
    outbox.claim_due(store.engine, now=T0, worker="c", lease=LEASE, batch=1)
    later = T0 + timedelta(minutes=5)
    assert outbox.renew(store.engine, worker="a", until=later + LEASE) == 1
    assert [(r.claimed_by, r.claimed_until) for r in alert_rows(store)] == [
        ("a", later + LEASE),
        ("b", T0 + LEASE),
        ("c", T0 + LEASE),
    ]
    assert outbox.release_claims(store.engine, of=[]) == 0
    assert outbox.release_claims(store.engine, of=["b"]) == 1
    assert [(r.status, r.claimed_by) for r in alert_rows(store)] == [
        ("sending", "a"),
        ("pending", None),
        ("sending", "c"),
    ]
    assert outbox.release_claims(store.engine, of=None) == 2  # SQLite, lock held: everyone else is gone
    assert outbox.alert_counts(store.engine)["sending"] == 0


def test_hold_and_release_count_no_attempt(store: Store, watchlist: Watchlist) -> None:
    add_events(store, watchlist, 2)
    a, b = outbox.claim_due(store.engine, now=T0, worker="w", lease=LEASE)
    tomorrow = T0 + timedelta(hours=22)
    outbox.hold(store.engine, [a.alert_id], worker="w", until=tomorrow)
    outbox.release(store.engine, [b.alert_id], worker="w")
    rows = alert_rows(store)
    assert [(r.status, r.attempts, r.next_attempt_at) for r in rows] == [
        ("pending", 0, tomorrow),
        ("pending", 0, T0),
    ]
    (again,) = outbox.claim_due(store.engine, now=T0, worker="w", lease=LEASE)
    assert again.alert_id == b.alert_id
    assert again.fresh


def test_requeue_brings_back_retries_and_failed_ones(store: Store, watchlist: Watchlist) -> None:
    add_events(store, watchlist, 3)
    retrying, failed, _held = outbox.claim_due(store.engine, now=T0, worker="w", lease=LEASE)
    error = outbox.Progress(frozenset(), "boom")
    outbox.mark_retry(
        store.engine, [retrying.alert_id], worker="w", next_at=T0 + timedelta(hours=6), progress=error
    )
    outbox.mark_failed(store.engine, [failed.alert_id], worker="w", progress=error)
    outbox.hold(store.engine, [_held.alert_id], worker="w", until=T0 + timedelta(hours=22))
    assert outbox.requeue(store.engine, now=T0, include_failed=False) == 1
    assert outbox.requeue(store.engine, now=T0, include_failed=True) == 1
    rows = alert_rows(store)
    assert [(r.status, r.next_attempt_at) for r in rows] == [
        ("pending", T0),
        ("pending", T0),
        ("pending", T0 + timedelta(hours=22)),  # a digest keeps its time
    ]
    assert rows[1].attempts == 0
    assert outbox.Progress.load(rows[1].last_error).error == "boom"


def test_failed_alerts_list_what_gave_up(store: Store, watchlist: Watchlist) -> None:
    (event_id,) = add_events(store, watchlist, 1)
    (item,) = outbox.claim_due(store.engine, now=T0, worker="w", lease=LEASE)
    outbox.begin(store.engine, [item.alert_id], worker="w")
    outbox.mark_failed(
        store.engine, [item.alert_id], worker="w", progress=outbox.Progress(frozenset({1}), "gone")
    )
    (failed,) = outbox.failed_alerts(store.engine)
    assert (failed.event_id, failed.route, failed.attempts, failed.error, failed.kind) == (
        event_id,
        "team",
        1,
        "gone",
        "source.changed",
    )
    assert outbox.alert_counts(store.engine)["failed"] == 1


def test_progress_reads_what_it_wrote_and_plain_text() -> None:
    progress = outbox.Progress(frozenset({2, 0}), "x")
    assert outbox.Progress.load(progress.dump()) == progress
    assert progress.dump() == '{"done": [0, 2], "error": "x"}'
    assert outbox.Progress.load("an old plain message") == outbox.Progress(
        frozenset(), "an old plain message"
    )
    assert outbox.Progress.load(None) == outbox.Progress()


def test_a_row_claimed_without_lease_time_is_taken(store: Store, watchlist: Watchlist) -> None:
    add_events(store, watchlist, 1)
    with Session(store.engine) as s, s.begin():
        s.execute(update(m.Alert).values(status="sending", claimed_by="old", claimed_until=None))
    assert len(outbox.claim_due(store.engine, now=T0, worker="w", lease=LEASE)) == 1


@pytest.mark.postgres
def test_postgres_claims_skip_rows_another_worker_is_claiming(pg_store: Store, watchlist: Watchlist) -> None:
    add_events(pg_store, watchlist, 3)
    with pg_store.engine.connect() as other:
        other.begin()
        locked = other.execute(
            select(m.Alert.id).order_by(m.Alert.id).limit(1).with_for_update()
        ).scalar_one()
        claimed = outbox.claim_due(pg_store.engine, now=T0, worker="a", lease=LEASE)  # does not wait
        other.rollback()
    assert len(claimed) == 2
    assert locked not in {i.alert_id for i in claimed}
    outbox.begin(pg_store.engine, [i.alert_id for i in claimed], worker="a")
    outbox.mark_sent(pg_store.engine, [claimed[0].alert_id], T0)
    outbox.mark_retry(
        pg_store.engine,
        [claimed[1].alert_id],
        worker="a",
        next_at=T0,
        progress=outbox.Progress(frozenset({0}), "x"),
    )
    again = outbox.claim_due(pg_store.engine, now=T0, worker="b", lease=LEASE)
    assert [(i.alert_id, i.attempts, i.progress.done) for i in again] == [
        (locked, 1, frozenset()),
        (claimed[1].alert_id, 2, frozenset({0})),
    ]
    assert outbox.alert_counts(pg_store.engine) == {
        "pending": 0,
        "sending": 2,
        "sent": 1,
        "failed": 0,
        "muted": 0,
    }


@pytest.mark.parametrize("backend", ["store", "pg_store"])
def test_archive_copies_go_through_the_same_leases(backend: str, request: pytest.FixtureRequest) -> None:
    """An archive row is claimed, renewed by its worker's heartbeat and given back like an alert."""
    from monitor.store import archives

    store: Store = request.getfixturevalue(backend)
    with store.engine.connect() as connection:
        # the row alone, without its change
        if backend == "store":
            connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
        else:
            connection.exec_driver_sql("SET session_replication_role = replica")
        connection.execute(
            m.Archive.__table__.insert().values(
                id=1,
                change_id=7,
                url="https://example.org/p",
                status="pending",
                attempts=0,
                next_attempt_at=T0,
            )
        )
        connection.commit()
        if backend == "pg_store":
            connection.exec_driver_sql("SET session_replication_role = DEFAULT")
            connection.commit()
    (taken,) = archives.claim(store.engine, now=T0, worker="a", lease=LEASE)
    assert (taken.change_id, taken.job_id, taken.attempts) == (7, None, 0)
    assert archives.claim(store.engine, now=T0, worker="b", lease=LEASE) == []
    assert archives.begin(store.engine, 1, worker="a")
    assert outbox.renew(store.engine, worker="a", until=T0 + timedelta(hours=1)) == 1
    assert archives.claim(store.engine, now=T0 + LEASE * 2, worker="b", lease=LEASE) == []  # renewed
    assert outbox.release_claims(store.engine, of=["a"]) == 0  # the alerts' table only
    assert outbox.release_claims(store.engine, of=["a"], table=m.Archive) == 1
    (again,) = archives.claim(store.engine, now=T0, worker="b", lease=LEASE)
    assert again.attempts == 1  # the submission "a" began counts
    assert not archives.begin(store.engine, 1, worker="a")  # "a" lost it
    archives.submitted(store.engine, 1, worker="b", job_id="spn2-x", at=T0)
    copy = "https://web.archive.org/web/20260301100000/https://example.org/p"
    assert archives.saved(store.engine, 1, worker="b", archive_url=copy, at=T0)
    assert not archives.saved(store.engine, 1, worker="b", archive_url="https://elsewhere", at=T0)  # final
    with Session(store.engine) as s:
        row = s.get(m.Archive, 1)
        entry = s.scalars(select(m.Ledger).where(m.Ledger.record_type == "archive")).one()
        assert row is not None
        assert (row.status, row.archive_url, row.job_id, row.claimed_by) == ("saved", copy, "spn2-x", None)
        assert (entry.record_id, entry.content_hash) == (1, chain.content_hash(chain.archive_content(row)))
    assert archives.archive_urls(store.engine, [7, 8]) == {7: copy}
