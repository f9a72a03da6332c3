"""Dashboard speed at scale: every kind of page under 200 ms on 10,000 sources and 100,000 changes.

    .venv/bin/python benchmarks/serve.py                 # builds the database once (a minute or two)
    .venv/bin/python benchmarks/serve.py --db /tmp/big.db --keep   # reuse it next time
    .venv/bin/python benchmarks/serve.py --no-fail       # report, never exit 1

The database is written directly (bulk inserts, the schema of ``db upgrade``): 10,000 sources
in 2,000 pledges (five sources each), 11 snapshots and checks per source, 10 changes per source
(100,000), an event per fifth change with an alert to each of two routes, and a ledger entry for
each record. Then ``pledge-monitor serve`` runs as a subprocess, as a user runs it, and each page
is fetched over HTTP ``--rounds`` times after one warm-up; the figure is the median (and the
slowest) time to the last byte.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import insert

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor import diff as differ  # noqa: E402
from monitor.store import blobs  # noqa: E402
from monitor.store import models as m  # noqa: E402
from monitor.store.db import open_engine  # noqa: E402

SOURCES = 10_000
PER_PLEDGE = 5
CHANGES_PER_SOURCE = 10
TARGET_MS = 200.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CLAUSE = "We will not sell facial recognition technology to police departments in the United States"
TEXT_A = (
    "Our commitments.\n" + CLAUSE + " until there is a national law.\n" + "Paragraph of policy text. " * 80
)
TEXT_B = TEXT_A.replace("We will not sell", "We will not currently sell").replace(
    "national law", "federal law"
)


def blob_row(data: bytes) -> dict[str, Any]:
    packed = blobs.pack(data, None)
    digest = hashlib.sha256(data).hexdigest()
    return {
        "hash": digest,
        "size": len(data),
        "codec": packed.codec,
        "base": None,
        "depth": 0,
        "data": packed.data,
    }


def build(path: Path) -> None:
    engine = open_engine(f"sqlite:///{path}")
    texts = [TEXT_A.encode(), TEXT_B.encode()]
    body = [f"<html><body><article>{t}</article></body></html>".encode() for t in (TEXT_A, TEXT_B)]
    rows = [blob_row(x) for x in texts + body]
    text_hash = [r["hash"] for r in rows[:2]]
    body_hash = [r["hash"] for r in rows[2:]]
    deltas = [
        differ.to_delta(differ.compute(TEXT_A, TEXT_B)),
        differ.to_delta(differ.compute(TEXT_B, TEXT_A)),
    ]
    summaries = [
        differ.summarize(differ.compute(TEXT_A, TEXT_B)),
        differ.summarize(differ.compute(TEXT_B, TEXT_A)),
    ]
    snaps_per = CHANGES_PER_SOURCE + 1
    tables: list[list[dict[str, Any]]] = [[] for _ in range(9)]
    sources, pledges, checks, snapshots, changes, events, alerts, ledger, clauses = tables
    check_id = snap_id = change_id = event_id = alert_id = seq = 0
    for n in range(SOURCES):
        sid = f"src-{n:05d}"
        last = T0 + timedelta(hours=6 * snaps_per)
        sources.append(
            {
                "id": sid,
                "url": f"https://company-{n // PER_PLEDGE}.example/policy/{n}",
                "kind": "page",
                "rules": "",
                "active": True,
                "interval_s": 21600,
                "next_check_at": last + timedelta(hours=6),
                "last_check_at": last,
                "last_good_at": last,
                "health": "ok",
                "failures": 0,
            }
        )
        for k in range(snaps_per):
            check_id += 1
            snap_id += 1
            at = T0 + timedelta(hours=6 * k)
            checks.append(
                {
                    "id": check_id,
                    "source_id": sid,
                    "at": at,
                    "ms": 120,
                    "status": 200,
                    "outcome": "changed" if k else "baseline",
                    "snapshot_id": snap_id,
                }
            )
            snapshots.append(
                {
                    "id": snap_id,
                    "source_id": sid,
                    "check_id": check_id,
                    "fetched_at": at,
                    "url": sources[-1]["url"],
                    "status": 200,
                    "headers": {"Content-Type": "text/html; charset=utf-8"},
                    "request_headers": {},
                    "body_hash": body_hash[k % 2],
                    "text_hash": text_hash[k % 2],
                    "rules": "",
                }
            )
            seq += 1
            ledger.append(
                {
                    "seq": seq,
                    "record_type": "snapshot",
                    "record_id": snap_id,
                    "content_hash": "0" * 64,
                    "prev_hash": "0" * 64,
                    "hash": f"{seq:064x}",
                    "at": at,
                }
            )
            if k:
                change_id += 1
                changes.append(
                    {
                        "id": change_id,
                        "source_id": sid,
                        "from_snapshot_id": snap_id - 1,
                        "to_snapshot_id": snap_id,
                        "detected_at": at,
                        "added_words": 2,
                        "removed_words": 2,
                        "delta": deltas[(k - 1) % 2],
                        "summary": summaries[(k - 1) % 2],
                    }
                )
                seq += 1
                ledger.append(
                    {
                        "seq": seq,
                        "record_type": "change",
                        "record_id": change_id,
                        "content_hash": "0" * 64,
                        "prev_hash": "0" * 64,
                        "hash": f"{seq:064x}",
                        "at": at,
                    }
                )
                if change_id % 5 == 0:
                    event_id += 1
                    pid = f"pledge-{n // PER_PLEDGE:04d}"
                    events.append(
                        {
                            "id": event_id,
                            "kind": "pledge.reworded",
                            "severity": "high",
                            "created_at": at,
                            "pledge_id": pid,
                            "source_id": sid,
                            "change_id": change_id,
                            "check_id": check_id,
                            "title": f"Company {n // PER_PLEDGE}: clause reworded",
                            "details": {"summary": summaries[0]},
                        }
                    )
                    seq += 1
                    ledger.append(
                        {
                            "seq": seq,
                            "record_type": "event",
                            "record_id": event_id,
                            "content_hash": "0" * 64,
                            "prev_hash": "0" * 64,
                            "hash": f"{seq:064x}",
                            "at": at,
                        }
                    )
                    for route in ("advocacy", "auditors"):
                        alert_id += 1
                        alerts.append(
                            {
                                "id": alert_id,
                                "event_id": event_id,
                                "route": route,
                                "status": "sent",
                                "attempts": 1,
                                "next_attempt_at": at,
                                "sent_at": at,
                            }
                        )
        clauses.append(
            {
                "pledge_id": f"pledge-{n // PER_PLEDGE:04d}",
                "source_id": sid,
                "clause_key": hashlib.sha256(CLAUSE.encode()).hexdigest(),
                "clause": CLAUSE,
                "state": "reworded",
                "passage": CLAUSE.replace("not sell", "not currently sell"),
                "similarity": 0.93,
                "updated_at": T0,
            }
        )
    pledges.extend(
        {
            "id": f"pledge-{p:04d}",
            "company": f"Company {p // 4}",
            "title": f"No facial recognition sales to police ({p})",
            "made_on": date(2020, 6, 10),
            "expires_on": date(2027, 6, 10) if p % 3 == 0 else None,
            "active": True,
            "state": "reworded",
            "state_since": T0,
            "spec": {
                "clauses": [CLAUSE],
                "sources": [f"src-{p * PER_PLEDGE + i:05d}" for i in range(PER_PLEDGE)],
                "keywords": [],
                "tags": ["police"] if p % 2 else ["facial-recognition"],
                "effective_expiry": "2027-06-10" if p % 3 == 0 else None,
                "renewed": False,
            },
        }
        for p in range(SOURCES // PER_PLEDGE)
    )
    with engine.begin() as connection:
        for model, values in (
            (m.Blob, rows),
            (m.Source, sources),
            (m.Pledge, pledges),
            (m.Check, checks),
            (m.Snapshot, snapshots),
            (m.Change, changes),
            (m.Event, events),
            (m.Alert, alerts),
            (m.Ledger, ledger),
            (m.ClauseState, clauses),
        ):
            for start in range(0, len(values), 5000):
                connection.execute(insert(model), values[start : start + 5000])
    engine.dispose()
    print(
        f"built {path}: {len(sources)} sources, {len(pledges)} pledges, {len(checks)} checks, "
        f"{len(changes)} changes, {len(events)} events"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(base: str, path: str, rounds: int) -> tuple[float, float]:
    requests.get(base + path, timeout=60).raise_for_status()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = requests.get(base + path, timeout=60)
        response.raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


PAGES = (
    "/",
    "/?company=Company+42",
    "/?state=reworded&tag=police",
    "/pledge/pledge-1234",
    "/company/Company%2042",
    "/change/54321",
    "/change/54321/warc",
    "/snapshot/54321",
    "/changes",
    "/changes?before=50000",
    "/changes?q=currently",
    "/events",
    "/events?q=Company+1999",
    "/event/9999",
    "/sources",
    "/source/src-06789",
    "/alerts",
    "/feed.xml",
    "/pledge/pledge-1234/feed.xml",
    "/calendar.ics",
    "/api/pledges",
    "/api/changes",
    "/api/changes/54321",
    "/api/events?pledge=pledge-1234",
    "/api/checks?source=src-06789",
    "/api/alerts",
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, help="The benchmark database (built when missing).")
    parser.add_argument("--keep", action="store_true", help="Keep a database built in a temporary folder.")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-fail", action="store_true")
    args = parser.parse_args()
    tmp = None
    db = args.db
    if db is None:
        tmp = tempfile.mkdtemp(prefix="bench-serve-")
        db = Path(tmp) / "bench.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        build(db)
        print(f"(built in {time.perf_counter() - started:.0f} s)")
    port = free_port()
    cli = str(Path(sys.executable).parent / "pledge-monitor")
    server = subprocess.Popen(
        [cli, "-w", str(db.parent / "none.yaml"), "--db", f"sqlite:///{db}", "serve", "--port", str(port)],
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    slow = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/healthz", timeout=5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise SystemExit("serve did not start") from None
                time.sleep(0.2)
        print(f"{'page':<36} {'median':>9} {'slowest':>9}")
        for path in PAGES:
            median, worst = measure(base, path, args.rounds)
            mark = "" if median <= TARGET_MS else "  over target"
            print(f"{path:<36} {median:7.1f}ms {worst:7.1f}ms{mark}")
            if median > TARGET_MS:
                slow.append(path)
    finally:
        server.terminate()
        server.wait(20)
        if tmp and not args.keep:
            for f in Path(tmp).iterdir():
                f.unlink()
            os.rmdir(tmp)
    print(
        f"target: every page's median under {TARGET_MS:.0f} ms: "
        + ("met" if not slow else "missed on " + ", ".join(slow))
    )
    return 0 if not slow or args.no_fail else 1


if __name__ == "__main__":
    sys.exit(main())
