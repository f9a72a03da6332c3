"""Recording a batch: the integrity chain it writes stays the same, whatever statements write it.

The ledger's hashes are pinned: they were computed by the recording code of 3354375 (an ORM
unit-of-work flush per row) for the batches below, and the Core statements that replaced it must
write the same chain, byte for byte, on SQLite and PostgreSQL. Had a value been written
differently (a datetime, an enum, a JSON column) or a row in another order, an id or a hash here
would differ, and every database recorded before would stop matching what ``verify`` expects.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from monitor import diff as differ
from monitor.checking import CheckResult, NewSnapshot, sha256
from monitor.errors import FetchError
from monitor.events import CheckOutcome, EventKind, Severity, SourceHealth
from monitor.fetch import Validators
from monitor.lifecycle import EventDraft, Health, Transition
from monitor.store.repo import Store
from monitor.watchlist import Watchlist, parse_watchlist

BOTH_BACKENDS = True
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "http://127.0.0.1:9/policy"
WATCHLIST = f"""
routes:
  log:
    urls: ["json://127.0.0.1:9/"]
    events: ["*"]
sources:
  - id: policy
    url: {URL}
"""
OLD_TEXT = "We will not sell facial recognition to police.\nWe review every request."
NEW_TEXT = "We will not sell facial recognition to police.\nWe review most requests."

# (record_type, record_id, content_hash, hash) of each ledger entry, in seq order, as 3354375 wrote them
GOLDEN: list[tuple[str, int, str, str]] = [
    (
        "snapshot",
        1,
        "e939ca386023bf6fd15f3f243052167240ff61b964c76645ee42ffcf1ac2a0fd",
        "aaee13b59cc905a21dcc3251747d49f5d09b45b160dbfc20015a0cb24abfdd1c",
    ),
    (
        "checks",
        1,
        "c234929aae82086639673fa0d31d7aea276311bd894ee6e10247a6d1f009b94f",
        "6eb1e0133abe925b929ef967a494ce45d231276020a619d7c2edaa40be047a86",
    ),
    (
        "snapshot",
        2,
        "c444ecb3e95bb7f40fecedb7cd6275435f6fd089e32269a2a7999dff4af792f5",
        "1ab583d2c644a989452b01af5ca7283c083f06e846b9b358b7efd3a8da44ec27",
    ),
    (
        "change",
        1,
        "e101a51eefa669627a8dad1b80eb63b248c49cf9cfdb653cc3113d8beb9d16d7",
        "81a897f4009ccee0568dff483afa8c6869fcbb47eba9f5c3402e1ffd829a5578",
    ),
    (
        "event",
        1,
        "174ae1c657e6fa3fa5ddeae959f16e258065ba824e77497b03d117f25b762071",
        "5f254ae466de29a3692e979975b530715969cb764f88ba7aecf5b5bd3c392630",
    ),
    (
        "checks",
        2,
        "5acb21c8ac58df7b3547602dba1c2ffe5de237e4a86769a96e9af10e9619f556",
        "b62db873b0346eaaef3b2e38d201adbec06a5b74de220488aaea91f314208f40",
    ),
]


def snapshot_of(body_text: str) -> NewSnapshot:
    body = f"<html><body><p>{body_text}</p></body></html>".encode()
    return NewSnapshot(
        body=body,
        body_hash=sha256(body),
        text=body_text,
        text_hash=sha256(body_text.encode()),
        headers={"Content-Type": "text/html; charset=utf-8", "ETag": '"v1"'},
        request_headers={"User-Agent": "test"},
        url=URL,
        status=200,
        rules="r",
    )


def batches() -> list[list[CheckResult]]:
    """A baseline; two quiet 304s; a change with an event (alerted on one route); a failure."""
    ok = Health(state=SourceHealth.OK)
    baseline = CheckResult(
        source_id="policy",
        at=AT,
        ms=12,
        outcome=CheckOutcome.BASELINE,
        status=200,
        validators=Validators(etag='"v1"', last_modified=None),
        body_hash=snapshot_of(OLD_TEXT).body_hash,
        snapshot=snapshot_of(OLD_TEXT),
        transition=Transition(health=ok),
    )
    quiet = [
        CheckResult(
            source_id="policy",
            at=AT + timedelta(hours=n),
            ms=3,
            outcome=CheckOutcome.NOT_MODIFIED,
            status=304,
            transition=Transition(health=ok),
        )
        for n in (1, 2)
    ]
    changed_at = AT + timedelta(hours=3)
    draft = EventDraft(
        kind=EventKind.SOURCE_CHANGED,
        severity=Severity.INFO,
        title="policy changed",
        pledge_id=None,
        source_id="policy",
        details={"added": 2, "removed": 3, "at": changed_at.isoformat()},
    )
    changed = CheckResult(
        source_id="policy",
        at=changed_at,
        ms=20,
        outcome=CheckOutcome.CHANGED,
        status=200,
        body_hash=snapshot_of(NEW_TEXT).body_hash,
        snapshot=snapshot_of(NEW_TEXT),
        diff=differ.compute(OLD_TEXT, NEW_TEXT),
        prev_snapshot_id=1,
        transition=Transition(health=ok, events=(draft,)),
    )
    failed = CheckResult(
        source_id="policy",
        at=AT + timedelta(hours=4),
        ms=30_000,
        outcome=CheckOutcome.FAILED,
        error=FetchError(URL, "timed out", transient=True),
        transition=Transition(health=Health(state=SourceHealth.OK, failures=1)),
    )
    return [[baseline], quiet, [changed, failed]]


def record(store: Store, watchlist: Watchlist) -> list[tuple[str, int, str, str]]:
    store.sync(watchlist, AT)
    for batch in batches():
        store.record([(result, result.at + timedelta(hours=6)) for result in batch], watchlist)
    with store.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT record_type, record_id, content_hash, hash FROM ledger ORDER BY seq")
        )
        return [(str(a), int(b), str(c), str(d)) for a, b, c, d in rows]


def test_the_chain_is_the_one_the_unit_of_work_wrote(store: Store) -> None:
    watchlist = parse_watchlist(WATCHLIST)
    assert record(store, watchlist) == GOLDEN


def test_the_rows_the_chain_names_are_written_once_each(store: Store) -> None:
    watchlist = parse_watchlist(WATCHLIST)
    record(store, watchlist)
    with store.engine.connect() as connection:
        counts = {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("checks", "snapshots", "changes", "events", "alerts", "blobs")
        }
        snapshot_ids = connection.execute(text("SELECT snapshot_id FROM checks ORDER BY id")).scalars().all()
        alert = connection.execute(text("SELECT event_id, route, status, attempts FROM alerts")).one()
    # two snapshots (each a body and a text blob), one change, its event, one alert for the one route
    assert counts == {"checks": 5, "snapshots": 2, "changes": 1, "events": 1, "alerts": 1, "blobs": 4}
    assert snapshot_ids == [1, None, None, 2, None]
    assert tuple(alert) == (1, "log", "pending", 0)


def test_a_quiet_batch_gets_the_ids_its_rows_were_written_with(store: Store) -> None:
    """The quiet path writes many checks in one statement: each Recorded names its own row."""
    watchlist = parse_watchlist(
        "sources:\n" + "".join(f"  - {{id: s{n}, url: 'http://127.0.0.1:9/{n}'}}\n" for n in range(5))
    )
    store.sync(watchlist, AT)
    ok = Transition(health=Health(state=SourceHealth.OK))

    def quiet(source: str, hours: int) -> tuple[CheckResult, datetime]:
        at = AT + timedelta(hours=hours)
        result = CheckResult(
            source_id=source, at=at, ms=hours, outcome=CheckOutcome.NOT_MODIFIED, status=304, transition=ok
        )
        return result, at + timedelta(hours=6)

    first = store.record([quiet("s0", 1)], watchlist)
    with store.engine.begin() as connection:  # a gap: the newest check is gone
        connection.execute(text("DELETE FROM checks WHERE id = :id"), {"id": first[0].check_id})
    order = ["s3", "s1", "s4", "s0", "s2", "s1"]
    recorded = store.record([quiet(source, n + 2) for n, source in enumerate(order)], watchlist)
    with store.engine.connect() as connection:
        found = connection.execute(text("SELECT id, source_id || '@' || ms FROM checks"))
        rows = {int(row_id): str(name) for row_id, name in found}
    assert [r.source_id for r in recorded] == order
    assert [rows[r.check_id] for r in recorded] == [f"{s}@{n + 2}" for n, s in enumerate(order)]
    assert len(set(rows)) == len(order)
