"""Event kinds and severities: the vocabulary alerts, routes and reports share."""

from __future__ import annotations

import fnmatch
from enum import IntEnum


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


# kind -> default severity (source.gone is raised to critical when the source carries a clause)
EVENT_KINDS: dict[str, Severity] = {
    "pledge.reworded": Severity.HIGH,
    "pledge.weakened": Severity.CRITICAL,
    "pledge.removed": Severity.CRITICAL,
    "pledge.restored": Severity.INFO,
    "pledge.expiring": Severity.WARNING,
    "pledge.expired": Severity.CRITICAL,
    "source.changed": Severity.INFO,
    "source.gone": Severity.WARNING,
    "source.moved": Severity.WARNING,
    "source.failing": Severity.WARNING,
    "source.recovered": Severity.INFO,
    "statement.new": Severity.HIGH,
}

SEVERITY_NAMES = tuple(s.label for s in Severity)


def default_severity(kind: str) -> Severity:
    return EVENT_KINDS[kind]


def pattern_matches_any_kind(pattern: str) -> bool:
    """A route's event pattern (``pledge.*``, ``*``) is valid when it can match some kind."""
    return any(fnmatch.fnmatchcase(kind, pattern) for kind in EVENT_KINDS)


def kind_matches(kind: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(fnmatch.fnmatchcase(kind, p) for p in patterns)
