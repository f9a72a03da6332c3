"""Timestamp tokens and attempts: the only database code for RFC 3161 stamps.

Tokens are not chained: each is signed by its TSA and names a chain head, which is what makes it
evidence. A failed attempt is a row too (status ``failed``, the reason), so the next try waits
``retry_after`` and ``status`` can say a TSA is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from monitor.events import ArchiveStatus, StampStatus
from monitor.store import models as m
from monitor.store import recording

T = m.Timestamp


@dataclass(frozen=True)
class TsaState:
    """Where one TSA is: the last seq it stamped, when, and the last failure since."""

    url: str
    last_seq: int | None
    last_at: datetime | None
    failed_at: datetime | None


def tsa_state(engine: Engine, url: str) -> TsaState:
    with Session(engine) as s:
        good = s.execute(
            select(T.seq, T.requested_at)
            .where(T.tsa_url == url, T.status == StampStatus.STAMPED)
            .order_by(T.seq.desc(), T.id.desc())
            .limit(1)
        ).first()
        failed_at = s.scalar(
            select(func.max(T.requested_at)).where(T.tsa_url == url, T.status == StampStatus.FAILED)
        )
    if good is not None and failed_at is not None and failed_at <= good.requested_at:
        failed_at = None
    return TsaState(url, good.seq if good else None, good.requested_at if good else None, failed_at)


def record(
    engine: Engine,
    *,
    seq: int,
    head_hash: str,
    url: str,
    at: datetime,
    token: bytes | None,
    gen_time: datetime | None,
    error: str | None,
) -> int:
    with Session(engine) as s, s.begin():
        row = T(
            seq=seq,
            head_hash=head_hash,
            tsa_url=url,
            requested_at=at,
            status=StampStatus.STAMPED if token is not None else StampStatus.FAILED,
            token=token,
            gen_time=gen_time,
            error=error,
        )
        s.add(row)
        s.flush()
        return row.id


def tokens(engine: Engine, *, up_to_seq: int | None = None) -> list[m.Timestamp]:
    """Every stored token, oldest head first (optionally only heads up to a seq)."""
    stmt = select(T).where(T.status == StampStatus.STAMPED).order_by(T.seq, T.id)
    if up_to_seq is not None:
        stmt = stmt.where(T.seq <= up_to_seq)
    with Session(engine, expire_on_commit=False) as s:
        return list(s.scalars(stmt))


def tokens_covering(engine: Engine, seq: int) -> list[m.Timestamp]:
    """The tokens over the first head at or after ``seq`` that has any: the earliest proof."""
    with Session(engine, expire_on_commit=False) as s:
        first = s.scalar(select(func.min(T.seq)).where(T.status == StampStatus.STAMPED, T.seq >= seq))
        if first is None:
            return []
        return list(
            s.scalars(select(T).where(T.status == StampStatus.STAMPED, T.seq == first).order_by(T.id))
        )


def first_token_after(engine: Engine, url: str, seq: int) -> m.Timestamp | None:
    """This TSA's earliest token over an entry at or after ``seq``: the first proof it existed."""
    stmt = (
        select(T)
        .where(T.tsa_url == url, T.status == StampStatus.STAMPED, T.seq >= seq)
        .order_by(T.seq, T.id)
        .limit(1)
    )
    with Session(engine, expire_on_commit=False) as s:
        return s.scalars(stmt).first()


def saved_archives(engine: Engine, change_id: int) -> list[m.Archive]:
    """The archive copies of a change that were saved (and chained)."""
    stmt = select(m.Archive).where(m.Archive.change_id == change_id, m.Archive.status == ArchiveStatus.SAVED)
    with Session(engine, expire_on_commit=False) as s:
        return list(s.scalars(stmt.order_by(m.Archive.id)))


def changes_since(engine: Engine, seq: int) -> bool:
    """Whether a change or event was chained after ``seq``: worth a stamp now."""
    with Session(engine) as s:
        found = s.scalar(
            select(m.Ledger.seq)
            .where(m.Ledger.seq > seq, m.Ledger.record_type.in_(("change", "event")))
            .limit(1)
        )
    return found is not None


def head(engine: Engine) -> tuple[int, str] | None:
    """The chain head: its seq and hash."""
    with Session(engine) as s:
        row = s.execute(select(m.Ledger.seq, m.Ledger.hash).order_by(m.Ledger.seq.desc()).limit(1)).first()
    return (row.seq, row.hash) if row else None


def seal(engine: Engine) -> None:
    """Chain the checks not yet in a digest, so the head about to be stamped covers them."""
    with Session(engine) as s, s.begin():
        recording.seal_checks(s)
