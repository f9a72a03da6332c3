"""The MonitorError family: every failure a user can meet, with the context to act on it.

Each pipeline stage wraps its own failures at its edge so callers never see a bare
``requests`` or ``sqlalchemy`` exception, and the CLI can print one clear line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class MonitorError(Exception):
    """Base of every error pledge-monitor raises on purpose."""


@dataclass(frozen=True)
class WatchlistIssue:
    """One problem in a watchlist file, located as precisely as YAML allows."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class WatchlistError(MonitorError):
    """The watchlist could not be loaded; carries every issue found, not only the first."""

    def __init__(self, issues: Sequence[WatchlistIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class FetchError(MonitorError):
    """A fetch failed. ``transient`` says whether trying again later may well succeed."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        transient: bool,
        status: int | None = None,
        kind: str = "error",
    ) -> None:
        self.url = url
        self.reason = reason
        self.transient = transient
        self.status = status
        self.kind = kind
        super().__init__(f"{url}: {reason}")


class ExtractError(MonitorError):
    """The body could not be turned into text (selector matched nothing, unreadable PDF, ...)."""


class CheckCrashed(ExtractError):
    """A bug met while checking one source: that check fails with the bug named, the rest go on."""


class GlitchError(ExtractError):
    """The page answered with what is not its content (cut off, an error or loading page): a failed
    check, never the page's version until a re-check agrees (a cut-off page: never)."""


class FeedError(MonitorError):
    """A feed or listing page could not be read as one (invalid XML, HTML instead of a feed, ...)."""


class StoreError(MonitorError):
    """The database could not be opened, migrated or written."""


class NotFoundError(MonitorError):
    """A record named by the user (change id, snapshot id, source id) does not exist."""


class LockError(MonitorError):
    """Another process already runs against this database."""


class AlertError(MonitorError):
    """An alert route is misconfigured or a notification could not be built."""


class IntegrityError(MonitorError):
    """The stored history does not verify (edited, deleted or reordered records)."""


class ArchiveError(MonitorError):
    """A web archive did not save a page this time. ``job_failed``: the archive ran the job and it
    failed (submit again); otherwise the job, if any, may still finish. ``permanent``: trying again
    cannot help (the site is excluded from the archive)."""

    def __init__(self, reason: str, *, job_failed: bool = False, permanent: bool = False) -> None:
        self.reason = reason
        self.job_failed = job_failed
        self.permanent = permanent
        super().__init__(reason)
