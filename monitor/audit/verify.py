"""Recompute the integrity chain and the stored content, and name the first thing that does not match.

The ledger is walked in order: each entry must link to the one before it, hash to its own
fields, name a record that still exists and whose content still hashes as recorded, and a
snapshot's stored body and text must still decompress to the bytes their sha256 names. A
``checks`` entry (a digest of one recorded batch) must find each check it names, hashing to the
leaf it holds, unless a chained prune record deleted it, and no other check in its range.
Records no entry names, and blobs no snapshot names, are checked after the walk. The first
mismatch raises an IntegrityError saying what and where; nothing is repaired.

What the chain cannot show on its own: someone who rewrites the whole chain consistently, or
cuts its tail. Trusted timestamps close that gap: each stored RFC 3161 token must name a head
still in the chain, with the same hash, and be signed by its TSA (checked against the root
certificate the watchlist names). Publishing the chain head (``report`` prints it; ``verify
--head HASH`` checks a published one is still in the chain) does the same by hand.
"""

from __future__ import annotations

import bisect
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.audit import chain
from monitor.errors import IntegrityError, MonitorError, NotFoundError
from monitor.store import stamps
from monitor.store.audit_queries import AuditStore, LedgerEntry

if TYPE_CHECKING:
    from cryptography import x509

BATCH = 500


LABEL = {"checks": "check digest", "prune": "prune record", "archive": "archive copy"}
LEAF = 32
UNSEALED_SLACK = timedelta(days=1)  # a check recorded late (a slow fetch) is never this late


@dataclass(frozen=True)
class Verified:
    """What a clean run covered."""

    records: int
    counts: dict[str, int]
    blobs: int
    head: LedgerEntry | None
    checks: int = 0
    pruned: int = 0
    tokens: tuple[Any, ...] = ()  # the Timestamp rows checked, oldest head first
    unrooted: tuple[str, ...] = ()  # TSAs with tokens but no root certificate configured
    unsealed: int = 0  # recent checks not in a digest yet
    published: tuple[int, str] | None = None  # (seq, hash) of the published head, when one was given

    def line(self) -> str:
        parts = ", ".join(
            f"{n} {kind}{'s' if n != 1 else ''}"
            for kind, n in self.counts.items()
            if kind in ("snapshot", "change", "event", "action")
        )
        digests = self.counts.get("checks", 0)
        checks = f"{self.checks} check{'s' if self.checks != 1 else ''} in {digests} digest"
        checks += "s" if digests != 1 else ""
        checks += f" ({self.pruned} pruned)" if self.pruned else ""
        checks += f" (+{self.unsealed} newer, not yet sealed)" if self.unsealed else ""
        archives = self.counts.get("archive", 0)
        checks += f"; {archives} archive cop{'ies' if archives != 1 else 'y'}" if archives else ""
        head = f"chain head {self.head.hash} (seq {self.head.seq})" if self.head else "chain empty"
        line = f"verified {self.records} records ({parts}; {checks}; {self.blobs} blobs); {head}"
        if self.tokens:
            last = self.tokens[-1]
            line += (
                f"; {len(self.tokens)} timestamp{'s' if len(self.tokens) != 1 else ''}, the latest over "
                f"seq {last.seq} signed {last.gen_time:%Y-%m-%d %H:%M:%S} UTC by {last.tsa_url}"
            )
        if self.unrooted:
            line += (
                f"; tokens of {', '.join(self.unrooted)} not checked: no root certificate in the watchlist"
            )
        return line


@dataclass
class _Walk:
    """Where the walk is: the entry before, the last id seen of each record type, blobs done."""

    prev_seq: int = 0
    prev_hash: str = chain.GENESIS
    last_id: dict[str, int] = field(default_factory=dict)
    blobs: set[str] = field(default_factory=set)
    records: int = 0
    head: LedgerEntry | None = None
    pruned_ids: list[tuple[int, int, int]] = field(default_factory=list)  # (first, last, prune id)
    checks: int = 0
    pruned: int = 0


def verify(
    audit: AuditStore,
    *,
    published_head: str | None = None,
    roots: Mapping[str, list[x509.Certificate]] | None = None,
) -> Verified:
    """Raise IntegrityError naming the first record that does not match; else say what was covered."""
    walk = _Walk(pruned_ids=_chained_prunes(audit))
    for batch in _batches(audit.ledger(), BATCH):
        rows = _records_for(audit, batch)
        for entry in batch:
            _check_link(audit, walk, entry)
            _check_record(audit, walk, entry, rows[entry.record_type].get(entry.record_id))
            walk.prev_seq, walk.prev_hash, walk.head = entry.seq, entry.hash, entry
            walk.records += 1
    published = find_published(audit, published_head) if published_head is not None else None
    _check_unledgered(audit)
    unsealed = _check_unsealed(audit)
    _check_other_blobs(audit, walk)
    tokens, unrooted = _check_tokens(audit, roots or {})
    counts = audit.counts()
    return Verified(
        walk.records,
        counts,
        len(walk.blobs),
        walk.head,
        walk.checks,
        walk.pruned,
        tokens,
        unrooted,
        unsealed,
        published,
    )


def _check_tokens(
    audit: AuditStore, roots: Mapping[str, list[x509.Certificate]]
) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """Every stored token names a head still in the chain, and its TSA signed exactly that head."""
    from monitor.audit import timestamps  # cryptography loads only when there are tokens

    checked, unrooted = [], []
    for row in stamps.tokens(audit.store.engine):
        where = f"timestamp #{row.id} ({row.tsa_url}, over seq {row.seq})"
        entry = audit.entry_at(row.seq)
        if entry is None:
            raise IntegrityError(
                f"{where}: ledger seq {row.seq} is gone: the chain was cut after it was stamped"
            )
        if entry.hash != row.head_hash:
            raise IntegrityError(
                f"{where}: ledger seq {row.seq} is not the entry that was stamped "
                f"(its hash is {entry.hash[:12]}..., the token's {row.head_hash[:12]}...): "
                f"the history up to seq {row.seq} was rewritten after {_when(row.gen_time)}"
            )
        if row.tsa_url not in roots:
            unrooted.append(row.tsa_url)
            continue
        try:
            token = timestamps.check(row.token or b"", row.head_hash, roots[row.tsa_url])
        except timestamps.TokenError as exc:
            raise IntegrityError(f"{where}: the token was altered or is not from this TSA: {exc}") from None
        if row.gen_time != token.gen_time:
            raise IntegrityError(
                f"{where}: its recorded time {_when(row.gen_time)} is not the time in the token, "
                f"{_when(token.gen_time)}: the row was edited"
            )
        checked.append(row)
    return tuple(checked), tuple(sorted(set(unrooted)))


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if at else "(no time)"


def _chained_prunes(audit: AuditStore) -> list[tuple[int, int, int]]:
    """The id ranges deleted by prune records whose ledger entry still matches them."""
    out: list[tuple[int, int, int]] = []
    for row, entry in audit.prunes():
        if entry is not None and chain.content_hash(chain.prune_content(row)) == entry.content_hash:
            out.extend((first, last, row.id) for first, last in chain.parse_ranges(row.ids))
    return sorted(out)


def _pruned_by(walk: _Walk, check_id: int) -> int | None:
    at = bisect.bisect_right(walk.pruned_ids, (check_id, sys.maxsize, sys.maxsize)) - 1
    if at >= 0:
        first, last, prune_id = walk.pruned_ids[at]
        if first <= check_id <= last:
            return prune_id
    return None


def _batches(entries: Iterable[LedgerEntry], size: int) -> Iterator[list[LedgerEntry]]:
    batch: list[LedgerEntry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _records_for(audit: AuditStore, batch: list[LedgerEntry]) -> dict[str, dict[int, Any]]:
    rows: dict[str, dict[int, Any]] = {kind: {} for kind in chain.CONTENT}
    for kind in chain.CONTENT:
        ids = [e.record_id for e in batch if e.record_type == kind]
        rows[kind] = audit.records(kind, ids)
    return rows


def _name(entry: LedgerEntry) -> str:
    return f"ledger seq {entry.seq} ({_label(entry)} #{entry.record_id})"


def _label(entry: LedgerEntry) -> str:
    return LABEL.get(entry.record_type, entry.record_type)


def _check_link(audit: AuditStore, walk: _Walk, entry: LedgerEntry) -> None:
    """The entry follows the one before it, and its own hash covers its fields."""
    if entry.record_type not in chain.CONTENT:
        raise IntegrityError(
            f"{_name(entry)}: unknown record type {entry.record_type!r}: the entry was edited"
        )
    if entry.prev_hash != walk.prev_hash:
        raise IntegrityError(_broken_link(audit, walk, entry))
    expected = chain.link(entry.prev_hash, entry.record_type, entry.record_id, entry.content_hash)
    if entry.hash != expected:
        raise IntegrityError(f"{_name(entry)}: the entry was edited: its hash does not match its fields")
    last = walk.last_id.get(entry.record_type, 0)
    if entry.record_id <= last:
        raise IntegrityError(
            f"{_name(entry)}: records reordered: {entry.record_type} #{entry.record_id} is chained "
            f"after {entry.record_type} #{last}, but ids grow in the order records are made"
        )
    walk.last_id[entry.record_type] = entry.record_id


def _broken_link(audit: AuditStore, walk: _Walk, entry: LedgerEntry) -> str:
    """Say how the chain broke: entries deleted, reordered, or one before this edited."""
    name = _name(entry)
    where = audit.seq_of_hash(entry.prev_hash)
    if where is not None and where > entry.seq:
        return (
            f"{name}: entries reordered: it links to seq {where}, which comes after it "
            f"(expected a link to seq {walk.prev_seq})"
        )
    if entry.seq > walk.prev_seq + 1 and where is None:
        missing = _seqs(walk.prev_seq + 1, entry.seq - 1)
        return f"{name}: ledger {missing} missing: deleted (the chain jumps from seq {walk.prev_seq})"
    if where is not None and where < walk.prev_seq:
        return f"{name}: it links to seq {where}: the entries after seq {where} and before it were replaced"
    return (
        f"{name}: it does not link to seq {walk.prev_seq}: an entry before it was deleted, edited or "
        f"moved (its prev_hash {entry.prev_hash[:12]}... is no entry's hash)"
    )


def _seqs(first: int, last: int) -> str:
    return f"entry seq {first} is" if first == last else f"entries seq {first}..{last} are"


def _check_record(audit: AuditStore, walk: _Walk, entry: LedgerEntry, row: Any) -> None:
    """The record is there, its content hashes as recorded, and a snapshot's blobs are intact."""
    record = f"{_label(entry)} #{entry.record_id} (ledger seq {entry.seq})"
    if row is None:
        raise IntegrityError(f"{record} is missing: its row was deleted")
    if chain.content_hash(chain.CONTENT[entry.record_type](row)) != entry.content_hash:
        raise IntegrityError(f"{record} was edited: its content no longer hashes to its ledger entry")
    if entry.record_type == "snapshot":
        stored = [("body", row.body_hash), ("text", row.text_hash)]
        if row.screenshot_hash:
            stored.append(("screenshot", row.screenshot_hash))
        for label, digest in stored:
            problem = _blob(audit, walk, digest)
            if problem:
                raise IntegrityError(f"{record}: its stored {label} ({digest[:12]}...) {problem}")
    if entry.record_type == "checks":
        _check_digest(audit, walk, entry, row)


def _check_digest(audit: AuditStore, walk: _Walk, entry: LedgerEntry, row: Any) -> None:
    """Each check the digest names is there and hashes to its leaf, or a chained prune deleted it;
    no other check sits in its id range."""
    where = f"check digest #{row.id}, ledger seq {entry.seq}"
    ids = list(chain.expand(chain.parse_ranges(row.ids)))
    if len(row.leaves) != LEAF * len(ids):
        raise IntegrityError(f"{where}: it holds {len(row.leaves) // LEAF} hashes for {len(ids)} checks")
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        present = audit.checks_between(chunk[0], chunk[-1])
        for offset, check_id in enumerate(chunk, start):
            found = present.pop(check_id, None)
            prune_id = _pruned_by(walk, check_id)
            if found is None:
                if prune_id is None:
                    raise IntegrityError(f"check #{check_id} ({where}) is missing: its row was deleted")
                walk.pruned += 1
                continue
            if prune_id is not None:
                raise IntegrityError(
                    f"check #{check_id} ({where}) was deleted by prune record #{prune_id} "
                    "but is there again: it was inserted afterwards"
                )
            if chain.check_leaf(found) != row.leaves[offset * LEAF : (offset + 1) * LEAF]:
                raise IntegrityError(
                    f"check #{check_id} ({where}) was edited: its content no longer hashes as recorded"
                )
            walk.checks += 1
        if present:
            raise IntegrityError(
                f"check #{min(present)} is not in {where}, which covers checks "
                f"#{row.first_id}..#{row.last_id}: it was inserted outside pledge-monitor"
            )


def _blob(audit: AuditStore, walk: _Walk, digest: str) -> str | None:
    if digest in walk.blobs:
        return None
    problem = audit.blob_problem(digest)
    if problem is None:
        walk.blobs.add(digest)
    return problem


def _check_unledgered(audit: AuditStore) -> None:
    found = audit.first_unledgered()
    if found is not None:
        kind, rid = found
        raise IntegrityError(
            f"{LABEL.get(kind, kind)} #{rid} has no ledger entry: it was added outside pledge-monitor, "
            "or its entry was deleted"
        )
    check_id = audit.first_undigested_check()
    if check_id is not None:
        raise IntegrityError(
            f"check #{check_id} is in no check digest: it was added outside pledge-monitor, "
            "or its digest and ledger entry were deleted"
        )


def _check_unsealed(audit: AuditStore) -> int:
    """Checks after the newest digest wait for the next one (daily at most); one dated well before
    that digest was not recorded by pledge-monitor."""
    count, oldest, sealed_at = audit.unsealed_checks()
    if count and oldest is not None and sealed_at is not None and oldest < sealed_at - UNSEALED_SLACK:
        found = audit.oldest_unsealed_check()
        raise IntegrityError(
            f"check #{found} is dated {_when(oldest)}, before the newest check digest "
            f"({_when(sealed_at)}), but is in none: it was added behind the chain"
        )
    return count


def _check_other_blobs(audit: AuditStore, walk: _Walk) -> None:
    for digest in audit.blob_hashes():
        if digest not in walk.blobs:
            problem = _blob(audit, walk, digest)
            if problem:
                raise IntegrityError(f"stored content {digest}: {problem}")


HEAD_PREFIX = re.compile(r"[0-9a-f]{4,64}")


def find_published(audit: AuditStore, published: str) -> tuple[int, str]:
    """The entry a published head names, whole or by a unique prefix (``3f2a9c``, ``3f2a...``).

    A head matching no entry is "not found": a typo, a head of another database, or a chain
    rewritten or cut short; the walk before this has already checked the chain itself.
    """
    prefix = published.strip().lower().rstrip(".…")
    if not HEAD_PREFIX.fullmatch(prefix):
        raise MonitorError(f"--head {published!r}: expected a chain head: 4 to 64 hex characters")
    found = audit.entries_with_prefix(prefix)
    if not found:
        raise NotFoundError(
            f"chain head {prefix} not found: no ledger entry's hash starts with it. Check it was copied "
            "whole from a report of this database; if it was, the history up to it was rewritten or cut short"
        )
    if len(found) > 1:
        raise MonitorError(
            f"chain head {prefix} is ambiguous: entries seq {found[0][0]} and {found[1][0]} start with it; "
            "give more characters"
        )
    return found[0]
