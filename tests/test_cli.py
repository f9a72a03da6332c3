"""The top-level command: every command listed without importing it, a quick start, and where the
watchlist and the database come from for every command."""

from __future__ import annotations

import importlib
import json
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import monitor.commands
from monitor.cli import main
from monitor.commands import TABLE
from tests.audit_history import Recorded, copy_of, record
from tests.site import Site, policy_page

# What `--help` and `--version` must not import: each is a large part of the start-up time.
HEAVY = ("sqlalchemy", "requests", "apprise", "alembic", "pydantic", "yaml", "selectolax", "rapidfuzz")


def defined_commands() -> dict[str, tuple[str, click.Command]]:
    """Every top-level command of every module in monitor/commands/, by name."""
    found: dict[str, tuple[str, click.Command]] = {}
    for info in pkgutil.iter_modules(monitor.commands.__path__):
        module = importlib.import_module(f"monitor.commands.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            assert command.name is not None
            found[command.name] = (info.name, command)
    return found


def test_the_table_names_every_command_and_its_module() -> None:
    defined = defined_commands()
    missing = sorted(set(defined) - set(TABLE))
    assert not missing, f"add {missing} to TABLE in monitor/commands/__init__.py"
    assert sorted(TABLE) == sorted(defined), "TABLE names a command no module defines"
    for name, (module, _command) in defined.items():
        assert TABLE[name].module == module, f"{name} is defined in monitor/commands/{module}.py"


def test_the_table_summaries_are_the_commands_own() -> None:
    for name, (_module, command) in defined_commands().items():
        assert TABLE[name].summary == command.get_short_help_str(limit=500), name


def test_help_lists_every_command_with_its_summary() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1]
    for name, entry in TABLE.items():
        line = next(line for line in listed.splitlines() if line.split()[:1] == [name])
        summary_start = " ".join(entry.summary.split()[:3])
        assert summary_start in line, (name, line)


def test_a_command_runs_after_lazy_loading() -> None:
    result = CliRunner().invoke(main, ["diff", "--help"])
    assert result.exit_code == 0
    assert "two snapshots" in result.output


def test_an_unknown_command_is_an_error() -> None:
    result = CliRunner().invoke(main, ["chekc"])
    assert result.exit_code == 2
    assert "No such command 'chekc'" in result.output


def imported_by(*args: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``pledge-monitor ARGS``."""
    code = (
        "import json, sys\n"
        "from monitor.cli import main\n"
        f"try:\n    main({list(args)!r})\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] in HEAVY)


def test_help_and_version_import_no_heavy_library() -> None:
    for args in (["--help"], ["--version"]):
        modules = imported_by(*args)
        assert "click" in modules
        assert heavy_in(modules) == [], args
        assert not any(name.startswith("monitor.store") for name in modules), args


# What `validate` needs is the watchlist (pydantic, YAML, selectolax for selectors): never the
# database, the network, alert sending (apprise's plugins) or the checking stages.
NOT_FOR_VALIDATE = ("sqlalchemy", "alembic", "apprise", "requests", "urllib3", "rapidfuzz", "jinja2")
CHECKING = ("monitor.store", "monitor.check", "monitor.cycle", "monitor.fetch", "monitor.alerts.send")


def test_validate_imports_neither_the_database_nor_alert_sending() -> None:
    good = Path(__file__).parent / "fixtures" / "watchlists" / "good.yaml"
    modules = imported_by("validate", str(good))
    assert "monitor.watchlist" in modules  # it did validate
    assert sorted(name for name in modules if name.split(".")[0] in NOT_FOR_VALIDATE) == []
    assert sorted(name for name in modules if name.startswith(CHECKING)) == []


# What a `check` that sends nothing must not import: alert sending and rendering, migrations (the
# database is at head), the daemon's scheduler, the feed modules (no feeds), the TSA client.
NOT_FOR_A_QUIET_CHECK = ("apprise", "jinja2", "alembic", "apscheduler", "feedparser", "cryptography")


def test_a_check_that_sends_nothing_imports_neither_apprise_nor_alembic(site: Site, tmp_path: Path) -> None:
    site.put("/policy", policy_page("<p>We will not sell facial recognition to police.</p>"))
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(
        'routes:\n  team:\n    urls: ["json://127.0.0.1:9/"]\n    events: ["pledge.*"]\n'
        f"sources:\n  - id: policy\n    url: {site.url('/policy')}\n"
    )
    args = ("-w", str(watchlist), "--db", str(tmp_path / "pm.db"), "check", "--all")
    imported_by(*args)  # the first check makes the database and stores the page
    modules = imported_by(*args)
    assert "monitor.checking" in modules  # it did check
    assert sorted(name for name in modules if name.split(".")[0] in NOT_FOR_A_QUIET_CHECK) == []


# --------------------------------------------------------------------------- the watchlist and the database


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
    assert result.exit_code == 1
    assert result.output == f"Error: no database at {tmp_path / 'pledge-monitor.db'}\n"
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
    assert after.output == before.output
    assert after.output.strip()


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
