"""docs/commands.md is every command's --help as the code prints it today."""

from __future__ import annotations

from monitor.commands import TABLE
from scripts.command_reference import TARGET, render


def test_the_command_reference_is_up_to_date() -> None:
    assert TARGET.read_text() == render(), "docs/commands.md is out of date: run `make docs`"


def test_the_command_reference_covers_every_command() -> None:
    text = render()
    for name in TABLE:
        assert f"## `pledge-monitor {name}`" in text
    assert "## `pledge-monitor alerts retry`" in text  # and the subcommands of groups
