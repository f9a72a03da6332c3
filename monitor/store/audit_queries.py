"""The auditor's queries: streaming reads for history, export, report and verify; prune's deletes.

Audit commands run over the whole history, which grows without bound (a check every few hours for
years, per source), so every read that can be large streams in batches (``yield_per``: a plain
cursor on SQLite, a server-side cursor on PostgreSQL) and no caller ever holds a whole table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, and_, delete, func, or_, select

from monitor.audit.history import History, Scope, build
from monitor.errors import NotFoundError
from monitor.events import ArchiveStatus, CheckOutcome
from monitor.store import models as m
from monitor.store.archives import archive_urls
from monitor.store.recording import load_blob, pledge_clauses, record_prune, seal_checks
from monitor.store.repo import Store

BATCH = 1000
RECORD_MODELS: dict[str, Any] = {  # each has an integer ``id``
    "snapshot": m.Snapshot,
    "change": m.Change,
    "event": m.Event,
    "action": m.Action,
    "checks": m.CheckDigest,
    "prune": m.Prune,
    "archive": m.Archive,  # chained once saved
}


class CheckRow(NamedTuple):
    """What history and prune need of a check: small, so a million of them stream cheaply."""

    id: int
    source_id: str
    at: datetime
    outcome: CheckOutcome
    status: int | None
    snapshot_id: int | None
    error: str | None
    note: str | None = None  # e.g. the page needed repair to be read


class LedgerEntry(NamedTuple):
    seq: int
    record_type: str
    record_id: int
    content_hash: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class RunSpan:
    """A stretch of one source's checks whose middle prune may delete: strictly between the ends."""

    source_id: str
    first_id: int
    first_at: datetime
    last_id: int
    last_at: datetime


class AuditStore:
    """Read-mostly access for the audit commands, over the same engine as ``Store``."""

    def __init__(self, store: Store, batch: int = BATCH) -> None:
        self.store = store
        self.batch = batch

    # -- streaming ---------------------------------------------------------------------------

    def _stream(self, stmt: Select[*tuple[Any, ...]]) -> Iterator[Any]:
        """Rows in batches; the session (and its cursor) lives as long as the iteration."""
        with self.store.session() as s:
            yield from s.execute(stmt.execution_options(yield_per=self.batch))

    def _stream_mappings(self, stmt: Select[*tuple[Any, ...]]) -> Iterator[Mapping[str, Any]]:
        with self.store.session() as s:
            for row in s.execute(stmt.execution_options(yield_per=self.batch)).mappings():
                yield cast(Mapping[str, Any], row)

    def check_rows(
        self, source_ids: Sequence[str] | None = None, since: datetime | None = None
    ) -> Iterator[CheckRow]:
        """Checks per source in time order: the order runs are made of."""
        c = m.Check
        stmt = select(c.id, c.source_id, c.at, c.outcome, c.status, c.snapshot_id, c.error, c.note).order_by(
            c.source_id, c.at, c.id
        )
        if source_ids is not None:
            stmt = stmt.where(c.source_id.in_(source_ids))
        if since is not None:
            stmt = stmt.where(c.at >= since)
        for row in self._stream(stmt):
            yield CheckRow(*row)

    # -- export ------------------------------------------------------------------------------

    def export_checks(self, since: datetime | None) -> Iterator[Mapping[str, Any]]:
        stmt = checks_export().order_by(m.Check.id)
        if since is not None:
            stmt = stmt.where(m.Check.at >= since)
        return self._stream_mappings(stmt)

    def export_changes(self, since: datetime | None) -> Iterator[Mapping[str, Any]]:
        stmt = changes_export().order_by(m.Change.id)
        if since is not None:
            stmt = stmt.where(m.Change.detected_at >= since)
        return self._stream_mappings(stmt)

    def export_events(self, since: datetime | None) -> Iterator[Mapping[str, Any]]:
        stmt = events_export().order_by(m.Event.id)
        if since is not None:
            stmt = stmt.where(m.Event.created_at >= since)
        return self._stream_mappings(stmt)

    def export_pledges(self) -> Iterator[Mapping[str, Any]]:
        p = m.Pledge
        return self._stream_mappings(pledges_export().order_by(p.company, p.id))

    # -- history and report ------------------------------------------------------------------

    def scope(self, *, pledge_id: str | None = None, source_id: str | None = None) -> Scope:
        """What a history covers; a pledge brings its sources and its current clause state."""
        with self.store.session() as s:
            if pledge_id is not None:
                pledge = s.get(m.Pledge, pledge_id)
                if pledge is None:
                    raise NotFoundError(
                        f"no pledge '{pledge_id}' in the database (see `pledge-monitor status`)"
                    )
                spec = pledge.spec or {}
                sources = tuple(spec.get("sources", ()))
                clauses = pledge_clauses(s, pledge)
                return Scope("pledge", pledge_id, sources, clauses, len(spec.get("clauses", ())))
            if source_id is not None:
                if s.get(m.Source, source_id) is None:
                    raise NotFoundError(
                        f"no source '{source_id}' in the database (see `pledge-monitor status`)"
                    )
                return Scope("source", source_id, (source_id,))
        return Scope("all")

    def history(self, scope: Scope, since: datetime | None = None) -> History:
        """The timeline and attestation of a scope; the checks stream through the fold."""
        sources = scope.source_ids
        if scope.kind == "pledge":
            events = self.events_about(pledge_id=scope.id, source_ids=sources)
        else:
            events = self.events_about(source_ids=sources)
        changes = self.changes(sources, since)
        copies = archive_urls(self.store.engine, [c.id for c in changes])
        return build(scope, self.check_rows(sources, since), changes, events, since, copies)

    def changes(self, source_ids: Sequence[str] | None, since: datetime | None = None) -> list[m.Change]:
        """Changes are few (one per distinct text), so a list is fine."""
        stmt = select(m.Change).order_by(m.Change.id)
        if source_ids is not None:
            stmt = stmt.where(m.Change.source_id.in_(source_ids))
        if since is not None:
            stmt = stmt.where(m.Change.detected_at >= since)
        with self.store.session() as s:
            return list(s.scalars(stmt))

    def events_about(
        self, *, pledge_id: str | None = None, source_ids: Sequence[str] | None = None
    ) -> list[m.Event]:
        """A pledge's own events, and the events of its sources that name no pledge."""
        ev = m.Event
        stmt = select(ev).order_by(ev.created_at, ev.id)
        clauses = []
        if pledge_id is not None:
            clauses.append(ev.pledge_id == pledge_id)
        if source_ids is not None:
            on_source = ev.source_id.in_(source_ids)
            clauses.append(and_(on_source, ev.pledge_id.is_(None)) if pledge_id is not None else on_source)
        if clauses:
            stmt = stmt.where(or_(*clauses))
        with self.store.session() as s:
            return list(s.scalars(stmt))

    def events_by_change(self) -> dict[int, list[m.Event]]:
        """The events each change raised, in one query rather than one per change."""
        grouped: dict[int, list[m.Event]] = {}
        stmt = select(m.Event).where(m.Event.change_id.is_not(None)).order_by(m.Event.id)
        with self.store.session() as s:
            for event in s.scalars(stmt):
                grouped.setdefault(event.change_id or 0, []).append(event)
        return grouped

    def recent_events(self, limit: int) -> list[m.Event]:
        with self.store.session() as s:
            rows = s.scalars(select(m.Event).order_by(m.Event.id.desc()).limit(limit))
            return list(rows)

    def snapshots(self) -> Iterator[m.Snapshot]:
        """Every snapshot, one batch of rows in memory at a time."""
        with self.store.session() as s:
            yield from s.scalars(select(m.Snapshot).order_by(m.Snapshot.id).execution_options(yield_per=100))

    def snapshot_ids(self, source_ids: Sequence[str]) -> list[tuple[int, datetime]]:
        stmt = (
            select(m.Snapshot.id, m.Snapshot.fetched_at)
            .where(m.Snapshot.source_id.in_(source_ids))
            .order_by(m.Snapshot.id)
        )
        with self.store.session() as s:
            return [(sid, at) for sid, at in s.execute(stmt)]

    def ledger_entry(self, record_type: str, record_id: int) -> LedgerEntry | None:
        stmt = _ledger_select().where(m.Ledger.record_type == record_type, m.Ledger.record_id == record_id)
        with self.store.session() as s:
            row = s.execute(stmt).first()
        return LedgerEntry(*row) if row else None

    # -- verify ------------------------------------------------------------------------------

    def head(self) -> LedgerEntry | None:
        with self.store.session() as s:
            row = s.execute(_ledger_select().order_by(m.Ledger.seq.desc()).limit(1)).first()
        return LedgerEntry(*row) if row else None

    def first_entry(self) -> LedgerEntry | None:
        with self.store.session() as s:
            row = s.execute(_ledger_select().order_by(m.Ledger.seq).limit(1)).first()
        return LedgerEntry(*row) if row else None

    def ledger(self) -> Iterator[LedgerEntry]:
        for row in self._stream(_ledger_select().order_by(m.Ledger.seq)):
            yield LedgerEntry(*row)

    def records(self, record_type: str, ids: Iterable[int]) -> dict[int, Any]:
        """Rows of one record type by id (a batch of the ledger walk at a time)."""
        model = RECORD_MODELS[record_type]
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        with self.store.session() as s:
            rows: list[Any] = list(s.scalars(select(model).where(model.id.in_(wanted))))
        return {row.id: row for row in rows}

    def entry_at(self, seq: int) -> LedgerEntry | None:
        with self.store.session() as s:
            row = s.execute(_ledger_select().where(m.Ledger.seq == seq)).first()
        return LedgerEntry(*row) if row else None

    def ledger_between(self, first: int, last: int) -> list[LedgerEntry]:
        """A segment of the chain, both ends included (an evidence pack carries one)."""
        stmt = _ledger_select().where(m.Ledger.seq >= first, m.Ledger.seq <= last).order_by(m.Ledger.seq)
        with self.store.session() as s:
            return [LedgerEntry(*row) for row in s.execute(stmt)]

    def entries_with_prefix(self, prefix: str, limit: int = 2) -> list[tuple[int, str]]:
        """(seq, hash) of ledger entries whose hash starts with ``prefix`` (lowercase hex)."""
        with self.store.session() as s:
            query = select(m.Ledger.seq, m.Ledger.hash).where(
                m.Ledger.hash.startswith(prefix, autoescape=True)
            )
            return [(row.seq, row.hash) for row in s.execute(query.order_by(m.Ledger.seq).limit(limit))]

    def seq_of_hash(self, digest: str) -> int | None:
        with self.store.session() as s:
            return s.scalar(select(m.Ledger.seq).where(m.Ledger.hash == digest).limit(1))

    def first_unledgered(self) -> tuple[str, int] | None:
        """The lowest-id record of each type that no ledger entry names, earliest type first."""
        found: list[tuple[str, int]] = []
        with self.store.session() as s:
            for record_type, model in RECORD_MODELS.items():
                listed = select(m.Ledger.record_id).where(m.Ledger.record_type == record_type)
                query = select(func.min(model.id)).where(model.id.not_in(listed))
                if model is m.Archive:
                    query = query.where(m.Archive.status == ArchiveStatus.SAVED)
                rid = s.scalar(query)
                if rid is not None:
                    found.append((record_type, rid))
        return min(found, key=lambda f: f[1]) if found else None

    def checks_between(self, first: int, last: int) -> dict[int, Any]:
        """Check rows with ids from ``first`` to ``last``: one chunk of a digest."""
        t = m.Check.__table__
        stmt = select(t).where(t.c.id >= first, t.c.id <= last)
        with self.store.session() as s:
            return {row.id: row for row in s.execute(stmt)}

    def prunes(self) -> list[tuple[m.Prune, LedgerEntry | None]]:
        """Every prune record with its ledger entry (prunes are few: one per prune run)."""
        with self.store.session() as s:
            rows = list(s.scalars(select(m.Prune).order_by(m.Prune.id)))
        return [(row, self.ledger_entry("prune", row.id)) for row in rows]

    def first_undigested_check(self) -> int | None:
        """The lowest-id check that no digest's id range covers, below the newest digest's."""
        c, d = m.Check, m.CheckDigest
        covered = select(d.id).where(c.id >= d.first_id, c.id <= d.last_id).exists()
        with self.store.session() as s:
            newest = s.scalar(select(func.max(d.last_id))) or 0
            return s.scalar(select(func.min(c.id)).where(c.id <= newest, ~covered))

    def unsealed_checks(self) -> tuple[int, datetime | None, datetime | None]:
        """Checks after the newest digest (not chained yet): how many, the oldest, and the newest
        digest's time."""
        c, d = m.Check, m.CheckDigest
        with self.store.session() as s:
            newest, sealed_at = s.execute(
                select(d.last_id, d.at).order_by(d.last_id.desc()).limit(1)
            ).first() or (
                0,
                None,
            )
            count, oldest = s.execute(select(func.count(), func.min(c.at)).where(c.id > newest)).one()
        return int(count or 0), oldest, sealed_at

    def oldest_unsealed_check(self) -> int | None:
        c, d = m.Check, m.CheckDigest
        with self.store.session() as s:
            newest = s.scalar(select(func.max(d.last_id))) or 0
            return s.scalar(select(c.id).where(c.id > newest).order_by(c.at, c.id).limit(1))

    def blob_problem(self, digest: str) -> str | None:
        """Why the blob stored under ``digest`` is not the bytes that hash to it, or None."""
        with self.store.session() as s:
            try:
                data = load_blob(s, digest)
            except Exception as exc:  # corrupt compressed data raises zstd's own errors
                return f"does not decompress ({type(exc).__name__}: {exc})"
        actual = hashlib.sha256(data).hexdigest()
        return None if actual == digest else f"decompresses to bytes whose sha256 is {actual}"

    def blob_hashes(self) -> Iterator[str]:
        for (digest,) in self._stream(select(m.Blob.hash).order_by(m.Blob.hash)):
            yield digest

    def counts(self) -> dict[str, int]:
        """Records per type; people's actions only once there are some (most databases have none)."""
        with self.store.session() as s:
            counts = {
                name: int(s.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in RECORD_MODELS.items()
            }
            counts["archive"] = int(
                s.scalar(
                    select(func.count()).select_from(m.Archive).where(m.Archive.status == ArchiveStatus.SAVED)
                )
                or 0
            )
        if not counts["action"]:
            del counts["action"]
        return counts

    # -- prune -------------------------------------------------------------------------------

    def prune_checks(
        self, spans: Iterable[RunSpan], before: datetime, *, dry_run: bool, now: datetime
    ) -> dict[str, int]:
        """Delete (or count) the checks strictly inside each span that are older than ``before``
        and that no snapshot or event names, and chain a record of their ids. One transaction:
        all or nothing."""
        deleted: dict[str, int] = {}
        gone: list[int] = []
        with self.store.session.begin() as s:
            if not dry_run:
                seal_checks(s)  # every check prune deletes is in a digest first
            for span in spans:
                ids = list(s.scalars(select(m.Check.id).where(*_inside(span, before))))
                if not ids:
                    continue
                deleted[span.source_id] = deleted.get(span.source_id, 0) + len(ids)
                gone.extend(ids)
                if not dry_run:
                    for start in range(0, len(ids), BATCH):
                        chunk = ids[start : start + BATCH]
                        s.execute(delete(m.Check).where(m.Check.id.in_(chunk)))
            if not dry_run:
                record_prune(s, gone, before, now)
        return deleted


# -- the rows of `export` (the dashboard's API pages through the same statements) -------------


def checks_export() -> Select[*tuple[Any, ...]]:
    return select(*m.Check.__table__.columns)


def changes_export() -> Select[*tuple[Any, ...]]:
    ch, old, new = m.Change, m.Snapshot.__table__.alias("old"), m.Snapshot.__table__.alias("new")
    return (
        select(
            ch.id,
            ch.source_id,
            ch.detected_at,
            ch.from_snapshot_id,
            ch.to_snapshot_id,
            old.c.fetched_at.label("from_fetched_at"),
            new.c.fetched_at.label("to_fetched_at"),
            new.c.url,
            ch.added_words,
            ch.removed_words,
            ch.summary,
            m.Ledger.seq.label("ledger_seq"),
            m.Ledger.hash.label("ledger_hash"),
            m.Archive.archive_url,
        )
        .join(old, old.c.id == ch.from_snapshot_id, isouter=True)
        .join(new, new.c.id == ch.to_snapshot_id, isouter=True)
        .join(m.Ledger, _ledger_join("change", ch.id), isouter=True)
        .join(
            m.Archive,
            and_(m.Archive.change_id == ch.id, m.Archive.status == ArchiveStatus.SAVED),
            isouter=True,
        )
    )


def events_export() -> Select[*tuple[Any, ...]]:
    ev = m.Event
    return select(
        *ev.__table__.columns,
        m.Ledger.seq.label("ledger_seq"),
        m.Ledger.hash.label("ledger_hash"),
    ).join(m.Ledger, _ledger_join("event", ev.id), isouter=True)


def pledges_export() -> Select[*tuple[Any, ...]]:
    return select(*m.Pledge.__table__.columns)


def _ledger_select() -> Select[*tuple[Any, ...]]:
    lg = m.Ledger
    return select(lg.seq, lg.record_type, lg.record_id, lg.content_hash, lg.prev_hash, lg.hash)


def _ledger_join(record_type: str, id_column: Any) -> Any:
    return and_(m.Ledger.record_type == record_type, m.Ledger.record_id == id_column)


def _inside(span: RunSpan, before: datetime) -> list[Any]:
    c = m.Check
    after_first = or_(c.at > span.first_at, and_(c.at == span.first_at, c.id > span.first_id))
    before_last = or_(c.at < span.last_at, and_(c.at == span.last_at, c.id < span.last_id))
    return [
        c.source_id == span.source_id,
        after_first,
        before_last,
        c.at < before,
        c.id.not_in(select(m.Snapshot.check_id)),
        c.id.not_in(select(m.Event.check_id).where(m.Event.check_id.is_not(None))),
    ]
