"""``pledge-monitor status``: each pledge's state, each source's health, the alerts outbox."""

from __future__ import annotations

import click

from monitor.cli import App, pass_app, utcnow
from monitor.errors import MonitorError
from monitor.health import health_problems, status_lines
from monitor.watchlist import parse_duration


@click.command()
@click.option("--health", is_flag=True, help="Exit 1 when the scheduler is stale or alerts are failing.")
@click.option(
    "--stale-after", default="5m", show_default=True, help="With --health: how old a heartbeat may be."
)
@pass_app
def status(app: App, health: bool, stale_after: str) -> None:
    """Each pledge and its state, each source's last good check, pending and failed alerts.

    \b
    Examples:
      pledge-monitor status
      pledge-monitor status --health     # for a container HEALTHCHECK
    """
    store, now = app.existing_store, utcnow()
    if health:
        try:
            window = parse_duration(stale_after)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--stale-after") from exc
        problems = health_problems(store, now, window)
        if problems:
            raise MonitorError("unhealthy: " + "; ".join(problems))
        click.echo("healthy")
        return
    if app.watchlist_path.exists():
        store.sync(app.watchlist, now)  # the picture as the watchlist now has it
    else:
        click.echo(f"(no watchlist at {app.watchlist_path}: the database as last synced)", err=True)
    for line in status_lines(store, now):
        click.echo(line)


COMMANDS = [status]
