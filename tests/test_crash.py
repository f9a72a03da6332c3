"""A process killed between "event stored" and "alert sent": the alert goes out after restart, once.

The crash is real: a child process records a check that raises an event (and its pending alert, in
the same transaction) and then SIGKILLs itself before any delivery. The restarted service delivers
the alert exactly once to a real local webhook, and a further pass delivers nothing more.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from monitor.store.db import open_engine
from monitor.store.outbox import alert_counts
from tests.receivers import Endpoint
from tests.site import Site, policy_page
from tests.test_run import hook

CLAUSE = "we will not sell facial recognition technology to police departments in the United States"
ARTICLE = f"<p>{CLAUSE[0].upper() + CLAUSE[1:]} until there is a national law.</p>"

__all__ = ["hook"]  # a fixture, used below

RECORD_THEN_DIE = """
import os, signal, sys
from monitor.cycle import run_cycle
from monitor.fetch import Fetcher
from monitor.store.db import open_engine
from monitor.store.repo import Store
from monitor.watchlist import load_watchlist

watchlist = load_watchlist(sys.argv[1])
store = Store(open_engine(sys.argv[2]))
store.sync(watchlist, __import__("datetime").datetime.now(__import__("datetime").UTC))
with Fetcher(user_agent="crash-test", retries=0) as fetcher:
    summary = run_cycle(store, watchlist, fetcher, [s.id for s in watchlist.sources])
print("events", summary.events, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the crash: events and alerts stored, nothing sent
"""


def keys(hook: Endpoint) -> list[str]:
    return [str(post["key"]) for post in list(hook.accepted)]


def test_killed_after_storing_the_event_delivers_once_after_restart(
    site: Site, hook: Endpoint, tmp_path: Path
) -> None:
    site.put("/policy", policy_page(ARTICLE))
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(
        textwrap.dedent(
            f"""
            defaults:
              per_host_delay: 0s
            routes:
              hook:
                urls: ["json://{hook.url}"]
            sources:
              - id: policy
                url: {site.url("/policy")}
                select: "#policy"
            pledges:
              - id: no-police-sales
                company: Example Corp
                title: No facial recognition sales to US police
                made_on: 2020-06-11
                sources: [policy]
                clauses: ["{CLAUSE}"]
            """
        )
    )
    db = f"sqlite:///{tmp_path / 'pledge-monitor.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_MONITOR_")}

    def die_after_recording() -> str:
        child = subprocess.run(
            [sys.executable, "-c", RECORD_THEN_DIE, str(watchlist), db],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr
        return child.stdout

    def run_once() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "--watchlist", str(watchlist), "--db", db, "run", "--once"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

    assert "events 0" in die_after_recording()  # the baseline: nothing to tell
    site.put("/policy", policy_page(ARTICLE.replace("will not sell", "will sell")))
    assert "events 1" in die_after_recording()  # pledge.weakened stored, then the crash
    engine = open_engine(db)
    assert alert_counts(engine)["pending"] == 1 and hook.accepted == []

    run_once()  # the restart
    assert keys(hook) == ["pm-1-hook"]
    run_once()  # and again: nothing is sent twice
    assert keys(hook) == ["pm-1-hook"]
    assert alert_counts(engine) == {"pending": 0, "sending": 0, "sent": 1, "failed": 0, "muted": 0}
    engine.dispose()
