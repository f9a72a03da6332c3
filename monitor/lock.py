"""One ``run`` process per SQLite database: an advisory lock on a file next to it.

SQLite has one writer and no row locks, so two schedulers on one file would check every source
twice. ``flock`` is held for the life of the process and dropped by the kernel when the process
dies, however it dies: a crash never leaves a stale lock behind. PostgreSQL needs no such lock;
its workers share the work through claims (``monitor.store.claims``).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.errors import LockError


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).resolve()


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class ProcessLock:
    """An exclusive ``flock`` on a file, taken without waiting; the file holds the owner's pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        if not self.path.parent.is_dir():
            raise LockError(f"cannot open the database: folder {self.path.parent} does not exist")
        try:
            handle = open(self.path, "a+")  # noqa: SIM115 - held open for the life of the lock
        except OSError as exc:
            raise LockError(f"cannot create the lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise LockError(f"another pledge-monitor run (pid {owner}) holds {self.path}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Unlock; the file stays (removing it would race with a process about to lock it)."""
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def database_lock(url: str) -> ProcessLock | None:
    """The lock a ``run`` on ``url`` must hold, or None when the database needs none."""
    database = sqlite_path(url)
    return ProcessLock(lock_path(database)) if database is not None else None
