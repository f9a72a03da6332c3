"""The tables. Alembic migrations in ``migrations/`` must produce exactly this schema."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from monitor import events
from monitor.events import (
    ActionKind,
    ActionTarget,
    AlertStatus,
    ArchiveStatus,
    CheckOutcome,
    EventKind,
    PledgeState,
    SourceHealth,
    StampStatus,
)
from monitor.watchlist.models import SourceKind

_E = TypeVar("_E", bound=StrEnum)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class StrEnumColumn(TypeDecorator[_E]):
    """A column of one of the domain's enums, stored as its value in a plain VARCHAR (the schema and
    the rows are those of the strings it replaced: no migration), read back as the enum member.
    What is written is typed by the stages that make it (mypy holds them to the enum)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[_E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: _E | str | None, dialect: Dialect) -> str | None:
        # plain text as given: a filter compares with text (LIKE, a kind typed in a search box)
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> _E | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Source(Base):
    """A watched URL and its scheduling and health state."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[SourceKind] = mapped_column(StrEnumColumn(SourceKind, 20), default=SourceKind.PAGE)
    rules: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_s: Mapped[int] = mapped_column(Integer, default=21600)
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    last_check_at: Mapped[datetime | None]
    last_good_at: Mapped[datetime | None]
    health: Mapped[SourceHealth] = mapped_column(StrEnumColumn(SourceHealth, 20), default=SourceHealth.NEW)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    gone_since: Mapped[datetime | None]
    gone_checks: Mapped[int] = mapped_column(Integer, default=0)  # checks in a row that saw it gone
    suspect_hash: Mapped[str | None] = mapped_column(String(64))  # a text awaiting its re-check
    suspect_since: Mapped[datetime | None]
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(64))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    snapshot_id: Mapped[int | None] = mapped_column(Integer)
    moved_to: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    parent_id: Mapped[str | None] = mapped_column(String(100))  # an item page: the feed it came from
    pledge_ids: Mapped[list[Any] | None]  # an item page: the pledges it mentions


class Pledge(Base):
    """A pledge as last synced from the watchlist, with its current state."""

    __tablename__ = "pledges"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    company: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    made_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[PledgeState] = mapped_column(StrEnumColumn(PledgeState, 20), default=PledgeState.UNKNOWN)
    state_since: Mapped[datetime | None]
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ClauseState(Base):
    """Where and how a clause of a pledge was last found on one source."""

    __tablename__ = "clause_states"

    pledge_id: Mapped[str] = mapped_column(ForeignKey("pledges.id"), primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    clause_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    clause: Mapped[str] = mapped_column(Text)
    state: Mapped[events.ClauseState] = mapped_column(
        StrEnumColumn(events.ClauseState, 20), default=events.ClauseState.UNKNOWN
    )
    pending: Mapped[events.ClauseState | None] = mapped_column(StrEnumColumn(events.ClauseState, 20))
    pending_since: Mapped[datetime | None]
    location: Mapped[int | None] = mapped_column(Integer)
    passage: Mapped[str | None] = mapped_column(Text)
    similarity: Mapped[float | None] = mapped_column(Float)
    context: Mapped[str | None] = mapped_column(Text)  # the sentence around it when last intact
    updated_at: Mapped[datetime | None]


class Blob(Base):
    """Content-addressed, compressed bytes: raw bodies, extracted texts, screenshots (store/blobs.py)."""

    __tablename__ = "blobs"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the raw bytes
    size: Mapped[int] = mapped_column(Integer)
    codec: Mapped[str] = mapped_column(String(16))
    base: Mapped[str | None] = mapped_column(String(64))  # the blob this one is a delta against
    depth: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Check(Base):
    """One attempt to fetch a source: the attestation log. Kept small: one per fetch."""

    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_source_at", "source_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    at: Mapped[datetime]
    ms: Mapped[int] = mapped_column(Integer)
    status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[CheckOutcome] = mapped_column(StrEnumColumn(CheckOutcome, 16))
    final_url: Mapped[str | None] = mapped_column(Text)  # only when it differs from the source URL
    redirects: Mapped[list[Any] | None]
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    snapshot_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)  # e.g. the page needed repair to be read


class Snapshot(Base):
    """One distinct fetched body of a source, and the text extracted from it."""

    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_source", "source_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"))
    fetched_at: Mapped[datetime]
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]]  # response headers as received
    request_headers: Mapped[dict[str, Any]]  # request headers as sent
    body_hash: Mapped[str] = mapped_column(ForeignKey("blobs.hash"))
    text_hash: Mapped[str] = mapped_column(ForeignKey("blobs.hash"))
    rules: Mapped[str] = mapped_column(String(64))
    # a PNG of the watched part as the browser showed it (``screenshot: true`` sources only)
    screenshot_hash: Mapped[str | None] = mapped_column(ForeignKey("blobs.hash"))


class FeedItem(Base):
    """An item seen in a feed or listing source; the first sighting is what gets announced."""

    __tablename__ = "feed_items"
    __table_args__ = (UniqueConstraint("source_id", "key_hash", name="uq_feed_items_source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    key_hash: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    published: Mapped[datetime | None]
    first_seen: Mapped[datetime]
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)  # seen on the feed's first check
    page_source_id: Mapped[str | None] = mapped_column(String(100))  # the item page, when tracked
    snapshot_id: Mapped[int | None] = mapped_column(Integer)  # the item page as first fetched


class Change(Base):
    """The difference between two consecutive distinct texts of a source."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_source", "source_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    from_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    to_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    detected_at: Mapped[datetime]
    added_words: Mapped[int] = mapped_column(Integer)
    removed_words: Mapped[int] = mapped_column(Integer)
    delta: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)


class Event(Base):
    """Something people may need to know; the alerts outbox fans it out to routes."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_at", "created_at"), Index("ix_events_change", "change_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[EventKind] = mapped_column(StrEnumColumn(EventKind, 40))
    severity: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    pledge_id: Mapped[str | None] = mapped_column(String(100), index=True)
    source_id: Mapped[str | None] = mapped_column(String(100), index=True)
    change_id: Mapped[int | None] = mapped_column(Integer)
    check_id: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]]


class Alert(Base):
    """One Event to one Route: the outbox row. Unique per (event, route) so it is sent once."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("event_id", "route", name="uq_alerts_event_route"),
        Index("ix_alerts_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    route: Mapped[str] = mapped_column(String(100))
    status: Mapped[AlertStatus] = mapped_column(StrEnumColumn(AlertStatus, 16), default=AlertStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]


class Ledger(Base):
    """The integrity chain: each entry hashes one record's content and the previous entry."""

    __tablename__ = "ledger"
    __table_args__ = (UniqueConstraint("record_type", "record_id", name="uq_ledger_record"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class CheckDigest(Base):
    """Checks in the integrity chain: one row per recorded batch, holding each check's hash.

    ``ids`` lists the check ids covered as ranges ("101-150,152"); ``leaves`` holds the sha256 of
    each covered check's content, 32 bytes per check in id order, so verify can name the one check
    that was edited, deleted or inserted. The row itself is chained (record type ``checks``).
    """

    __tablename__ = "check_digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_id: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer, index=True)
    ids: Mapped[str] = mapped_column(Text)
    leaves: Mapped[bytes] = mapped_column(LargeBinary)
    at: Mapped[datetime]


class Prune(Base):
    """A chained record of checks that ``prune`` deleted: their digest still counts them."""

    __tablename__ = "prunes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    before: Mapped[datetime]
    ids: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer)


class Timestamp(Base):
    """An RFC 3161 token from a Time-Stamp Authority over one chain head, or a failed attempt."""

    __tablename__ = "timestamps"
    __table_args__ = (Index("ix_timestamps_seq", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)  # the ledger entry stamped
    head_hash: Mapped[str] = mapped_column(String(64))
    tsa_url: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime]
    status: Mapped[StampStatus] = mapped_column(StrEnumColumn(StampStatus, 16))
    token: Mapped[bytes | None] = mapped_column(LargeBinary)  # the DER TimeStampResp as received
    gen_time: Mapped[datetime | None]  # the time the TSA signed
    error: Mapped[str | None] = mapped_column(Text)


class Archive(Base):
    """A change's page submitted to a public web archive (Save Page Now): an outbox row of its own."""

    __tablename__ = "archives"
    __table_args__ = (Index("ix_archives_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id"), unique=True)
    url: Mapped[str] = mapped_column(Text)  # the page to save
    status: Mapped[ArchiveStatus] = mapped_column(
        StrEnumColumn(ArchiveStatus, 16), default=ArchiveStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    job_id: Mapped[str | None] = mapped_column(Text)  # the Save Page Now job, once submitted
    submitted_at: Mapped[datetime | None]  # when that job was submitted: the rate limit counts these
    archive_url: Mapped[str | None] = mapped_column(Text)
    saved_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]


class Worker(Base):
    """A running scheduler process: its heartbeat feeds ``status --health``."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(200))


class Token(Base):
    """An access token for the dashboard's actions: only its sha256 is kept, never the token."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Action(Base):
    """What a person did through the dashboard (acknowledge an event, mute a source or a route);
    chained in the ledger like the records, with who (the token's name) and when."""

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_target", "target_kind", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[ActionKind] = mapped_column(StrEnumColumn(ActionKind, 16))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    target_kind: Mapped[ActionTarget] = mapped_column(StrEnumColumn(ActionTarget, 16))
    target: Mapped[str] = mapped_column(String(100))
    until: Mapped[datetime | None]  # a mute's end (a mute ending now lifts it)
    note: Mapped[str] = mapped_column(Text, default="")
