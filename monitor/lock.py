"""One ``run`` process per SQLite database: an advisory lock on the database file itself.

SQLite has one writer and no row locks, so two schedulers on one file would check every source
twice. ``flock`` is held for the life of the process and dropped by the kernel when the process
dies, however it dies: a crash never leaves a stale lock behind. The lock is on the database
file, not on a name derived from its path: a hard link, a symlink or a bind mount reaches the same
file (device and inode) and so the same lock. PostgreSQL needs no such lock; its workers share the
work through claims (``monitor.store.claims``).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from monitor.errors import LockError
from monitor.store.db import sqlite_path

# Descriptors of database files opened here are never closed while the process lives: closing any
# descriptor of a file drops every POSIX lock the process holds on it, SQLite's own included.
_KEPT_OPEN: list[int] = []


class ProcessLock:
    """An exclusive ``flock`` on a database file (created empty if missing), taken without waiting."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        if not self.path.parent.is_dir():
            raise LockError(f"cannot open the database: folder {self.path.parent} does not exist")
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LockError(f"cannot open the database {self.path}: {exc.strerror}") from None
        _KEPT_OPEN.append(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = holder_pid(os.fstat(fd)) or "unknown"
            raise LockError(
                f"another pledge-monitor run (pid {owner}) holds the database {self.path}"
            ) from None
        self._fd = fd

    def release(self) -> None:
        """Unlock; the descriptor stays open (see ``_KEPT_OPEN``)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._fd = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def holder_pid(stat: os.stat_result) -> int | None:
    """The pid holding an ``flock`` on this file, from the kernel's table (Linux), if it says."""
    wanted = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    try:
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted and fields[4].isdigit():
            return int(fields[4])
    return None


def database_lock(url: str) -> ProcessLock | None:
    """The lock a ``run`` on ``url`` must hold, or None when the database needs none."""
    database = sqlite_path(url)
    return ProcessLock(database) if database is not None else None
