"""The auditor's commands: history, export, report, verify, evidence, prune."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

import click

from monitor.audit import export as exporter
from monitor.audit import report as reporter
from monitor.audit.evidence import gather, write_warc
from monitor.audit.history import format_entry, summary
from monitor.audit.prune import prune as prune_checks
from monitor.audit.verify import verify as verify_chain
from monitor.cli import App, parse_since, pass_app, utcnow
from monitor.errors import LockError, MonitorError, WatchlistError
from monitor.store.audit_queries import AuditStore
from monitor.watchlist import parse_duration


def audit_store(app: App) -> AuditStore:
    return app.existing_store.audit


@click.command()
@click.argument("source_arg", metavar="[SOURCE_ID]", required=False)
@click.option("--pledge", "pledge_id", help="The history of this pledge (its sources, its clauses).")
@click.option("--source", "source_id", help="The history of this source.")
@click.option("--since", help="Only since this date (2026-01-31) or this long ago (7d).")
@click.option("-n", "--limit", type=int, default=None, help="Show only the last N lines of the timeline.")
@pass_app
def history(
    app: App,
    source_arg: str | None,
    pledge_id: str | None,
    source_id: str | None,
    since: str | None,
    limit: int | None,
) -> None:
    """A timeline of checks, changes and events, and what the record attests.

    Consecutive checks that saw the same thing are one line; the summary says how often the
    source was checked, between which dates, and what its pledge's clauses were meanwhile.

    \b
    Examples:
      pledge-monitor history
      pledge-monitor history --pledge amazon-rekognition-moratorium
      pledge-monitor history --source amazon-moratorium-post --since 30d
    \b
      2026-03-01 12:00 .. 2026-09-14 06:00  amazon-post: new text stored as snapshot #1, then 411 more ...
      2026-09-14 12:00                      change #3 amazon-post: +2 words, -1 word: removed "not" ...
      pledge amazon-rekognition-moratorium: checked 412 times between 2026-03-01 and 2026-11-20;
      clause intact on every check until 2026-09-14; weakened from 2026-09-14 (event #7)
    """
    if source_arg and source_id and source_arg != source_id:
        raise click.UsageError("give the source once: as an argument or with --source")
    source_id = source_id or source_arg
    if pledge_id and source_id:
        raise click.UsageError("give --pledge or --source, not both")
    audit = audit_store(app)
    start = parse_since(since)
    scope = audit.scope(pledge_id=pledge_id, source_id=source_id)
    found = audit.history(scope, start)
    if not found.entries:
        click.echo(
            "No history yet: run `pledge-monitor check`." if start is None else "Nothing in that window."
        )
        return
    entries = found.entries[-limit:] if limit else found.entries
    for entry in entries:
        click.echo(format_entry(entry))
    click.echo("")
    click.echo(f"{scope.label}: {summary(found)}")
    if scope.kind == "all":
        for pledge in app.existing_store.pledges():
            one = audit.history(audit.scope(pledge_id=pledge.id), start)
            click.echo(f"pledge {pledge.id}: {summary(one)}")


@click.command(name="export", epilog=exporter.help_text())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(exporter.FORMATS),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--what", type=click.Choice(exporter.WHATS), default="checks", show_default=True, help="Which records."
)
@click.option("--since", help="Only since this date (2026-01-31) or this long ago (7d); not for pledges.")
@click.option(
    "-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="File (default stdout)."
)
@pass_app
def export(app: App, fmt: str, what: str, since: str | None, out_path: Path | None) -> None:
    """Export checks, changes, events or pledges as CSV, JSON or JSON Lines, streaming.

    Columns are stable (new ones only ever added at the end). Times are ISO 8601 UTC
    (2026-03-01T12:00:00Z); empty cells / null are missing values; lists and objects are
    JSON text in CSV. In CSV, text starting with = + - @ gets a leading ' (no spreadsheet
    formulas from monitored pages). The JSON format is one array.

    \b
    Examples:
      pledge-monitor export --what checks --since 2026-01-01 --out checks.csv
      pledge-monitor export --what events --format jsonl | jq .kind
      pledge-monitor export --what changes --format json --out changes.json
    """
    audit = audit_store(app)
    start = parse_since(since)
    rows = {
        "checks": lambda: audit.export_checks(start),
        "changes": lambda: audit.export_changes(start),
        "events": lambda: audit.export_events(start),
        "pledges": audit.export_pledges,
    }[what]()
    with _output(out_path, newline="" if fmt == "csv" else None) as out:
        n = exporter.write(rows, what, fmt, out)
    if out_path is not None:
        click.echo(f"wrote {n} {what} to {out_path}", err=True)


@contextmanager
def _output(path: Path | None, newline: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        handle = path.open("w", encoding="utf-8", newline=newline)
    except OSError as exc:
        raise MonitorError(f"cannot write {path}: {exc.strerror}") from exc
    with handle:
        yield handle


@click.command()
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write.",
)
@click.option("--base-url", help="Where the report will be published (for absolute links in feed.xml).")
@pass_app
def report(app: App, out_dir: Path, base_url: str | None) -> None:
    """Write a static HTML report: pledges, timelines, diffs, snapshots, an Atom feed.

    Open OUT/index.html from disk or publish the folder. Monitored content is shown as
    text (escaped; no page script runs); no external assets, readable on a phone. The
    index shows the chain head: publish it so others can check the record later with
    `pledge-monitor verify --head HASH`.

    \b
    Example:
      pledge-monitor report --out site/
      wrote 57 pages to site/ (open site/index.html); chain head 3f2a... (seq 212)
    """
    built = reporter.build(audit_store(app), out_dir, now=utcnow(), base_url=base_url)
    head = f"chain head {built.head.hash} (seq {built.head.seq})" if built.head else "chain empty"
    click.echo(f"wrote {built.pages} pages to {out_dir} (open {out_dir / 'index.html'}); {head}")


@click.command()
@click.option(
    "--head",
    "published_head",
    help="A chain head published earlier (whole, or a unique prefix): check it is still in the chain.",
)
@click.option(
    "--pack",
    "pack_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Check an evidence pack on its own, without the database.",
)
@pass_app
def verify(app: App, published_head: str | None, pack_path: Path | None) -> None:
    """Recompute the integrity chain and every stored body; exit 1 at the first mismatch.

    Names the first record that does not match: edited text or rows, edited, deleted or
    added checks, reordered entries, corrupt stored bodies; and checks every RFC 3161
    timestamp token against the chain and its TSA's root certificate (from the watchlist).

    \b
    Examples:
      pledge-monitor verify
      verified 212 records (40 snapshots, 39 changes, 133 events; 80 blobs); chain head 3f2a... (seq 212)
      pledge-monitor verify --head 3f2a9c     # the hash published with an earlier report, or its start
      pledge-monitor verify --pack change-12-evidence.zip
    """
    if pack_path is not None:
        from monitor.audit.pack import verify_pack

        if published_head:
            raise click.UsageError("--pack checks the pack alone: give it without --head")
        for line in verify_pack(pack_path.read_bytes()).lines():
            click.echo(line)
        return
    result = verify_chain(audit_store(app), published_head=published_head, roots=tsa_roots(app))
    click.echo(result.line())
    if result.published is not None:
        seq, digest = result.published
        click.echo(f"the published head {digest} (seq {seq}) is in the chain")


def tsa_roots(app: App) -> dict[str, list[Any]]:
    """The root certificate of each TSA the watchlist names; none when there is no watchlist."""
    from monitor.audit.timestamps import load_roots

    try:
        watchlist = app.watchlist
    except WatchlistError:
        return {}
    spec = watchlist.timestamps
    return {tsa.url: load_roots(watchlist.tsa_ca(tsa)) for tsa in (spec.tsa if spec else ())}


@click.command()
@click.option("--force", is_flag=True, help="Stamp the head now with every TSA, even if none is due.")
@pass_app
def stamp(app: App, force: bool) -> None:
    """Have the Time-Stamp Authorities of the watchlist sign the chain head (RFC 3161).

    `check` and `run` do this by themselves when a stamp is due (daily, and after a change);
    a TSA that is down is tried again later. Exit 1 if every TSA asked failed.

    \b
    Example:
      pledge-monitor stamp
      chain head seq 212 timestamped by https://freetsa.org/tsr at 2026-03-01 12:00:03 UTC
    """
    from monitor.stamping import stamp_due

    if app.watchlist.timestamps is None:
        raise MonitorError(f"no timestamps: section in {app.watchlist.path}: name at least one TSA there")
    done = stamp_due(app.store, app.watchlist, utcnow(), force=force)
    if not done:
        click.echo("nothing to stamp: every TSA has stamped the head, or waits to retry (--force)")
    for one in done:
        click.echo(one.line())
    if done and all(one.error for one in done):
        raise MonitorError("no TSA stamped the chain head")


@click.command()
@click.option("--failed", "include_failed", is_flag=True, help="Also try again the captures that gave up.")
@pass_app
def archive(app: App, include_failed: bool) -> None:
    """Save the pages of recorded changes in the web archive now (Save Page Now).

    `check` and `run` do this by themselves after each change; this tries at once the captures that
    wait for a retry and, with --failed, those that gave up too. Exit 1 when any failed or must be
    retried. On SQLite, while a daemon runs, they are queued for it.

    \b
    Example:
      pledge-monitor archive --failed
      1 capture queued
        archive copy of change #7 (https://example.org/policy): saved at https://web.archive.org/web/...
    """
    import os

    from monitor.archiving import LEASE, capture_due
    from monitor.store import archives
    from monitor.worker import default_worker_name, working

    spec = app.watchlist.archive
    if spec is None or not spec.enabled:
        raise MonitorError(f"archive copies are not enabled in {app.watchlist.path} (archive: enabled: true)")
    queued = archives.requeue(app.store.engine, now=utcnow(), include_failed=include_failed)
    noun = "capture" if queued == 1 else "captures"
    try:
        with working(app.store, app.url, f"archive:{default_worker_name()}", lease=LEASE) as worker:
            done = capture_due(app.store, spec, os.environ, worker=worker)
    except LockError as exc:
        click.echo(f"{queued} {noun} queued for the running daemon ({exc})")
        return
    click.echo(f"{queued} {noun} queued")
    for one in done:
        click.echo(f"  {one.line()}")
    if any(one.state in ("retry", "failed") for one in done):
        raise click.exceptions.Exit(1)


@click.command()
@click.argument("change_id", type=int)
@click.option(
    "-o",
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (a .warc.gz; with --pack a .zip, default change-N-evidence.zip).",
)
@click.option(
    "--pack", is_flag=True, help="Write an evidence pack: one zip anyone can check without this tool."
)
@pass_app
def evidence(app: App, change_id: int, out_path: Path | None, pack: bool) -> None:
    """Write a change as a WARC file: both versions as fetched, and the hashes that tie them to the chain.

    Per version a request and a response record (the body byte for byte as stored), a resource
    record with its screenshot when it has one (image/png, ``urn:screenshot:`` and the URL), and
    a metadata record with check times, sha256 hashes and ledger entries. Opens in any WARC
    tool (warcio, pywb, replayweb.page).

    With --pack, one zip: the WARC, both texts, the rendered diff, the chain segment and the
    timestamp tokens that cover the change, archive copies, and a README saying how to check
    each part with openssl, warcio and sha256sum. `verify --pack FILE` checks it alone.

    \b
    Examples:
      pledge-monitor evidence 12 --out change-12.warc.gz
      pledge-monitor evidence 12 --pack
      wrote change-12-evidence.zip: change #12 of ibm-letter, 14 chain entries, 2 timestamps
    """
    if pack:
        _write_pack(app, change_id, out_path or Path(f"change-{change_id}-evidence.zip"))
        return
    if out_path is None:
        raise click.UsageError("give --out FILE.warc.gz (or --pack for an evidence pack)")
    found = gather(audit_store(app), change_id)
    try:
        with out_path.open("wb") as out:
            n = write_warc(found, out, filename=out_path.name)
    except OSError as exc:
        raise MonitorError(f"cannot write {out_path}: {exc.strerror}") from exc
    pictures = " their screenshots," if found.before.screenshot or found.after.screenshot else ""
    click.echo(
        f"wrote {n} records to {out_path}: snapshots #{found.before.snapshot_id} and "
        f"#{found.after.snapshot_id} of {found.source_id} as fetched,{pictures} and the hashes"
    )


def _write_pack(app: App, change_id: int, out_path: Path) -> None:
    from monitor.audit.pack import build, gather_pack

    pems = {}
    try:
        watchlist = app.watchlist
    except WatchlistError:
        watchlist = None
    if watchlist is not None and watchlist.timestamps is not None:
        for tsa in watchlist.timestamps.tsa:
            try:
                pems[tsa.url] = watchlist.tsa_ca(tsa).read_bytes()
            except OSError as exc:
                raise MonitorError(f"cannot read {watchlist.tsa_ca(tsa)}: {exc.strerror}") from exc
    data = gather_pack(audit_store(app), change_id, pems)
    try:
        out_path.write_bytes(build(data))
    except OSError as exc:
        raise MonitorError(f"cannot write {out_path}: {exc.strerror}") from exc
    tokens = len(data.tokens)
    click.echo(
        f"wrote {out_path}: change #{change_id} of {data.change['source_id']}, {len(data.segment)} chain "
        f"entries, {tokens} timestamp{'s' if tokens != 1 else ''}"
        + ("" if tokens else " (none covers this change yet: run `pledge-monitor stamp`, then pack again)")
    )


@click.command()
@click.option(
    "--checks-older-than", "older_than", required=True, help="Age of the checks to thin out (180d)."
)
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@pass_app
def prune(app: App, older_than: str, dry_run: bool) -> None:
    """Delete old check rows, keeping what the record attests.

    Keeps every snapshot, change and event, every check they name, and the first and last
    check of each run of checks that saw the same thing; the chain still verifies.

    \b
    Example:
      pledge-monitor prune --checks-older-than 180d --dry-run
    """
    try:
        age = parse_duration(older_than, at_most=timedelta(days=36500))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--checks-older-than") from exc
    result = prune_checks(audit_store(app), age, utcnow(), dry_run=dry_run)
    for line in result.lines():
        click.echo(line)


COMMANDS: list[click.Command] = [history, export, report, verify, stamp, archive, evidence, prune]
