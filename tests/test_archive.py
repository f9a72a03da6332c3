"""Archive copies: each recorded change's page saved at a Save Page Now stand-in on 127.0.0.1.

`pledge-monitor check` runs as a real process against a real local site; the stand-in speaks the
SPN2 API (tests/spn.py), checks the keys, and can answer 429, fail jobs, go down, or hold a request
while the test kills the process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.store import models as m
from monitor.store.db import open_engine
from tests.pg import fresh_database
from tests.receivers import Endpoint
from tests.site import policy_page
from tests.spn import ACCESS, SECRET, TIMESTAMP, Spn, running_spn
from tests.test_run import CountingSite, Db, Launcher, db, hook, now, site

__all__ = ["db", "hook", "site"]  # fixtures, used below

KEYS = {"PLEDGE_MONITOR_IA_ACCESS": ACCESS, "PLEDGE_MONITOR_IA_SECRET": SECRET}
ARTICLE = "<h1>Our commitments</h1><p>We will not sell facial recognition to police.</p>"
CHANGED = ARTICLE + "<p>Updated in March.</p>"


@pytest.fixture
def spn() -> Iterator[Spn]:
    with running_spn(pending_polls=1) as running:
        yield running


@pytest.fixture
def pg_db() -> Iterator[Db]:
    """A fresh PostgreSQL database, migrated, as `check` sees it through --db."""
    with fresh_database(migrated=True) as url:
        engine = open_engine(url)
        yield Db(url, engine)
        engine.dispose()


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path, env=dict(KEYS))
    yield launcher
    launcher.cleanup()


def watchlist(
    tmp_path: Path, site: CountingSite, spn: Spn, hook: Endpoint | None = None, **archive: str
) -> Path:
    route = f'routes:\n  hook:\n    urls: ["json://{hook.url}"]\n' if hook else ""
    settings = {"endpoint": spn.endpoint, "poll_every": "0s", "wait": "10s", **archive}
    path = tmp_path / "watchlist.yaml"
    path.write_text(
        "defaults:\n  per_host_delay: 0s\n  interval: 1h\n"
        + route
        + "sources:\n"
        + "".join(
            f"  - id: {name}\n    url: {site.url('/' + name)}\n    select: '#policy'\n"
            for name in ("policy", "news")
        )
        + "archive:\n"
        + "".join(f"  {key}: {value}\n" for key, value in settings.items())
    )
    return path


def changed(site: CountingSite, db: Db, launcher: Launcher, wl: Path, *, news: bool = False) -> str:
    """A baseline check, then a check that records a change of /policy (and /news): its output."""
    site.put("/policy", policy_page(ARTICLE))
    site.put("/news", policy_page("<p>News.</p>"))
    code, out = launcher.run(wl, db.url, "check", timeout=120)
    assert code == 0, out
    site.put("/policy", policy_page(CHANGED))
    if news:
        site.put("/news", policy_page("<p>News: a new office.</p>"))
    db.make_due(now())
    code, out = launcher.run(wl, db.url, "check", timeout=120)
    assert code == 0, out
    return out


def archive_rows(db: Db) -> list[m.Archive]:
    with Session(db.engine, expire_on_commit=False) as s:
        return list(s.scalars(select(m.Archive).order_by(m.Archive.id)))


def make_captures_due(db: Db) -> None:
    with Session(db.engine) as s, s.begin():
        s.execute(update(m.Archive).where(m.Archive.status == "pending").values(next_attempt_at=now()))


def run_again(db: Db, launcher: Launcher, wl: Path) -> str:
    """A `check` with nothing due: only the witness jobs (and delivery) run."""
    code, out = launcher.run(wl, db.url, "check", timeout=120)
    assert code == 0, out
    return out


def test_a_recorded_change_is_saved_with_the_keys_and_its_copy_recorded(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    wl = watchlist(tmp_path, site, spn)
    out = changed(site, db, launcher, wl)
    (row,) = archive_rows(db)
    url = site.url("/policy")
    assert f"archive copy of change #{row.change_id} ({url}): saved at {spn.archive_url(url)}" in out
    assert (row.status, row.archive_url, row.attempts) == ("saved", spn.archive_url(url), 1)
    assert row.job_id == "spn2-" + "1".zfill(40)
    assert spn.submissions == [{"url": url, "capture_all": "1"}]
    assert spn.unauthorized == 0
    assert len(spn.polls) == 2  # pending once, then success


def test_a_job_still_running_is_asked_about_later_and_never_submitted_twice(
    tmp_path: Path, site: CountingSite, spn: Spn, hook: Endpoint, db: Db, launcher: Launcher
) -> None:
    spn.pending_polls = 3
    wl = watchlist(tmp_path, site, spn, hook, wait="0s")
    out = changed(site, db, launcher, wl)
    assert "submitted, the archive is still saving it (asked again later)" in out
    (alert,) = hook.accepted  # sent at once, without the copy: an alert never waits for it
    assert alert["alert"]["archive_url"] is None
    assert "Archive copy" not in alert["message"]
    (row,) = archive_rows(db)
    assert (row.status, row.archive_url, row.job_id is not None) == ("pending", None, True)
    for _ in range(3):
        make_captures_due(db)
        out = run_again(db, launcher, wl)
    assert "saved at" in out
    assert archive_rows(db)[0].status == "saved"
    assert len(spn.submissions) == 1


def test_too_many_requests_is_tried_again_later(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    spn.busy = 1
    wl = watchlist(tmp_path, site, spn)
    out = changed(site, db, launcher, wl)
    assert "failed: the archive asks to slow down (HTTP 429 Too Many Requests) (retried later)" in out
    (row,) = archive_rows(db)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at > now()  # after a backoff, not at once
    assert "saved at" not in run_again(db, launcher, wl)  # not due yet
    make_captures_due(db)
    assert "saved at" in run_again(db, launcher, wl)
    assert len(spn.submissions) == 1  # the refused one never became a job


def test_a_failed_job_is_submitted_again_and_a_blocked_page_fails_for_good(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    spn.fail_jobs = 1
    wl = watchlist(tmp_path, site, spn)
    out = changed(site, db, launcher, wl, news=True)
    lines = [line for line in out.splitlines() if line.startswith("  archive copy")]
    assert len(lines) == 2
    assert (
        sum(
            "error:browsing-timeout; Your capture did not complete in time. (retried later)" in x
            for x in lines
        )
        == 1
    )
    assert sum("saved at" in line for line in lines) == 1
    make_captures_due(db)
    spn.blocked = True
    out = run_again(db, launcher, wl)
    assert "failed for good: job spn2-" in out
    assert "error:blocked-url" in out
    statuses = sorted(r.status for r in archive_rows(db))
    assert statuses == ["failed", "saved"]
    code, status = launcher.run(wl, db.url, "status", timeout=60)
    assert code == 0, status
    assert "Archive copies: 1 saved, 0 pending, 1 failed" in status
    assert "failed: change #" in status
    assert "after 2 submissions: job spn2-" in status
    make_captures_due(db)
    assert "archive copy" not in run_again(db, launcher, wl)  # failed is final
    assert len(spn.submissions) == 3


def test_an_archive_that_is_down_loses_nothing(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    wl = watchlist(tmp_path, site, spn)
    spn.stop()
    out = changed(site, db, launcher, wl)
    assert "text changed: change #" in out  # the check stands
    assert "(retried later)" in out
    (row,) = archive_rows(db)
    assert (row.status, row.attempts, row.job_id) == ("pending", 1, None)
    _, status = launcher.run(wl, db.url, "status", timeout=60)
    assert "Archive copies: 0 saved, 1 pending, 0 failed" in status
    spn.start()  # back, on the same port
    make_captures_due(db)
    assert "saved at" in run_again(db, launcher, wl)
    assert archive_rows(db)[0].status == "saved"
    assert len(spn.submissions) == 1


def test_keys_missing_or_refused_never_show_the_secret(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    wl = watchlist(tmp_path, site, spn)
    launcher.env = {"PLEDGE_MONITOR_IA_ACCESS": ACCESS}
    out = changed(site, db, launcher, wl)
    assert "environment variable PLEDGE_MONITOR_IA_SECRET is not set (the web archive's keys)" in out
    assert spn.submissions == []
    launcher.env = {"PLEDGE_MONITOR_IA_ACCESS": ACCESS, "PLEDGE_MONITOR_IA_SECRET": "wrong-secret-456"}
    make_captures_due(db)
    out = run_again(db, launcher, wl)
    assert "the archive refused the keys (HTTP 401): check PLEDGE_MONITOR_IA_ACCESS and" in out
    assert spn.unauthorized == 1
    with sqlite3.connect(db.url.removeprefix("sqlite:///")) as connection:
        dump = "\n".join(connection.iterdump())
    logs = "".join(p.read_text() for p in tmp_path.glob("run-*.log"))
    for secret in ("wrong-secret-456", ACCESS):
        assert secret not in dump
        assert secret not in logs


def test_a_rate_limit_holds_the_second_page_for_the_next_minute(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    wl = watchlist(tmp_path, site, spn, per_minute="1")
    out = changed(site, db, launcher, wl, news=True)
    assert out.count("saved at") == 1
    assert out.count("waits for the rate limit (archive: per_minute)") == 1
    held = next(r for r in archive_rows(db) if r.status == "pending")
    saved = next(r for r in archive_rows(db) if r.status == "saved")
    assert saved.submitted_at is not None
    assert held.next_attempt_at >= saved.submitted_at.replace(microsecond=0)
    assert held.attempts == 0  # holding is no attempt
    assert len(spn.submissions) == 1


def kill_while_held(site: CountingSite, db: Db, launcher: Launcher, wl: Path, spn: Spn) -> None:
    """A baseline, then a check that records a change and is killed while SPN holds its request."""
    site.put("/policy", policy_page(ARTICLE))
    site.put("/news", policy_page("<p>News.</p>"))
    run_again(db, launcher, wl)
    site.put("/policy", policy_page(CHANGED))
    db.make_due(now())
    proc = launcher.start(wl, db.url, "check")
    assert spn.held.wait(60), proc.text()
    os.kill(proc.pid, signal.SIGKILL)
    proc.popen.wait(10)
    spn.release()


def test_a_worker_killed_mid_submission_costs_one_extra_capture_at_most(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    wl = watchlist(tmp_path, site, spn)
    spn.hold_submit = True  # SPN takes the job, the answer never reaches the killed process
    kill_while_held(site, db, launcher, wl, spn)
    (row,) = archive_rows(db)
    assert (row.status, row.job_id, row.attempts) == ("sending", None, 1)
    out = run_again(db, launcher, wl)  # the next run takes the dead worker's claim at once
    assert "saved at" in out
    assert len(spn.submissions) == 2  # the documented one: the job id never reached the database
    assert [r.status for r in archive_rows(db)] == ["saved"]


def test_a_worker_killed_while_asking_about_its_job_never_submits_again(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    wl = watchlist(tmp_path, site, spn)
    spn.hold_status = True
    kill_while_held(site, db, launcher, wl, spn)
    (row,) = archive_rows(db)
    assert (row.status, row.job_id is not None) == ("sending", True)
    assert "saved at" in run_again(db, launcher, wl)
    assert len(spn.submissions) == 1


def test_the_copy_is_in_the_alert_report_export_history_and_pack_and_verify_guards_it(
    tmp_path: Path, site: CountingSite, spn: Spn, hook: Endpoint, db: Db, launcher: Launcher
) -> None:
    wl = watchlist(tmp_path, site, spn, hook)
    changed(site, db, launcher, wl)
    copy = spn.archive_url(site.url("/policy"))
    (alert,) = [p for p in hook.accepted if p["alert"]["kind"] == "source.changed"]
    assert alert["alert"]["archive_url"] == copy
    assert f"Archive copy: {copy}" in alert["message"]

    code, out = launcher.run(wl, db.url, "history", "--source", "policy", timeout=60)
    assert code == 0, out
    assert f'change #1 policy: +3 words, -0 words: added "Updated in March." (archive copy: {copy})' in out

    code, out = launcher.run(wl, db.url, "export", "--what", "changes", "--format", "jsonl", timeout=60)
    assert code == 0, out
    assert json.loads(out.splitlines()[0])["archive_url"] == copy

    code, out = launcher.run(wl, db.url, "report", "--out", str(tmp_path / "site"), timeout=60)
    assert code == 0, out
    page = (tmp_path / "site" / "change" / "1.html").read_text()
    assert f'<dt>Archive copy</dt><dd><a href="{copy}" rel="noopener">{copy}</a></dd>' in page

    pack = tmp_path / "change-1.zip"
    code, out = launcher.run(wl, db.url, "evidence", "1", "--pack", "--out", str(pack), timeout=60)
    assert code == 0, out
    with zipfile.ZipFile(pack) as zf:
        manifest = json.loads(zf.read("change-1/manifest.json"))
        readme = zf.read("change-1/README.txt").decode()
        records = json.loads(zf.read("change-1/chain/records.json"))
    assert manifest["archive_urls"] == [copy]
    assert copy in readme
    assert "compare the page with after.txt" in readme
    assert records["archive:1"]["archive_url"] == copy
    code, out = launcher.run(wl, db.url, "verify", "--pack", str(pack), timeout=60)
    assert code == 0, out

    code, out = launcher.run(wl, db.url, "verify", timeout=60)
    assert code == 0, out
    assert "1 archive copy" in out
    with Session(db.engine) as s, s.begin():
        s.execute(update(m.Archive).values(archive_url=copy.replace(TIMESTAMP, "20250101000000")))
    code, out = launcher.run(wl, db.url, "verify", timeout=60)
    assert code == 1, out
    assert re.search(r"archive copy #1 \(ledger seq \d+\) was edited: its content no longer hashes", out)


def test_a_disabled_section_queues_nothing(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    wl = watchlist(tmp_path, site, spn, enabled="false")
    out = changed(site, db, launcher, wl)
    assert "text changed: change #1" in out
    assert "archive copy" not in out
    assert archive_rows(db) == []
    assert spn.submissions == []


def test_validate_warns_when_the_keys_are_not_set(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    wl = watchlist(tmp_path, site, spn)
    launcher.env = {"PLEDGE_MONITOR_IA_ACCESS": ACCESS}
    code, out = launcher.run(wl, db.url, "validate", timeout=60)
    assert code == 0, out
    assert f"Warning: {wl}: archive: ${{PLEDGE_MONITOR_IA_SECRET}} is not set in the environment" in out
    assert "PLEDGE_MONITOR_IA_ACCESS" not in out


def test_a_job_pending_past_resubmit_after_is_submitted_again(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    spn.pending_polls = 1000  # a job the archive lost: pending for ever
    wl = watchlist(tmp_path, site, spn, wait="0s", resubmit_after="1h")
    changed(site, db, launcher, wl)
    make_captures_due(db)
    run_again(db, launcher, wl)
    assert len(spn.submissions) == 1  # still within the hour: only asked about
    with Session(db.engine) as s, s.begin():
        s.execute(update(m.Archive).values(submitted_at=now() - timedelta(hours=2), next_attempt_at=now()))
    spn.pending_polls = 0
    assert "saved at" in run_again(db, launcher, wl)
    assert len(spn.submissions) == 2
    assert archive_rows(db)[0].job_id == "spn2-" + "2".zfill(40)


def test_the_archive_command_tries_now_what_waits_and_with_failed_what_gave_up(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    wl = watchlist(tmp_path, site, spn)
    spn.stop()
    changed(site, db, launcher, wl)  # the capture waits for a retry, minutes away
    code, out = launcher.run(wl, db.url, "archive", timeout=60)
    assert code == 1, out  # still down: retried later, and the exit says so
    assert "1 capture queued" in out
    assert "(retried later)" in out
    spn.start()
    spn.blocked = True
    code, out = launcher.run(wl, db.url, "archive", timeout=60)
    assert code == 1, out
    assert "failed for good" in out
    assert "error:blocked-url" in out
    code, out = launcher.run(wl, db.url, "archive", timeout=60)
    assert (code, out.strip()) == (0, "0 captures queued")  # a failed capture stays failed
    spn.blocked = False  # the site lifted its block
    code, out = launcher.run(wl, db.url, "archive", "--failed", timeout=60)
    assert code == 0, out
    url = site.url("/policy")
    assert "1 capture queued" in out
    assert f"saved at {spn.archive_url(url)}" in out
    (row,) = archive_rows(db)
    assert (row.status, row.archive_url) == ("saved", spn.archive_url(url))


def test_the_archive_command_needs_the_section_enabled(
    tmp_path: Path, site: CountingSite, spn: Spn, db: Db, launcher: Launcher
) -> None:
    wl = watchlist(tmp_path, site, spn, enabled="false")
    code, out = launcher.run(wl, db.url, "archive", timeout=60)
    assert code == 1
    assert f"archive copies are not enabled in {wl} (archive: enabled: true)" in out


def test_on_postgresql_a_failed_job_is_retried_and_the_copy_saved_and_chained(
    tmp_path: Path, site: CountingSite, spn: Spn, pg_db: Db, launcher: Launcher
) -> None:
    spn.fail_jobs = 1
    wl = watchlist(tmp_path, site, spn)
    out = changed(site, pg_db, launcher, wl)
    assert "(retried later)" in out
    make_captures_due(pg_db)
    url = site.url("/policy")
    assert f"saved at {spn.archive_url(url)}" in run_again(pg_db, launcher, wl)
    (row,) = archive_rows(pg_db)
    assert (row.status, row.archive_url, row.attempts) == ("saved", spn.archive_url(url), 2)
    code, out = launcher.run(wl, pg_db.url, "verify", timeout=60)
    assert code == 0, out
    with Session(pg_db.engine) as s, s.begin():
        s.execute(
            update(m.Archive).values(archive_url="https://web.archive.org/web/1/https://elsewhere.example/")
        )
    code, out = launcher.run(wl, pg_db.url, "verify", timeout=60)
    assert code == 1
    assert f"archive copy #{row.id}" in out
    assert "was edited" in out
