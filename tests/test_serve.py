"""``pledge-monitor serve``: its options, and the compose example that runs it beside ``run``."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from monitor.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_serve_refuses_a_root_path_without_its_leading_slash(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "serve", "--root-path", "pledges"]
    )
    assert result.exit_code == 2
    assert "give a path like /pledges" in result.output


def test_the_compose_example_runs_run_and_serve_on_one_volume_with_health_checks() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    run, serve = compose["services"]["run"], compose["services"]["serve"]
    assert run["command"] == ["run"]
    assert serve["command"][0] == "serve"
    assert "pledge-data:/data" in run["volumes"]
    assert "pledge-data:/data" in serve["volumes"]
    assert run["environment"]["PLEDGE_MONITOR_DB"] == serve["environment"]["PLEDGE_MONITOR_DB"]
    assert run["healthcheck"]["test"] == ["CMD", "pledge-monitor", "status", "--health"]
    assert "/healthz" in " ".join(serve["healthcheck"]["test"])
    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    for option in serve["command"][1::2]:
        assert option in help_text
