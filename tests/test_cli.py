"""The top-level command: every command listed without importing it, and a quick start."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import click
from click.testing import CliRunner

import monitor.commands
from monitor.cli import main
from monitor.commands import TABLE

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
