"""Opening the database: engine, SQLite pragmas, migrations to head."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.pool import ConnectionPoolEntry

from monitor.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration in migrations/versions (tests/test_db.py checks it against Alembic's head).
# A database already there is opened without loading Alembic at all: 10 MB less in every process.
SCHEMA_HEAD = "0007"

DB_ENV = "PLEDGE_MONITOR_DB"
DEFAULT_DB_NAME = "pledge-monitor.db"


def default_url(watchlist_path: Path | None) -> str:
    """``--db`` wins, then PLEDGE_MONITOR_DB, then a SQLite file next to the watchlist."""
    env = os.environ.get(DB_ENV)
    if env:
        return database_url(env)
    folder = watchlist_path.resolve().parent if watchlist_path else Path.cwd()
    return f"sqlite:///{folder / DEFAULT_DB_NAME}"


def database_url(value: str) -> str:
    """A URL as given, or the path of a SQLite file (``pm.db``, ``/srv/pm.db``) as its URL."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


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


def database_secrets(url: str) -> set[str]:
    """The password in a database URL, for the log scrubber."""
    try:
        password = make_url(url).password
    except ArgumentError:
        return set()
    return {str(password)} if password else set()


def require_database(url: str) -> None:
    """A SQLite file must be there (and not empty) for a command that only reads it."""
    path = sqlite_path(url)
    if path is None:
        return
    try:
        size = path.stat().st_size
    except OSError:
        raise StoreError(f"no database at {path}") from None
    if size == 0 or not path.is_file():
        raise StoreError(f"no database at {path} (the file is empty or not a file)")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers go on while the writer commits; NORMAL is durable across app crashes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine with the pragmas set on every SQLite connection."""
    try:
        if is_sqlite(url):
            _ensure_sqlite_folder(url)
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=pool_size,
                max_overflow=pool_size,
            )
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"cannot open database {redact_db_url(url)}: {exc}") from exc
    event.listen(engine, "handle_error", _as_store_error)
    return engine


def _as_store_error(context: ExceptionContext) -> None:
    """The database failed (locked, unreachable, corrupt, a table missing): a StoreError that
    names it, never a bare SQLAlchemy exception (``monitor.errors``). A constraint broken or a
    bad statement is the caller's to handle, or a bug, and keeps its own type."""
    error = context.sqlalchemy_exception
    if context.is_pre_ping or error is None:
        return  # the pool reconnects on its own
    if isinstance(error, OperationalError | InterfaceError) or type(error) is DatabaseError:
        url = redact_db_url(str(context.engine.url)) if context.engine is not None else "database"
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StoreError(f"database {url}: {reason}") from error


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        folder = Path(path).parent
        if not folder.exists():
            raise StoreError(f"cannot open database {path}: folder {folder} does not exist")


def redact_db_url(url: str) -> str:
    """Database URLs may hold a password: never print it."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("monitor.migrations")))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to head; a no-op when it is there already."""
    if _stored_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command

    config = alembic_config()
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # several workers may start together on an empty database: migrate one at a time
                connection.execute(text("SELECT pg_advisory_xact_lock(7460000)"))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except StoreError as exc:
        raise StoreError(f"cannot migrate the {exc}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot migrate database {redact_db_url(str(engine.url))}: {exc}") from exc


def _stored_revision(engine: Engine) -> str | None:
    """The revision the database says it is at, read without Alembic; None if it has none."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (SQLAlchemyError, StoreError):
        return None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def open_engine(url: str, *, migrate: bool = True, pool_size: int = 10) -> Engine:
    engine = make_engine(url, pool_size=pool_size)
    if migrate:
        upgrade(engine)
    return engine
