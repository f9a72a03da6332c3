"""monitor/cli.py: where the watchlist and the database come from, for every command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.audit_history import Recorded, copy_of, record


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("history"))


READ_COMMANDS = [
    ["history"],
    ["verify"],
    ["report", "--out", "site"],
    ["export", "--what", "events"],
    ["status"],
    ["status", "--health"],
    ["show", "1"],
    ["diff", "1", "2"],
    ["evidence", "1", "--out", "c.warc.gz"],
    ["prune", "--checks-older-than", "30d"],
]


@pytest.mark.parametrize("args", READ_COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_a_read_command_on_a_missing_sqlite_file_says_so_and_creates_nothing(
    tmp_path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLEDGE_MONITOR_DB", raising=False)
    missing = tmp_path / "data" / "pledges.db"
    missing.parent.mkdir()
    for db in (str(missing), f"sqlite:///{missing}", "data/pledges.db"):
        result = CliRunner().invoke(main, ["--db", db, *args])
        assert result.exit_code == 1, result.output
        assert result.output == f"Error: no database at {missing}\n"
    result = CliRunner().invoke(main, [*args])  # the default: next to the (missing) watchlist
    assert (
        result.exit_code == 1 and result.output == f"Error: no database at {tmp_path / 'pledge-monitor.db'}\n"
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["data"]


def test_an_empty_file_is_no_database_either(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = CliRunner().invoke(main, ["verify", "--db", str(empty)])
    assert result.exit_code == 1
    assert result.output == f"Error: no database at {empty} (the file is empty or not a file)\n"
    assert empty.stat().st_size == 0


@pytest.mark.parametrize(
    "args", [["history"], ["verify"], ["export", "--what", "pledges", "--format", "jsonl"]]
)
def test_read_commands_need_no_watchlist_and_take_db_and_w_after_the_command(
    recorded: Recorded, tmp_path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = copy_of(recorded, tmp_path / "db")
    monkeypatch.chdir(tmp_path)  # no watchlist.yaml here
    before = CliRunner().invoke(main, ["--db", f"sqlite:///{db}", *args])
    after = CliRunner().invoke(main, [*args, "--db", str(db), "-w", str(tmp_path / "nowhere.yaml")])
    assert before.exit_code == 0, before.output
    assert after.exit_code == 0, after.output
    assert after.output == before.output and after.output.strip()


def test_w_after_the_command_name_is_the_watchlist(tmp_path: Path) -> None:
    good = Path(__file__).parent / "fixtures" / "watchlists" / "good.yaml"
    shutil.copy(good, tmp_path / "mine.yaml")
    result = CliRunner().invoke(main, ["validate", "-w", str(tmp_path / "mine.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith(f"{tmp_path / 'mine.yaml'}: OK (")
    result = CliRunner().invoke(
        main, ["-w", "first.yaml", "validate", "--watchlist", str(tmp_path / "mine.yaml")]
    )
    assert result.exit_code == 0, result.output  # after the command wins: it is written last


def test_a_plain_path_as_db_is_a_sqlite_file_for_commands_that_write(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", "--db", str(tmp_path / "new.db")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"sqlite:///{tmp_path / 'new.db'}: at revision ")
    assert (tmp_path / "new.db").stat().st_size > 0
