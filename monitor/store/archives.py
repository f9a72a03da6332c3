"""Archive copies of changed pages: the only database code for the ``archives`` outbox.

One row per Change, queued in the transaction that records the Change (``recording``), so a change
is never recorded without its capture when archiving is on. The row moves like an Alert and
through the same lease functions (``monitor.store.outbox`` with ``table=m.Archive``)::

    pending --claim--> sending --begin (counts a submission)--> submit --submitted (job_id kept)-->
        poll --saved-->           saved   (final; chained in the ledger as an ``archive`` record)
             --wait_for_job-->    pending (the job is still running: asked again, no new submission)
             --retry-->           pending (next_attempt_at = now + backoff; the job is forgotten)
             --fail-->            failed

The job id is written as soon as SPN answers, so a worker killed afterwards leaves a job the
next worker only asks about; only a worker killed between SPN accepting a submission and that
write makes the next one submit again (one extra capture at the archive, one saved row here).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.orm import Session

from monitor.events import ArchiveStatus
from monitor.store import models as m
from monitor.store import outbox
from monitor.store.recording import chain_archive

R = m.Archive


@dataclass(frozen=True)
class Capture:
    """A claimed archive row: the page to save and where its job stands."""

    id: int
    change_id: int
    url: str
    attempts: int  # submissions begun before this claim
    job_id: str | None
    submitted_at: datetime | None


@dataclass(frozen=True)
class FailedCapture:
    """A capture that gave up, for ``status``."""

    id: int
    change_id: int
    url: str
    attempts: int
    error: str | None


def claim(engine: Engine, *, now: datetime, worker: str, lease: timedelta, batch: int = 20) -> list[Capture]:
    ids = outbox.claim_ids(engine, R, now=now, worker=worker, lease=lease, batch=batch)
    if not ids:
        return []
    with Session(engine) as s:
        rows = {r.id: r for r in s.scalars(select(R).where(R.id.in_(ids)))}
        return [
            Capture(
                id=r.id,
                change_id=r.change_id,
                url=r.url,
                attempts=r.attempts,
                job_id=r.job_id,
                submitted_at=r.submitted_at,
            )
            for r in (rows[i] for i in ids)
        ]


def begin(engine: Engine, capture_id: int, *, worker: str) -> bool:
    """Count a submission just before it is sent; False when the claim was lost meanwhile."""
    return bool(outbox.begin(engine, [capture_id], worker=worker, table=R))


def submitted(engine: Engine, capture_id: int, *, worker: str, job_id: str, at: datetime) -> None:
    """SPN took the page: keep its job id at once, so nobody submits it again."""
    with Session(engine) as s, s.begin():
        s.execute(
            update(R)
            .where(R.id == capture_id, R.status == ArchiveStatus.SENDING, R.claimed_by == worker)
            .values(job_id=job_id, submitted_at=at)
        )


def saved(engine: Engine, capture_id: int, *, worker: str, archive_url: str, at: datetime) -> bool:
    """Final: the archive URL, chained in the ledger in the same transaction."""
    with Session(engine) as s, s.begin():
        row = s.scalars(
            select(R).where(R.id == capture_id, R.status == ArchiveStatus.SENDING, R.claimed_by == worker)
        ).first()
        if row is None:
            return False
        row.status, row.archive_url, row.saved_at = ArchiveStatus.SAVED, archive_url, at
        row.claimed_by, row.claimed_until, row.last_error = None, None, None
        chain_archive(s, row, at)
    return True


def wait_for_job(engine: Engine, capture_id: int, *, worker: str, until: datetime) -> None:
    """The job is still running at the archive: ask again at ``until``, without a new submission."""
    outbox.hold(engine, [capture_id], worker=worker, until=until, table=R)


def retry(engine: Engine, capture_id: int, *, worker: str, next_at: datetime, error: str) -> None:
    """Submit again at ``next_at``: the job failed or never started, so it is forgotten."""
    with Session(engine) as s, s.begin():
        s.execute(
            update(R)
            .where(R.id == capture_id, R.status == ArchiveStatus.SENDING, R.claimed_by == worker)
            .values(job_id=None)
        )
    outbox.mark_retry(
        engine, [capture_id], worker=worker, next_at=next_at, progress=outbox.Progress(error=error), table=R
    )


def fail(engine: Engine, capture_id: int, *, worker: str, error: str) -> None:
    outbox.mark_failed(engine, [capture_id], worker=worker, progress=outbox.Progress(error=error), table=R)


def release(engine: Engine, ids: Collection[int], *, worker: str) -> None:
    """Give back captures not started (this pass stops early)."""
    outbox.release(engine, ids, worker=worker, table=R)


def requeue(engine: Engine, *, now: datetime, include_failed: bool) -> int:
    """Make captures waiting for a retry due now, and with ``include_failed`` failed ones too
    (their submissions counted afresh: a page blocked last month may be accepted today)."""
    with Session(engine) as s, s.begin():
        waiting = and_(R.status == ArchiveStatus.PENDING, R.next_attempt_at > now)
        count = outbox.rowcount(s.execute(update(R).where(waiting).values(next_attempt_at=now)))
        if include_failed:
            revived = (
                update(R)
                .where(R.status == ArchiveStatus.FAILED)
                .values(status=ArchiveStatus.PENDING, attempts=0, job_id=None, next_attempt_at=now)
            )
            count += outbox.rowcount(s.execute(revived))
    return count


def submissions_since(engine: Engine, since: datetime) -> list[datetime]:
    """When jobs were submitted since ``since``, oldest first: the rate limit counts them."""
    with Session(engine) as s:
        stamps = s.scalars(select(R.submitted_at).where(R.submitted_at >= since).order_by(R.submitted_at))
        return [at for at in stamps if at is not None]


def counts(engine: Engine) -> dict[ArchiveStatus, int]:
    """Archive rows per status, every ArchiveStatus in its order; absent statuses are 0."""
    return outbox.counts(engine, R, list(ArchiveStatus))


def failed(engine: Engine, limit: int = 5) -> list[FailedCapture]:
    with Session(engine) as s:
        rows = s.scalars(select(R).where(R.status == ArchiveStatus.FAILED).order_by(R.id.desc()).limit(limit))
        return [
            FailedCapture(r.id, r.change_id, r.url, r.attempts, outbox.Progress.load(r.last_error).error)
            for r in rows
        ]


def archive_urls(engine: Engine, change_ids: Iterable[int]) -> dict[int, str]:
    """Change id -> the archive URL of its saved copy, for the changes that have one."""
    wanted = sorted(set(change_ids))
    if not wanted:
        return {}
    stmt = select(R.change_id, R.archive_url).where(
        and_(R.change_id.in_(wanted), R.status == ArchiveStatus.SAVED, R.archive_url.is_not(None))
    )
    with Session(engine) as s:
        return {cid: str(url) for cid, url in s.execute(stmt)}
