"""The database: migrations reach the models exactly, SQLite is configured for a long-running service."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import text

from monitor.cli import main
from monitor.errors import StoreError
from monitor.store.db import (
    current_revision,
    default_url,
    head_revision,
    make_engine,
    open_engine,
    redact_db_url,
)
from monitor.store.models import Base
from monitor.store.repo import Store


def test_upgrade_to_head_matches_the_models(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert current_revision(engine) == head_revision()


def test_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    open_engine(url)
    engine = open_engine(url)
    assert current_revision(engine) == head_revision()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert c.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        make_engine(f"sqlite:///{tmp_path / 'nope' / 'x.db'}")


def test_default_url_is_next_to_the_watchlist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLEDGE_MONITOR_DB", raising=False)
    assert default_url(tmp_path / "watchlist.yaml") == f"sqlite:///{tmp_path / 'pledge-monitor.db'}"
    monkeypatch.setenv("PLEDGE_MONITOR_DB", "sqlite:////elsewhere.db")
    assert default_url(tmp_path / "watchlist.yaml") == "sqlite:////elsewhere.db"


def test_redact_db_url_hides_the_password() -> None:
    redacted = redact_db_url("postgresql+psycopg://app:s3cret@db.example.org:5432/pledges")
    assert "s3cret" not in redacted
    assert "db.example.org:5432/pledges" in redacted


def test_schema_head_constant_is_alembic_head() -> None:
    """Opening a database at head skips Alembic: the constant must name the real head."""
    from monitor.store.db import SCHEMA_HEAD

    assert head_revision() == SCHEMA_HEAD


def test_opening_a_database_at_head_does_not_load_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'h.db'}"
    open_engine(url)
    code = (
        "import sys; from monitor.store.db import open_engine; "
        f"open_engine({url!r}); print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_upgrade_from_0006_keeps_archive_rows_and_adds_submitted_at(tmp_path: Path) -> None:
    """0007 adds archives.submitted_at; a database at 0006 with a capture in flight keeps it."""
    from alembic import command

    from monitor.store.db import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys = OFF")  # the archive row alone tells
        connection.execute(
            text(
                "INSERT INTO archives (id, change_id, url, status, attempts, next_attempt_at, job_id) "
                "VALUES (1, 1, 'https://example.org/p', 'pending', 1, '2026-01-01', 'spn2-abc')"
            )
        )
    engine = open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        row = connection.execute(text("SELECT job_id, attempts, submitted_at FROM archives")).one()
    assert tuple(row) == ("spn2-abc", 1, None)


def test_a_failing_database_is_a_store_error_that_names_it(tmp_path: Path) -> None:
    """errors.py promises no bare SQLAlchemy exception: the CLI says what failed, in one line."""
    url = f"sqlite:///{tmp_path / 'pm.db'}"
    engine = open_engine(url)
    with engine.begin() as c:
        c.execute(text("DROP TABLE events"))  # a database from elsewhere, or damaged
    with pytest.raises(StoreError, match=r"^database sqlite:///.*pm\.db: no such table: events$"):
        Store(engine).events()
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text("sources: []\n")
    result = CliRunner().invoke(main, ["history", "-w", str(watchlist), "--db", url])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: database {url}: no such table")
