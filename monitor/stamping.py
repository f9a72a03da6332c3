"""The stamping job: have each configured Time-Stamp Authority sign the chain head when it is due.

Due for a TSA when the chain has moved past the last head it stamped and either a change or
event was chained since (``after_change``) or its last stamp is ``every`` old; a TSA that failed
waits ``retry_after`` before the next try. Stamping runs after checks are recorded, never inside
their transaction: a TSA that is slow or down delays nothing and loses nothing, its failure is
a row that says why, and the next run tries again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from monitor.audit import timestamps
from monitor.errors import FetchError, MonitorError
from monitor.fetch import call_service
from monitor.store import stamps
from monitor.store.repo import Store
from monitor.watchlist import TimestampsSpec, TsaSpec, Watchlist

log = logging.getLogger("monitor.stamping")


@dataclass(frozen=True)
class Stamped:
    """One TSA's answer this run: a token over ``seq``, or why not."""

    url: str
    seq: int
    gen_time: datetime | None
    error: str | None

    def line(self) -> str:
        if self.error:
            return (
                f"timestamp of chain head seq {self.seq} by {self.url} failed: {self.error} (retried later)"
            )
        assert self.gen_time is not None
        return f"chain head seq {self.seq} timestamped by {self.url} at {self.gen_time:%Y-%m-%d %H:%M:%S} UTC"


def due(spec: TimestampsSpec, state: stamps.TsaState, head_seq: int, changed: bool, now: datetime) -> bool:
    """Whether this TSA should stamp the head at ``head_seq`` now."""
    if state.last_seq is not None and state.last_seq >= head_seq:
        return False
    if state.failed_at is not None and now - state.failed_at < spec.retry_after:
        return False
    if state.last_at is None:
        return True
    return (spec.after_change and changed) or now - state.last_at >= spec.every


def stamp_due(store: Store, watchlist: Watchlist, now: datetime, *, force: bool = False) -> list[Stamped]:
    """Ask every TSA that is due (all of them with ``force``) to stamp the current head."""
    spec = watchlist.timestamps
    head = stamps.head(store.engine)
    if spec is None or head is None:
        return []
    asked = []
    for tsa in spec.tsa:
        state = stamps.tsa_state(store.engine, tsa.url)
        changed = state.last_seq is None or stamps.changes_since(store.engine, state.last_seq)
        if force or due(spec, state, head[0], changed, now):
            asked.append(tsa)
    if not asked:
        return []
    stamps.seal(store.engine)  # the checks since the last digest: into the chain before the stamp
    sealed = stamps.head(store.engine)
    assert sealed is not None
    seq, head_hash = sealed
    return [_stamp(store, watchlist, spec, tsa, seq, head_hash, now) for tsa in asked]


def _stamp(
    store: Store,
    watchlist: Watchlist,
    spec: TimestampsSpec,
    tsa: TsaSpec,
    seq: int,
    head_hash: str,
    now: datetime,
) -> Stamped:
    query = timestamps.request(head_hash)
    try:
        reply = call_service(
            "POST",
            tsa.url,
            data=query.as_bytes(),
            headers={"Content-Type": timestamps.CONTENT_TYPE},
            timeout=spec.timeout.total_seconds(),
        )
        if reply.status != 200:
            raise FetchError(tsa.url, f"HTTP {reply.status}", transient=True, status=reply.status)
        roots = timestamps.load_roots(watchlist.tsa_ca(tsa))
        token = timestamps.check(reply.body, head_hash, roots, nonce=query.nonce)
    except (MonitorError, timestamps.TokenError) as exc:
        error = str(exc.reason) if isinstance(exc, FetchError) else str(exc)
        stamps.record(
            store.engine,
            seq=seq,
            head_hash=head_hash,
            url=tsa.url,
            at=now,
            token=None,
            gen_time=None,
            error=error,
        )
        log.warning("timestamp by %s failed: %s", tsa.url, error, extra={"tsa": tsa.url})
        return Stamped(tsa.url, seq, None, error)
    stamps.record(
        store.engine,
        seq=seq,
        head_hash=head_hash,
        url=tsa.url,
        at=now,
        token=reply.body,
        gen_time=token.gen_time,
        error=None,
    )
    log.info("chain head seq %d timestamped by %s", seq, tsa.url, extra={"tsa": tsa.url, "seq": seq})
    return Stamped(tsa.url, seq, token.gen_time, None)
