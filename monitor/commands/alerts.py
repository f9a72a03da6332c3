"""``alerts test ROUTE`` and ``alerts retry``: try a route now, and re-send what did not go out."""

from __future__ import annotations

import os

import click

from monitor.alerts.deliver import LEASE
from monitor.alerts.render import render_test
from monitor.alerts.send import send_to_route
from monitor.cli import App, MonitorGroup, pass_app, utcnow
from monitor.errors import LockError
from monitor.store import outbox
from monitor.worker import default_worker_name, working


@click.group("alerts", cls=MonitorGroup)
def alerts_group() -> None:
    """Test alert routes; retry alerts that were not delivered.

    \b
    Examples:
      pledge-monitor alerts test advocacy-slack
      pledge-monitor alerts retry --failed
    """


@alerts_group.command("test")
@click.argument("route")
@pass_app
def test_route(app: App, route: str) -> None:
    """Send a test message to every URL of ROUTE now; exit 1 if any fails.

    \b
    Example:
      pledge-monitor alerts test auditors
      ok      mailtos://smtp.example.org/***
      FAILED  json://127.0.0.1:8080/***: ... error=500.
    """
    spec = app.watchlist.route(route)
    results = send_to_route(spec, render_test(spec.name, utcnow()), env=os.environ)
    for result in results:
        if result.ok:
            click.echo(f"ok      {result.target}")
        else:
            click.echo(f"FAILED  {result.error}")
    if not all(r.ok for r in results):
        raise click.exceptions.Exit(1)


@alerts_group.command("retry")
@click.option("--failed", "include_failed", is_flag=True, help="Also retry alerts that gave up.")
@pass_app
def retry(app: App, include_failed: bool) -> None:
    """Send the alerts waiting for a retry now; with --failed, those that gave up too.

    Says how many were sent, are left to retry and failed; exit 1 when any was not delivered.
    Digest alerts still wait for their digest time. On SQLite, while a daemon runs, the alerts
    are queued for it (it delivers every 15 s) and `pledge-monitor status` shows the result.

    \b
    Example:
      pledge-monitor alerts retry --failed
      3 alerts queued; alerts: 3 sent, 0 to retry, 0 failed
    """
    from monitor.alerts.deliver import deliver_all

    engine = app.store.engine
    queued = outbox.requeue(engine, now=utcnow(), include_failed=include_failed)
    try:
        with working(app.store, app.url, f"alerts-retry:{default_worker_name()}", lease=LEASE) as worker:
            summary = deliver_all(app.store, app.watchlist, clock=utcnow, worker=worker, env=os.environ)
    except LockError as exc:
        click.echo(f"{queued} alerts queued for the running daemon ({exc}); it sends them within 15 s")
        return
    click.echo(f"{queued} alerts queued; {summary.line()}")
    for error in summary.errors:
        click.echo(f"  {error}")
    if summary.failed or summary.retrying:
        raise click.exceptions.Exit(1)


COMMANDS = [alerts_group]
