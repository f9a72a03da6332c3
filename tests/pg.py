"""PostgreSQL for tests: a fresh database on the local server per test, dropped afterwards.

Use the fixtures by importing them into a test module (``from tests.pg import pg_url``).
Without a reachable server the tests are skipped with the reason; with ``CI=true`` they fail
instead, because CI machines start PostgreSQL and a missing server there is a set-up bug.
Point ``PLEDGE_MONITOR_TEST_PG`` at another server's admin database to use it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from monitor.store.db import open_engine, redact_db_url
from monitor.store.repo import Store

PG_ENV = "PLEDGE_MONITOR_TEST_PG"
PG_ADMIN = os.environ.get(PG_ENV, "postgresql+psycopg://postgres@/postgres?host=/var/run/postgresql")


def _admin() -> Engine:
    return create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})


def unreachable(admin: Engine) -> str | None:
    """Why the server cannot be used, or None when it answers."""
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        first = str(exc.orig or exc).strip().splitlines()[0]
        return f"PostgreSQL not reachable at {redact_db_url(PG_ADMIN)} ({first}); set {PG_ENV}"
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the CI set-up must start PostgreSQL)", pytrace=False)
    pytest.skip(reason)


_TEMPLATES: dict[str, str] = {}  # this process's migrated template database, made once


def _migrated_template(admin: Engine) -> str:
    """A database migrated to head that new test databases are copied from (much faster than
    migrating each one); one per test process, dropped when the process exits."""
    if "name" not in _TEMPLATES:
        import atexit

        name = f"pm_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine = open_engine(admin.url.set(database=name).render_as_string(hide_password=False))
        engine.dispose()
        _TEMPLATES["name"] = name

        def drop() -> None:
            cleanup = _admin()
            with cleanup.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            cleanup.dispose()

        atexit.register(drop)
    return _TEMPLATES["name"]


@contextmanager
def fresh_database(prefix: str = "pm_test", *, migrated: bool = False) -> Iterator[str]:
    """Create a database (empty, or already migrated to head), yield its URL (password
    included), drop it afterwards."""
    admin = _admin()
    try:
        reason = unreachable(admin)
        if reason:
            skip_or_fail(reason)
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        template = f' TEMPLATE "{_migrated_template(admin)}"' if migrated else ""
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"{template}'))
        try:
            yield admin.url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database (not migrated)."""
    with fresh_database() as url:
        yield url


@pytest.fixture
def pg_store() -> Iterator[Store]:
    """A Store on a fresh PostgreSQL database, migrated to head."""
    with fresh_database(migrated=True) as url:
        engine = open_engine(url)
        try:
            yield Store(engine)
        finally:
            engine.dispose()
