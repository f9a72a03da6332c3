"""The vocabulary the stages, the store, alerts, routes and reports share: event kinds and
severities, what a check found, how a source's checks have gone, the state a clause was last seen
in, a pledge's state, where an alert or an archive copy stands in its outbox, what a person did
through the dashboard and to what, and how a timestamp request went.

Enums of strings: the values are what the database holds and templates and exports show, so a
member compares equal to its old string and no stored row changes."""

from __future__ import annotations

import fnmatch
from enum import IntEnum, StrEnum


class Severity(IntEnum):
    """Ordered so that routes can ask for ``min_severity``."""

    INFO = 10
    WARNING = 20
    HIGH = 30
    CRITICAL = 40

    @classmethod
    def parse(cls, name: str) -> Severity:
        return cls[name.strip().upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


class EventKind(StrEnum):
    """What an Event says happened. The value is what the store keeps, routes match
    (``pledge.*``) and alerts and reports show."""

    PLEDGE_REWORDED = "pledge.reworded"
    PLEDGE_WEAKENED = "pledge.weakened"
    PLEDGE_REMOVED = "pledge.removed"
    PLEDGE_RESTORED = "pledge.restored"
    PLEDGE_EXPIRING = "pledge.expiring"
    PLEDGE_EXPIRED = "pledge.expired"
    SOURCE_CHANGED = "source.changed"
    SOURCE_GONE = "source.gone"
    SOURCE_MOVED = "source.moved"
    SOURCE_FAILING = "source.failing"
    SOURCE_RECOVERED = "source.recovered"
    STATEMENT_NEW = "statement.new"

    @property
    def about_pledge(self) -> bool:
        """A pledge's own event (``pledge.*``): what happened to its wording or its deadline."""
        return self.value.startswith("pledge.")


# kind -> default severity (source.gone is raised to critical when the source carries a clause)
EVENT_KINDS: dict[EventKind, Severity] = {
    EventKind.PLEDGE_REWORDED: Severity.HIGH,
    EventKind.PLEDGE_WEAKENED: Severity.CRITICAL,
    EventKind.PLEDGE_REMOVED: Severity.CRITICAL,
    EventKind.PLEDGE_RESTORED: Severity.INFO,
    EventKind.PLEDGE_EXPIRING: Severity.WARNING,
    EventKind.PLEDGE_EXPIRED: Severity.CRITICAL,
    EventKind.SOURCE_CHANGED: Severity.INFO,
    EventKind.SOURCE_GONE: Severity.WARNING,
    EventKind.SOURCE_MOVED: Severity.WARNING,
    EventKind.SOURCE_FAILING: Severity.WARNING,
    EventKind.SOURCE_RECOVERED: Severity.INFO,
    EventKind.STATEMENT_NEW: Severity.HIGH,
}

SEVERITY_NAMES = tuple(s.label for s in Severity)


class ClauseState(StrEnum):
    """The state a clause was last recorded in, on one source that carries it."""

    UNKNOWN = "unknown"  # not assessed yet, or new extraction rules started it afresh
    EXACT = "exact"
    REWORDED = "reworded"
    WEAKENED = "weakened"
    NOT_FOUND = "not_found"  # as ``pending``: missing, awaiting the re-check that confirms it


class PledgeState(StrEnum):
    """A pledge's state: as bad as its worst clause on any source that carries it (each of those
    transitions was alerted); expired once its deadline passed without a renewal, clauses intact."""

    INTACT = "intact"
    REWORDED = "reworded"
    WEAKENED = "weakened"
    REMOVED = "removed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # no clause assessed yet


class SourceHealth(StrEnum):
    """How a source's checks have gone lately: never, by itself, a statement about its pledges."""

    NEW = "new"  # not checked yet
    OK = "ok"
    FAILING = "failing"  # failing_after checks in a row failed (source.failing was raised)
    GONE = "gone"  # not found on every check across gone_after (source.gone was raised)
    STALE = "stale"  # a feed with nothing new for too long (the sweep's source.failing)


class CheckOutcome(StrEnum):
    """What one check found. Every check is logged with one: the attestation log."""

    BASELINE = "baseline"  # the first text of a source
    NOT_MODIFIED = "not_modified"  # HTTP 304
    UNCHANGED = "unchanged"  # the same bytes as last time
    SAME_TEXT = "same_text"  # new bytes, the same text (only markup changed)
    CHANGED = "changed"  # a new text: a Change
    REBASELINE = "rebaseline"  # new extraction rules: what they read is a new baseline
    FAILED = "failed"  # no good fetch, or not the page (never a lapse by itself)

    @property
    def quiet(self) -> bool:
        """A good check that found nothing new to keep."""
        return self in (CheckOutcome.UNCHANGED, CheckOutcome.NOT_MODIFIED, CheckOutcome.SAME_TEXT)


class AlertStatus(StrEnum):
    """Where one alert (an event to a route) stands in the outbox, ``monitor.store.outbox``: the
    ``alerts`` rows keep the value, ``status`` counts them and the dashboard and the API filter on
    it, so a member is spelled as the rows always were."""

    PENDING = "pending"  # due at next_attempt_at: new, waiting for a retry or for its digest time
    SENDING = "sending"  # claimed by a worker, under a lease it renews
    SENT = "sent"  # final: never claimed again
    FAILED = "failed"  # gave up after max_attempts (``alerts retry --failed`` makes it pending)
    MUTED = "muted"  # final: its source or route was muted; kept and listed, never sent


class ArchiveStatus(StrEnum):
    """Where one archive copy (a changed page to save at a web archive) stands: the ``archives``
    outbox rows keep the value and move through the same lease steps as alerts, whose states
    (pending, sending, failed) are spelled the same; ``saved`` is its own final state."""

    PENDING = "pending"  # due at next_attempt_at: to submit, or its job to ask about again
    SENDING = "sending"  # claimed by a worker, under a lease it renews
    SAVED = "saved"  # final: archive_url holds the copy, chained in the ledger
    FAILED = "failed"  # gave up (blocked by the site, or max_attempts)


class ActionKind(StrEnum):
    """What a person did through the dashboard: the ``actions`` rows keep the value, and it is part
    of each action's content in the integrity ledger, so its spelling can never change."""

    ACK = "ack"  # an event acknowledged
    MUTE = "mute"  # a source or a route muted until a date (a mute until now lifts it)


class ActionTarget(StrEnum):
    """What a person's action is about: the ``actions`` rows keep the value (``target`` names
    which one), and like the kind it is part of each action's content in the integrity ledger, so
    its spelling can never change."""

    EVENT = "event"  # an acknowledgement: target is the event's id
    SOURCE = "source"  # a mute: target is the source's id
    ROUTE = "route"  # a mute: target is the route's name in the watchlist


class StampStatus(StrEnum):
    """How one request to a Time-Stamp Authority went: the ``timestamps`` rows keep the value; only
    ``stamped`` rows hold a token, and the last ``failed`` one since makes the next try wait."""

    STAMPED = "stamped"  # the token is kept, over the chain head it names
    FAILED = "failed"  # no token: the error says why


def default_severity(kind: EventKind) -> Severity:
    return EVENT_KINDS[kind]


def pattern_matches_any_kind(pattern: str) -> bool:
    """A route's event pattern (``pledge.*``, ``*``) is valid when it can match some kind."""
    return any(fnmatch.fnmatchcase(kind, pattern) for kind in EVENT_KINDS)


def kind_matches(kind: EventKind, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(fnmatch.fnmatchcase(kind, p) for p in patterns)
