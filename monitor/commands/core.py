"""The core commands: validate, check, show, diff, db upgrade (history is in commands/audit.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from monitor.cli import App, is_tty, pass_app, utcnow
from monitor.errors import MonitorError

if TYPE_CHECKING:  # each command imports what it runs: `validate` never loads the checking stack
    from monitor.checking import CheckResult
    from monitor.cycle import CycleSummary
    from monitor.fetch import Fetcher
    from monitor.store.repo import Store


def fetcher_for(app: App) -> Fetcher:
    from monitor.fetch import Fetcher

    defaults = app.watchlist.defaults
    return Fetcher(
        user_agent=defaults.user_agent,
        pool_size=defaults.concurrency,
        max_body=defaults.max_body,
        browser_pages=defaults.browser_pages,
    )


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--online", is_flag=True, help="Also fetch every source: selectors, short texts, clauses, stability."
)
@pass_app
def validate(app: App, file: str | None, online: bool) -> None:
    """Check a watchlist file; exit 1 on any error.

    \b
    Examples:
      pledge-monitor validate watchlist.yaml
      watchlist.yaml:14: pledges[2].sources[0]: unknown source 'ibm-leter' (did you mean 'ibm-letter'?)
      pledge-monitor validate --online     # also fetch each source twice, as `try` does
    """
    from monitor.watchlist import load_watchlist, missing_archive_vars, missing_env_vars, missing_header_vars

    path = file or str(app.watchlist_path)
    watchlist = load_watchlist(path)
    for route, var in missing_env_vars(watchlist, os.environ):
        click.echo(f"Warning: {path}: routes.{route}: ${{{var}}} is not set in the environment", err=True)
    for source, header, var in missing_header_vars(watchlist, os.environ):
        click.echo(
            f"Warning: {path}: source {source}: header {header}: ${{{var}}} is not set in the environment",
            err=True,
        )
    for var in missing_archive_vars(watchlist, os.environ):
        click.echo(f"Warning: {path}: archive: ${{{var}}} is not set in the environment", err=True)
    click.echo(
        f"{path}: OK ({len(watchlist.sources)} sources, {len(watchlist.pledges)} pledges, "
        f"{len(watchlist.routes)} routes)"
    )
    if online:
        from monitor.commands.maintain import check_online

        check_online(watchlist)


@click.command()
@click.option("-s", "--source", "source_ids", multiple=True, help="Check this source (repeatable).")
@click.option("--all", "check_all", is_flag=True, help="Check every source, due or not.")
@click.option(
    "--no-deliver",
    "no_deliver",
    is_flag=True,
    help="Only check: leave the alerts queued and the sweep (deadlines, stale sources) to `run`.",
)
@pass_app
def check(app: App, source_ids: tuple[str, ...], check_all: bool, no_deliver: bool) -> None:
    """Check the due (or named) sources now, then sweep and deliver alerts; once, for cron.

    One line per source says what happened. After checking, the sweep raises the deadline and
    stale-source events that are due, and the alerts that are due are sent (--no-deliver skips
    both).

    \b
    Examples:
      pledge-monitor check
      pledge-monitor check --source ibm-letter --source amazon-moratorium-post
      pledge-monitor check --no-deliver    # alerts stay queued for `run` or `alerts retry`
      */15 * * * * cd /srv/pledges && pledge-monitor check    # crontab
    """
    from monitor.process import collect_rarely, limit_malloc_arenas

    limit_malloc_arenas()
    collect_rarely()  # before the checking stack is imported: that is most of the allocations
    from monitor.worker import DEFAULT_LEASE, default_worker_name, working

    with working(app.store, app.url, default_worker_name(), lease=DEFAULT_LEASE) as worker:
        _check(app, source_ids, check_all, worker)
        if not no_deliver:
            _sweep_and_deliver(app, worker)


def _check(app: App, source_ids: tuple[str, ...], check_all: bool, worker: str) -> None:
    from monitor.cycle import run_cycle
    from monitor.narrate import describe_check
    from monitor.process import settle_heap

    watchlist, store = app.watchlist, app.store
    now = utcnow()
    store.sync(watchlist, now)
    settle_heap()
    if source_ids:
        ids = [watchlist.source(sid).id for sid in source_ids]
    elif check_all:
        ids = [s.id for s in watchlist.sources]
    else:
        ids = store.due_sources(now)
    results: list[CheckResult] = []

    def keep(result: CheckResult) -> None:
        # the line per source needs no body, text or diff: 2,000 first snapshots kept to the end
        # held 150 MB
        results.append(replace(result, snapshot=None, diff=None, items=()))

    with fetcher_for(app) as fetcher:
        if is_tty() and ids:
            summary = _with_progress(app, fetcher, ids, keep)
        else:
            summary = run_cycle(store, watchlist, fetcher, ids, on_result=keep)
    click.echo(summary.line())
    records = {r.source_id: r for r in summary.records}
    width = max((len(r.source_id) for r in results), default=0)
    for result in sorted(results, key=lambda r: r.source_id):
        click.echo(f"  {result.source_id:<{width}}  {describe_check(result, records.get(result.source_id))}")
    _echo_events(store, [eid for record in summary.records for eid in record.event_ids])
    from monitor.witness import witness_jobs

    for line in witness_jobs(store, watchlist, utcnow(), os.environ, worker=worker):
        click.echo(f"  {line}")


def _sweep_and_deliver(app: App, worker: str) -> None:
    """What `run` does after its checks: the sweep raises what is due, the alerts go out."""
    from monitor.alerts.deliver import deliver_all
    from monitor.sweep import sweep_now

    swept = sweep_now(app.store, app.watchlist, utcnow())
    if swept:
        click.echo(f"sweep: {len(swept)} event{'s' if len(swept) != 1 else ''} (deadlines, stale sources)")
        _echo_events(app.store, swept)
    delivered = deliver_all(app.store, app.watchlist, clock=utcnow, worker=worker, env=os.environ)
    click.echo(delivered.line())
    for error in delivered.errors:
        click.echo(f"  {error}")


def _echo_events(store: Store, ids: list[int]) -> None:
    for event in store.events_by_ids(ids):
        click.echo(f"  => event #{event.id} [{event.severity}] {event.kind}: {event.title}")


def _with_progress(
    app: App, fetcher: Fetcher, ids: list[str], on_result: Callable[[CheckResult], None]
) -> CycleSummary:
    from rich.progress import Progress

    from monitor.cycle import run_cycle

    with Progress(transient=True) as progress:
        bar = progress.add_task("checking", total=len(ids))

        def advance(result: CheckResult) -> None:
            on_result(result)
            progress.advance(bar)

        return run_cycle(app.store, app.watchlist, fetcher, ids, on_result=advance)


@click.command()
@click.argument("change_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "unified", "html"]), default="text")
@pass_app
def show(app: App, change_id: int, fmt: str) -> None:
    """The diff of one change, with both timestamps.

    \b
    Example:
      pledge-monitor show 12
      pledge-monitor show 12 --format unified
    """
    store = app.existing_store
    change = store.change(change_id)
    old_snap, new_snap = store.snapshot(change.from_snapshot_id), store.snapshot(change.to_snapshot_id)
    click.echo(f"change #{change.id} of {change.source_id}: {change.summary}")
    click.echo(f"  from snapshot #{old_snap.id} fetched {old_snap.fetched_at:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"  to   snapshot #{new_snap.id} fetched {new_snap.fetched_at:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"  {new_snap.url}")
    click.echo("")
    old_text = store.load_text(old_snap.text_hash)
    _echo_diff(old_text, store.load_text(new_snap.text_hash), fmt, old_snap.id, new_snap.id)


@click.command(name="diff")
@click.argument("snapshot_a", type=int)
@click.argument("snapshot_b", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "unified", "html"]), default="text")
@pass_app
def diff_command(app: App, snapshot_a: int, snapshot_b: int, fmt: str) -> None:
    """The diff between any two snapshots of a source.

    \b
    Example:
      pledge-monitor diff 3 17
    """
    store = app.existing_store
    a, b = store.snapshot(snapshot_a), store.snapshot(snapshot_b)
    if a.source_id != b.source_id:
        raise MonitorError(
            f"snapshots #{a.id} ({a.source_id}) and #{b.id} ({b.source_id}) belong to different sources"
        )
    when = "%Y-%m-%d %H:%M"
    click.echo(f"{a.source_id}: snapshot #{a.id} ({a.fetched_at:{when}}) -> #{b.id} ({b.fetched_at:{when}})")
    _echo_diff(store.load_text(a.text_hash), store.load_text(b.text_hash), fmt, a.id, b.id)


def _echo_diff(old: str, new: str, fmt: str, old_id: int, new_id: int) -> None:
    from monitor import diff as differ

    if fmt == "unified":
        click.echo(
            differ.render_unified(old, new, from_label=f"snapshot {old_id}", to_label=f"snapshot {new_id}")
        )
        return
    change = differ.compute(old, new)
    if fmt == "html":
        click.echo(differ.render_html(change))
    elif not change.changed:
        click.echo("(no difference in the text)")
    else:
        click.echo(differ.render_terminal(change, color=is_tty()))


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command()
@pass_app
def upgrade(app: App) -> None:
    """Migrate the database to the current schema (also done on every start).

    \b
    Example:
      pledge-monitor --db sqlite:///pledges.db db upgrade
    """
    from monitor.store.db import current_revision, open_engine, redact_db_url

    engine = open_engine(app.url)
    click.echo(f"{redact_db_url(app.url)}: at revision {current_revision(engine)}")


COMMANDS: list[click.Command] = [validate, check, show, diff_command, db]
