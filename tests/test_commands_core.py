"""The core commands in-process: validate, check, show, diff, db upgrade."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.store.db import SCHEMA_HEAD
from tests.site import Site, policy_page

ROOT = Path(__file__).resolve().parent.parent

ARTICLE = """<h1>Our commitments</h1>
<p>IBM no longer offers general purpose IBM facial recognition or analysis software.</p>
<p>We review every request against our principles.</p>"""


def write(tmp_path: Path, site: Site) -> Path:
    path = tmp_path / "watchlist.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            defaults:
              per_host_delay: 0s
            sources:
              - id: ibm-letter
                url: {site.url("/letter")}
                select: "#policy"
            pledges:
              - id: ibm-exit
                company: IBM
                title: Exit from general purpose facial recognition
                made_on: 2020-06-08
                sources: [ibm-letter]
                clauses: ["IBM no longer offers general purpose IBM facial recognition or analysis software"]
            """
        )
    )
    return path


def run(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--watchlist", str(path), *args])
    return result.exit_code, result.output


def test_validate_passes_the_shipped_watchlist() -> None:
    code, out = run(ROOT / "watchlist.yaml", "validate")
    assert code == 0, out
    assert re.search(r"watchlist\.yaml: OK \(\d+ sources, \d+ pledges, \d+ routes\)", out)


def test_validate_a_broken_file_prints_file_line_errors_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        textwrap.dedent(
            """\
            sources:
              - id: ibm-letter
                url: https://www.ibm.com/policy/letter/
                interval: 6 hours
            pledges:
              - id: ibm-exit
                company: IBM
                title: Exit
                made_on: 2020-06-08
                sources: [ibm-leter]
                clauses: ["no longer offers"]
            """
        )
    )
    code, out = run(tmp_path / "watchlist.yaml", "validate", str(bad))
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"Error: {bad}:4: sources[0].interval: expected a duration")
    assert lines[1] == (
        f"Error: {bad}:10: pledges[0].sources[0]: unknown source 'ibm-leter' (did you mean 'ibm-letter'?)"
    )


def test_check_show_and_diff(tmp_path: Path, site: Site) -> None:
    site.put("/letter", policy_page(ARTICLE))
    path = write(tmp_path, site)
    code, out = run(path, "check")
    assert code == 0, out
    assert out.startswith("checked 1 source in ")
    assert "(1 baseline); 0 changes, 0 events" in out
    code, out = run(path, "check")
    assert code == 0 and "checked 0 sources" in out and "nothing due" in out  # not due again yet
    site.put("/letter", policy_page(ARTICLE.replace("every request", "every new request")))
    code, out = run(path, "check", "--source", "ibm-letter")
    assert code == 0
    assert "(1 changed); 1 change, 1 event" in out
    assert "[info] source.changed: ibm-letter: text changed" in out

    code, out = run(path, "show", "1")
    assert code == 0
    assert "change #1 of ibm-letter" in out
    assert "from snapshot #1 fetched" in out and "to   snapshot #2 fetched" in out
    assert "every {+new +}request" in out  # words marked without colour when not on a terminal

    code, out = run(path, "diff", "1", "2", "--format", "unified")
    assert code == 0 and "-We review every request" in out and "+We review every new request" in out


def test_check_names_each_failed_source_and_why(tmp_path: Path, site: Site) -> None:
    site.put("/letter", "down for maintenance", status=503)
    path = write(tmp_path, site)
    code, out = run(path, "check")
    assert code == 0
    assert "(1 failed)" in out
    assert f"  failed: ibm-letter: {site.url('/letter')}: HTTP 503 Service Unavailable" in out
    code, out = run(path, "status")
    assert re.search(r"ibm-letter\s+1 failed\s+last good check never", out)


def test_show_an_unknown_change_is_a_clear_error(tmp_path: Path, site: Site) -> None:
    path = write(tmp_path, site)
    code, out = run(path, "show", "42")
    assert code == 1
    assert out.strip() == f"Error: no database at {tmp_path / 'pledge-monitor.db'}"  # nothing checked yet
    assert run(path, "db", "upgrade")[0] == 0
    code, out = run(path, "show", "42")
    assert code == 1
    assert out.strip() == "Error: no change with id 42 (see `pledge-monitor history`)"


def test_check_an_unknown_source_suggests_the_right_one(tmp_path: Path, site: Site) -> None:
    path = write(tmp_path, site)
    code, out = run(path, "check", "--source", "ibm-leter")
    assert code == 1
    assert "ibm-leter" in out and "did you mean 'ibm-letter'" in out


def test_db_upgrade_reports_the_revision(tmp_path: Path, site: Site) -> None:
    path = write(tmp_path, site)
    code, out = run(path, "--db", f"sqlite:///{tmp_path / 'other.db'}", "db", "upgrade")
    assert code == 0
    assert out.strip() == f"sqlite:///{tmp_path / 'other.db'}: at revision {SCHEMA_HEAD}"
    assert (tmp_path / "other.db").exists()


def test_every_command_has_an_example_in_its_help() -> None:
    runner = CliRunner()
    for name, command in main.commands.items():
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0
        if hasattr(command, "commands"):
            for sub in command.commands:  # type: ignore[attr-defined]
                sub_help = runner.invoke(main, [name, sub, "--help"]).output
                assert "Example" in sub_help, f"{name} {sub} --help has no example"
        else:
            assert "Example" in result.output, f"{name} --help has no example"


def test_a_page_of_a_million_tiny_elements_is_a_failed_check_with_its_reason(
    tmp_path: Path, site: Site
) -> None:
    bomb = b"<html><body>" + b"<i>x</i>" * 1_000_000 + b"</body></html>"  # 8 MB, under max_body
    site.put("/letter", policy_page(ARTICLE))
    site.put("/bomb", bomb)
    path = write(tmp_path, site)
    path.write_text(
        path.read_text().replace("pledges:", f"  - id: bomb\n    url: {site.url('/bomb')}\npledges:")
    )
    code, out = run(path, "check", "--all")
    assert code == 0, out
    assert "checked 2 sources" in out and "1 baseline, 1 failed" in out
    assert (
        f"  failed: bomb: page too large to read at {site.url('/bomb')}: over 100,000 elements"
        " (8,000,026 bytes); a policy page has a few thousand"
    ) in out
    code, out = run(path, "status")
    assert re.search(r"bomb\s+1 failed\s+last good check never", out)


def test_validate_warns_of_a_header_variable_that_is_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text(
        "sources:\n  - id: members\n    url: https://example.org/members\n"
        '    headers: {Authorization: "Bearer ${PM_TEST_UNSET_TOKEN}"}\n'
    )
    monkeypatch.delenv("PM_TEST_UNSET_TOKEN", raising=False)
    code, out = run(path, "validate")
    assert code == 0, out
    assert (
        f"Warning: {path}: source members: header Authorization: ${{PM_TEST_UNSET_TOKEN}}"
        " is not set in the environment" in out
    )
