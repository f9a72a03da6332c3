"""The dashboard's reads: pages of records, newest first, by stable id.

Pages are keyset pages (``id < before``), never OFFSET: page 500 of 100,000 changes costs what
page 1 costs. Rows are the same mappings ``export`` writes (``monitor.audit.export.COLUMNS``),
so the JSON API and the export files carry the same data under the same names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select

from monitor.store import models as m
from monitor.store.audit_queries import changes_export, checks_export, events_export, pledges_export
from monitor.store.repo import Store

Row = dict[str, Any]


@dataclass(frozen=True)
class Page:
    """Some rows, and the id to ask for the next (older) page with, if there is one."""

    rows: list[Row]
    next_before: int | str | None


@dataclass(frozen=True)
class SourceTimes:
    last_check_at: datetime | None
    last_good_at: datetime | None
    health: str


# What the sources list and a source's page show of a source: one list, so the two never differ.
_SOURCE_COLUMNS = (
    m.Source.id,
    m.Source.url,
    m.Source.kind,
    m.Source.active,
    m.Source.health,
    m.Source.failures,
    m.Source.last_check_at,
    m.Source.last_good_at,
    m.Source.next_check_at,
    m.Source.moved_to,
    m.Source.parent_id,
)


class WebStore:
    """Typed reads for the dashboard and its API, over the same engine as ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _page(
        self, stmt: Select[*tuple[Any, ...]], id_column: Any, before: int | str | None, limit: int
    ) -> Page:
        if before is not None:
            stmt = stmt.where(id_column < before)
        stmt = stmt.order_by(id_column.desc()).limit(limit + 1)
        with self.store.session() as s:
            rows = [dict(r) for r in s.execute(stmt).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, rows[-1]["id"] if more and rows else None)

    def _one(self, stmt: Select[*tuple[Any, ...]]) -> Row | None:
        with self.store.session() as s:
            row = s.execute(stmt).mappings().first()
        return dict(row) if row else None

    # -- pledges and sources -------------------------------------------------------------------

    def pledges(self) -> list[Row]:
        """Every pledge, by company: few enough (hundreds) to filter in memory."""
        with self.store.session() as s:
            stmt = pledges_export().order_by(m.Pledge.company, m.Pledge.id)
            return [dict(r) for r in s.execute(stmt).mappings()]

    def pledge(self, pledge_id: str) -> Row | None:
        return self._one(pledges_export().where(m.Pledge.id == pledge_id))

    def source_times(self, source_ids: Sequence[str]) -> dict[str, SourceTimes]:
        if not source_ids:
            return {}
        src = m.Source
        stmt = select(src.id, src.last_check_at, src.last_good_at, src.health).where(
            src.id.in_(list(set(source_ids)))
        )
        with self.store.session() as s:
            return {sid: SourceTimes(check, good, health) for sid, check, good, health in s.execute(stmt)}

    def sources(self, q: str | None, before: str | None, limit: int) -> Page:
        src = m.Source
        stmt = select(*_SOURCE_COLUMNS)
        if q:
            stmt = stmt.where(or_(_matches(src.id, q), _matches(src.url, q)))
        return self._page(stmt, src.id, before, limit)

    def source(self, source_id: str) -> Row | None:
        return self._one(select(*_SOURCE_COLUMNS).where(m.Source.id == source_id))

    def snapshots_of(self, source_id: str, limit: int) -> list[tuple[int, datetime]]:
        stmt = (
            select(m.Snapshot.id, m.Snapshot.fetched_at)
            .where(m.Snapshot.source_id == source_id)
            .order_by(m.Snapshot.id.desc())
            .limit(limit)
        )
        with self.store.session() as s:
            return [(sid, at) for sid, at in s.execute(stmt)]

    # -- checks, changes, events, alerts ---------------------------------------------------------

    def checks(self, source_id: str | None, before: int | None, limit: int) -> Page:
        stmt = checks_export()
        if source_id:
            stmt = stmt.where(m.Check.source_id == source_id)
        return self._page(stmt, m.Check.id, before, limit)

    def changes(
        self, *, q: str | None, source_ids: Sequence[str] | None, before: int | None, limit: int
    ) -> Page:
        stmt = changes_export()
        if source_ids is not None:
            stmt = stmt.where(m.Change.source_id.in_(list(source_ids)))
        if q:
            stmt = stmt.where(or_(_matches(m.Change.summary, q), _matches(m.Change.source_id, q)))
        return self._page(stmt, m.Change.id, before, limit)

    def change(self, change_id: int) -> Row | None:
        return self._one(changes_export().where(m.Change.id == change_id))

    def change_delta(self, change_id: int) -> tuple[str, str] | None:
        """The text hash of the snapshot before, and the stored delta: enough to rebuild the diff."""
        stmt = (
            select(m.Snapshot.text_hash, m.Change.delta)
            .join(m.Snapshot, m.Snapshot.id == m.Change.from_snapshot_id)
            .where(m.Change.id == change_id)
        )
        with self.store.session() as s:
            row = s.execute(stmt).first()
        return (row[0], row[1]) if row else None

    def events(
        self,
        *,
        q: str | None = None,
        kind: str | None = None,
        pledge_ids: Sequence[str] | None = None,
        source_id: str | None = None,
        change_id: int | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> Page:
        ev = m.Event
        stmt = events_export()
        if q:
            stmt = stmt.where(or_(_matches(ev.title, q), _matches(ev.kind, q)))
        if kind:
            stmt = stmt.where(ev.kind == kind)
        if pledge_ids is not None:
            stmt = stmt.where(ev.pledge_id.in_(list(pledge_ids)))
        if source_id:
            stmt = stmt.where(ev.source_id == source_id)
        if change_id is not None:
            stmt = stmt.where(ev.change_id == change_id)
        return self._page(stmt, ev.id, before, limit)

    def event(self, event_id: int) -> Row | None:
        return self._one(events_export().where(m.Event.id == event_id))

    def alerts(
        self,
        *,
        status: str | None = None,
        route: str | None = None,
        event_ids: Sequence[int] | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> Page:
        a, ev = m.Alert, m.Event
        stmt = select(
            a.id,
            a.event_id,
            a.route,
            a.status,
            a.attempts,
            a.next_attempt_at,
            a.sent_at,
            ev.kind,
            ev.severity,
            ev.title,
            ev.source_id,
            ev.pledge_id,
            ev.created_at,
        ).join(ev, ev.id == a.event_id)
        if status:
            stmt = stmt.where(a.status == status)
        if route:
            stmt = stmt.where(a.route == route)
        if event_ids is not None:
            stmt = stmt.where(a.event_id.in_(list(event_ids)))
        return self._page(stmt, a.id, before, limit)

    def alert_errors(self, alert_ids: Sequence[int]) -> dict[int, str | None]:
        """``last_error`` of some alerts (free of secrets when stored; see outbox.Progress)."""
        if not alert_ids:
            return {}
        with self.store.session() as s:
            rows = s.execute(select(m.Alert.id, m.Alert.last_error).where(m.Alert.id.in_(list(alert_ids))))
            return dict(rows)

    def companies(self) -> list[str]:
        with self.store.session() as s:
            return list(s.scalars(select(m.Pledge.company).distinct().order_by(m.Pledge.company)))

    def routes(self) -> list[str]:
        """Routes that alerts were ever queued for."""
        with self.store.session() as s:
            return list(s.scalars(select(m.Alert.route).distinct().order_by(m.Alert.route)))


def _matches(column: Any, q: str) -> Any:
    """``q`` anywhere in the column, any case, with LIKE's own wildcards taken literally."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
