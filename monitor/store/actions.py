"""People's actions through the dashboard, and the tokens that allow them.

A token is stored as its sha256 only (tokens are long random strings, so a fast hash is
enough), with a name that says whose it is. Every action (acknowledging an event, muting a
source or a route until a date) is a row chained in the integrity ledger in the same
transaction, naming the token's name and the time: who did what, and when, is as
tamper-evident as what was fetched.

A mute is the latest ``mute`` action on its target: a mute "until now" lifts an earlier one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.orm import Session

from monitor.errors import MonitorError, NotFoundError
from monitor.events import ActionKind, ActionTarget
from monitor.store import models as m
from monitor.store.recording import _Ledger, _lock_ledger
from monitor.store.repo import Store

TARGET_KINDS = (ActionTarget.SOURCE, ActionTarget.ROUTE)  # what a mute can be about


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself, nor its hash."""

    name: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class ActionRow:
    id: int
    kind: ActionKind
    actor: str
    at: datetime
    target_kind: ActionTarget
    target: str
    until: datetime | None
    note: str


@dataclass(frozen=True)
class Mute:
    """A source or a route whose alerts are kept but not sent until ``until``."""

    target_kind: ActionTarget
    target: str
    until: datetime
    actor: str
    at: datetime
    note: str


class ActionStore:
    """Tokens and actions, over the same engine as ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- tokens ------------------------------------------------------------------------------

    def add_token(self, name: str, digest: str, now: datetime) -> TokenInfo:
        try:
            with self.store.session.begin() as s:
                s.add(m.Token(name=name, digest=digest, created_at=now))
        except SqlIntegrityError:
            raise MonitorError(f"a token named {name!r} exists already: choose another name") from None
        return TokenInfo(name, now, None)

    def revoke_token(self, name: str, now: datetime) -> None:
        with self.store.session.begin() as s:
            done = s.execute(
                update(m.Token)
                .where(m.Token.name == name, m.Token.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            if not getattr(done, "rowcount", 0):
                raise NotFoundError(f"no active token named {name!r} (see `pledge-monitor token list`)")

    def tokens(self) -> list[TokenInfo]:
        with self.store.session() as s:
            rows = s.execute(
                select(m.Token.name, m.Token.created_at, m.Token.revoked_at).order_by(m.Token.id)
            )
            return [TokenInfo(*row) for row in rows]

    def token_name(self, digest: str) -> str | None:
        """The name of the active token with this hash, or None."""
        with self.store.session() as s:
            return s.scalar(
                select(m.Token.name).where(m.Token.digest == digest, m.Token.revoked_at.is_(None))
            )

    # -- actions -----------------------------------------------------------------------------

    def acknowledge(self, event_id: int, *, actor: str, note: str, now: datetime) -> ActionRow:
        with self.store.session.begin() as s:
            if s.get(m.Event, event_id) is None:
                raise NotFoundError(f"no event with id {event_id}")
            return _act(s, ActionKind.ACK, actor, now, ActionTarget.EVENT, str(event_id), None, note)

    def mute(
        self, target_kind: str, target: str, *, until: datetime, actor: str, note: str, now: datetime
    ) -> ActionRow:
        """Mute a source or a route until ``until`` (``until <= now`` lifts a mute)."""
        if target_kind not in TARGET_KINDS:
            raise MonitorError(f"cannot mute a {str(target_kind)!r}: choose one of {', '.join(TARGET_KINDS)}")
        kind = ActionTarget(target_kind)
        with self.store.session.begin() as s:
            if kind == ActionTarget.SOURCE and s.get(m.Source, target) is None:
                raise NotFoundError(f"no source '{target}' in the database")
            return _act(s, ActionKind.MUTE, actor, now, kind, target, until, note)

    def acks(self, event_ids: Sequence[int]) -> dict[int, list[ActionRow]]:
        """The acknowledgements of some events, oldest first."""
        if not event_ids:
            return {}
        keys = [str(i) for i in event_ids]
        stmt = select(m.Action).where(
            m.Action.kind == ActionKind.ACK,
            m.Action.target_kind == ActionTarget.EVENT,
            m.Action.target.in_(keys),
        )
        found: dict[int, list[ActionRow]] = {}
        with self.store.session() as s:
            for row in s.scalars(stmt.order_by(m.Action.id)):
                found.setdefault(int(row.target), []).append(_row(row))
        return found

    def actions(self, limit: int = 100) -> list[ActionRow]:
        with self.store.session() as s:
            return [_row(r) for r in s.scalars(select(m.Action).order_by(m.Action.id.desc()).limit(limit))]

    def active_mutes(self, now: datetime) -> list[Mute]:
        return active_mutes(self.store.engine, now)


def active_mutes(engine: Engine, now: datetime) -> list[Mute]:
    """The mutes in force at ``now``: the latest mute of each target, if it ends after ``now``."""
    latest = (
        select(func.max(m.Action.id))
        .where(m.Action.kind == ActionKind.MUTE)
        .group_by(m.Action.target_kind, m.Action.target)
    )
    with Session(engine) as s:
        rows = s.scalars(select(m.Action).where(m.Action.id.in_(latest)).order_by(m.Action.target))
        return [
            Mute(r.target_kind, r.target, r.until, r.actor, r.at, r.note)
            for r in rows
            if r.until is not None and r.until > now
        ]


def _act(
    s: Session,
    kind: ActionKind,
    actor: str,
    now: datetime,
    target_kind: ActionTarget,
    target: str,
    until: datetime | None,
    note: str,
) -> ActionRow:
    _lock_ledger(s)
    row = m.Action(
        kind=kind, actor=actor, at=now, target_kind=target_kind, target=target, until=until, note=note
    )
    s.add(row)
    s.flush()
    _Ledger(s).append("action", row, now)
    return _row(row)


def _row(row: m.Action) -> ActionRow:
    return ActionRow(row.id, row.kind, row.actor, row.at, row.target_kind, row.target, row.until, row.note)
