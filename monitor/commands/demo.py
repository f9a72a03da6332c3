"""``pledge-monitor demo``: an offline walk through the whole product, in under a minute."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from monitor.demo.story import DB_NAME, run_demo
from monitor.errors import MonitorError


@click.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's database and watchlist in this directory, to explore them afterwards.",
)
def demo(keep: Path | None) -> None:
    """An offline walk through the whole product, on the 2020 pledges (under a minute).

    Serves bundled pages on 127.0.0.1 and moves them through dated scenes (a baseline, an
    unchanged check, a rewording, a weakening, a move, a removal, deadlines, an outage), on a
    temporary database, printing what pledge-monitor did and the alerts it sent.

    \b
    Examples:
      pledge-monitor demo
      pledge-monitor demo --keep pledge-demo
      pledge-monitor --db sqlite:///pledge-demo/demo.db history
    """
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="pledge-monitor-demo-") as tmp:
            run_demo(Path(tmp), click.echo, kept=False)
        return
    keep.mkdir(parents=True, exist_ok=True)
    if (keep / DB_NAME).exists():
        raise MonitorError(f"{keep / DB_NAME} already exists; give --keep a new or empty directory")
    run_demo(keep, click.echo, kept=True)


COMMANDS = [demo]
