"""The commands of ``pledge-monitor``, one module per group of commands.

``TABLE`` names each top-level command, the module that defines it and its one-line summary, so
``pledge-monitor --help`` can list every command without importing any of them: importing a command
module pulls in SQLAlchemy, requests, apprise and the rest, which is most of the start-up time.
``tests/test_cli.py`` holds the table to the modules: a command missing here, or a summary that no
longer matches the command's help, fails the tests.
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    """Where a command lives and what ``--help`` says of it."""

    module: str
    summary: str


TABLE: dict[str, Entry] = {
    "alerts": Entry("alerts", "Test alert routes; retry alerts that were not delivered."),
    "archive": Entry("audit", "Save the pages of recorded changes in the web archive now (Save Page Now)."),
    "check": Entry(
        "core", "Check the due (or named) sources now, then sweep and deliver alerts; once, for cron."
    ),
    "db": Entry("core", "Database maintenance."),
    "demo": Entry(
        "demo",
        "An offline walk through the whole product, on the 2020 pledges (under a minute).",
    ),
    "diff": Entry("core", "The diff between any two snapshots of a source."),
    "evidence": Entry(
        "audit",
        "Write a change as a WARC file: both versions as fetched, and the hashes that tie them to the chain.",
    ),
    "export": Entry(
        "audit",
        "Export checks, changes, events or pledges as CSV, JSON or JSON Lines, streaming.",
    ),
    "history": Entry("audit", "A timeline of checks, changes and events, and what the record attests."),
    "prune": Entry("audit", "Delete old check rows, keeping what the record attests."),
    "report": Entry(
        "audit",
        "Write a static HTML report: pledges, timelines, diffs, snapshots, an Atom feed.",
    ),
    "run": Entry("run", "Check sources when due, deliver alerts, sweep deadlines daily; until SIGTERM."),
    "serve": Entry(
        "serve", "Serve the pledge tracker and the JSON API (/api/) over the database `run` writes."
    ),
    "show": Entry("core", "The diff of one change, with both timestamps."),
    "stamp": Entry(
        "audit", "Have the Time-Stamp Authorities of the watchlist sign the chain head (RFC 3161)."
    ),
    "status": Entry(
        "status",
        "Each pledge and its state, each source's last good check, pending and failed alerts.",
    ),
    "token": Entry("serve", "Access tokens for `serve --actions`: create, list, revoke."),
    "try": Entry("maintain", "Fetch a source now and show what pledge-monitor would see; writes nothing."),
    "validate": Entry("core", "Check a watchlist file; exit 1 on any error."),
    "verify": Entry(
        "audit",
        "Recompute the integrity chain and every stored body; exit 1 at the first mismatch.",
    ),
}
