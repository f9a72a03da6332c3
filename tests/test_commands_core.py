"""The core commands in-process: validate, check, show, diff, db upgrade."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.store import models as m
from monitor.store.db import SCHEMA_HEAD
from tests.receivers import Endpoint, smtp_server
from tests.site import Site, policy_page
from tests.test_run import CountingSite, Db, Launcher, db, hook, launcher, now, site

__all__ = ["db", "hook", "launcher", "site"]  # fixtures, used below

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
    assert code == 0
    assert "checked 0 sources" in out
    assert "nothing due" in out
    site.put("/letter", policy_page(ARTICLE.replace("every request", "every new request")))
    code, out = run(path, "check", "--source", "ibm-letter")
    assert code == 0
    assert "(1 changed); 1 change, 1 event" in out
    assert "[info] source.changed: ibm-letter: text changed" in out

    code, out = run(path, "show", "1")
    assert code == 0
    assert "change #1 of ibm-letter" in out
    assert "from snapshot #1 fetched" in out
    assert "to   snapshot #2 fetched" in out
    assert "every {+new +}request" in out  # words marked without colour when not on a terminal

    code, out = run(path, "diff", "1", "2", "--format", "unified")
    assert code == 0
    assert "-We review every request" in out
    assert "+We review every new request" in out


def test_check_names_each_failed_source_and_why(tmp_path: Path, site: Site) -> None:
    site.put("/letter", "down for maintenance", status=503)
    path = write(tmp_path, site)
    code, out = run(path, "check")
    assert code == 0
    assert "(1 failed)" in out
    assert "  ibm-letter  FAILED: HTTP 503 Service Unavailable" in out
    assert "(1 in a row; not a lapse)" in out
    assert "source.failing" not in out  # one failure of a new source is not "no good check for days"
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
    assert "ibm-leter" in out
    assert "did you mean 'ibm-letter'" in out


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


# --------------------------------------------------------------------------- issue 11: check from cron alerts


CLAUSE = "IBM no longer offers general purpose IBM facial recognition or analysis software"


def cron_watchlist(site: CountingSite, hook: Endpoint, smtp_port: int, *, expires_on: str = "") -> str:
    expires = f"\n            expires_on: {expires_on}" if expires_on else ""
    return textwrap.dedent(
        f"""
        defaults:
          per_host_delay: 0s
          interval: 1h
          confirm_after: 10m
        routes:
          hook:
            urls: ["json://{hook.url}"]
          email:
            urls: ["mailto://127.0.0.1:{smtp_port}?from=monitor@example.org&to=team@example.org"]
            min_severity: high
        sources:
          - id: ibm-letter
            url: {site.url("/letter")}
            select: "#policy"
          - id: ibm-news
            url: {site.url("/news")}
            select: "#policy"
          - id: ibm-blog
            url: {site.url("/blog")}
            select: "#policy"
        pledges:
          - id: ibm-exit
            company: IBM
            title: Exit from general purpose facial recognition
            made_on: 2020-06-08{expires}
            sources: [ibm-letter]
            clauses: ["{CLAUSE}"]
        """
    )


def test_check_from_cron_delivers_its_alerts_and_says_what_happened_per_source(
    site: CountingSite, hook: Endpoint, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    site.put("/letter", policy_page(ARTICLE))
    site.put("/news", policy_page("<p>News of the week.</p>"))
    site.put("/blog", policy_page("<p>Our blog.</p>"))
    with smtp_server() as (port, mailbox):
        wl = tmp_path / "watchlist.yaml"
        wl.write_text(cron_watchlist(site, hook, port))
        code, out = launcher.run(wl, db.url, "check", timeout=120)
        assert code == 0, out
        assert "  ibm-letter  first check: baseline stored; 1 clause found exactly" in out
        assert out.rstrip().endswith("alerts: 0 sent, 0 to retry, 0 failed")

        # a cron run later: the pledge weakened, the news changed, the blog is down
        site.put("/letter", policy_page(ARTICLE.replace("IBM no longer offers", "IBM currently offers no")))
        site.put("/news", policy_page("<p>News of the week: a new office.</p>"))
        site.put("/blog", "down for maintenance", status=503)
        db.make_due(now())
        code, out = launcher.run(wl, db.url, "check", timeout=120)
        assert code == 0, out
        lines = out.splitlines()
        assert lines[0].startswith("checked 3 sources in ")
        assert re.fullmatch(
            r"  ibm-blog    FAILED: HTTP 503 Service Unavailable.* \(1 in a row; not a lapse\)", lines[1]
        )
        assert re.fullmatch(
            r"  ibm-letter  text changed: change #\d+; 1 clause (weakened|reworded)", lines[2]
        )
        assert re.fullmatch(r"  ibm-news    text changed: change #\d+", lines[3])
        assert "alerts: 3 sent, 0 to retry, 0 failed" in out  # 2 to the hook, the high one by email too
        kinds = sorted(p["alert"]["kind"] for p in hook.accepted)
        assert kinds[1] == "source.changed"
        assert kinds[0] in ("pledge.reworded", "pledge.weakened")
        (email,) = mailbox.messages
        assert "IBM" in str(email["Subject"])

        db.make_due(now())
        code, out = launcher.run(wl, db.url, "check", "--source", "ibm-news", timeout=120)
        assert code == 0, out
        assert "  ibm-news  unchanged: check logged, nothing stored" in out
        assert len(hook.accepted) == 2
        assert len(mailbox.messages) == 1
    assert db.workers() == []  # check registered as a worker while it ran, and left


def test_check_no_deliver_leaves_the_alerts_queued_and_the_next_check_sends_them(
    site: CountingSite, hook: Endpoint, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    site.put("/letter", policy_page(ARTICLE))
    site.put("/news", policy_page("<p>News.</p>"))
    site.put("/blog", policy_page("<p>Blog.</p>"))
    with smtp_server() as (port, mailbox):
        wl = tmp_path / "watchlist.yaml"
        wl.write_text(cron_watchlist(site, hook, port, expires_on="2021-06-08"))
        code, out = launcher.run(wl, db.url, "check", "--no-deliver", timeout=120)
        assert code == 0, out
        assert "alerts:" not in out
        assert "sweep" not in out
        assert db.count(m.Event) == 0  # the sweep did not run: the expiry is not raised yet

        code, out = launcher.run(wl, db.url, "check", timeout=120)  # nothing due; the sweep and delivery run
        assert code == 0, out
        assert "checked 0 sources" in out
        assert "sweep: 1 event (deadlines, stale sources)" in out
        assert "[critical] pledge.expired: IBM: Exit from general purpose facial recognition: expired" in out
        assert "alerts: 2 sent, 0 to retry, 0 failed" in out
        assert [p["alert"]["kind"] for p in hook.accepted] == ["pledge.expired"]
        assert len(mailbox.messages) == 1

        code, out = launcher.run(wl, db.url, "check", timeout=120)
        assert code == 0
        assert "sweep" not in out
        assert "alerts: 0 sent" in out
    assert len(hook.accepted) == 1


def test_check_says_a_missing_clause_waits_for_its_re_check(
    site: CountingSite, hook: Endpoint, db: Db, launcher: Launcher, tmp_path: Path
) -> None:
    site.put("/letter", policy_page(ARTICLE))
    site.put("/news", policy_page("<p>News.</p>"))
    site.put("/blog", policy_page("<p>Blog.</p>"))
    with smtp_server() as (port, _mailbox):
        wl = tmp_path / "watchlist.yaml"
        wl.write_text(cron_watchlist(site, hook, port))
        assert launcher.run(wl, db.url, "check", timeout=120)[0] == 0
        other = "Our cloud and consulting teams continue to serve clients around the world every day."
        site.put("/letter", policy_page(ARTICLE.replace(f"{CLAUSE}.", other)))  # as long, the clause gone
        code, out = launcher.run(wl, db.url, "check", "--all", timeout=120)
    assert code == 0, out
    assert re.search(r"  ibm-letter  text changed: change #\d+; 1 clause missing: re-check due", out), out
    assert "pledge.removed" not in out
    assert hook.accepted == []


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
    assert "checked 2 sources" in out
    assert "1 baseline, 1 failed" in out
    assert (
        f"  bomb        FAILED: page too large to read at {site.url('/bomb')}: over 100,000 elements"
        " (8,000,026 bytes); a policy page has a few thousand (1 in a row; not a lapse)"
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
