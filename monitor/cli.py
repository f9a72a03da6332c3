"""The ``pledge-monitor`` command: thin commands over the library.

A MonitorError becomes ``Error: ...`` on stderr and exit status 1; nothing else here decides.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor import __version__
from monitor.commands import TABLE
from monitor.errors import MonitorError, WatchlistError

if TYPE_CHECKING:
    from monitor.store.repo import Store
    from monitor.watchlist import Watchlist

WATCHLIST_ENV = "PLEDGE_MONITOR_WATCHLIST"
DB_HELP = (
    "Database: a URL (postgresql+psycopg://..., sqlite:///...) or the path of a SQLite file"
    "  [default: $PLEDGE_MONITOR_DB, else pledge-monitor.db next to the watchlist]"
)


@dataclass
class App:
    """What every command may need, opened on first use."""

    watchlist_path: Path
    db_url: str | None
    _watchlist: Watchlist | None = None
    _store: Store | None = None

    @property
    def watchlist(self) -> Watchlist:
        if self._watchlist is None:
            from monitor.watchlist import load_watchlist

            self._watchlist = load_watchlist(self.watchlist_path)
        return self._watchlist

    @property
    def url(self) -> str:
        from monitor.store.db import database_url, default_url

        return database_url(self.db_url) if self.db_url else default_url(self.watchlist_path)

    @property
    def store(self) -> Store:
        if self._store is None:
            from monitor.store.db import open_engine
            from monitor.store.repo import Store

            self._store = Store(open_engine(self.url))
        return self._store

    @property
    def existing_store(self) -> Store:
        """The store of a command that only reads: a SQLite file that is not there is an error,
        never an empty database made on the spot (which ``verify`` would then call intact)."""
        from monitor.store.db import require_database

        if self._store is None:
            require_database(self.url)
        return self.store


pass_app = click.make_pass_decorator(App)


class MonitorGroup(click.Group):
    """Turns a MonitorError into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WatchlistError as exc:
            for issue in exc.issues:
                click.echo(f"Error: {issue}", err=True)
            ctx.exit(1)
        except MonitorError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


class CommandTable(MonitorGroup):
    """The top-level group: imports a command's module only when that command runs.

    ``--help`` lists the commands from ``monitor.commands.TABLE`` without importing them, so it
    (and ``--version``) start at once; ``check`` pays only for what checking needs.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(TABLE) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in TABLE:
            module = importlib.import_module(f"monitor.commands.{TABLE[cmd_name].module}")
            for command in getattr(module, "COMMANDS", ()):
                _add_common_options(command)
                self.add_command(command)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self._summary(name, limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _summary(self, name: str, limit: int) -> str:
        if name in self.commands:
            return self.commands[name].get_short_help_str(limit)
        return shorten(TABLE[name].summary, limit)


def _set_watchlist(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        app = ctx.find_object(App)
        if app is not None:
            app.watchlist_path, app._watchlist = value, None


def _set_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        app = ctx.find_object(App)
        if app is not None:
            app.db_url, app._store = value, None


def _common_options() -> list[click.Parameter]:
    """``-w`` and ``--db`` after the command name too: ``pledge-monitor status --db pm.db``."""
    return [
        click.Option(
            ["-w", "--watchlist", "watchlist_after"],
            type=click.Path(path_type=Path),
            expose_value=False,
            callback=_set_watchlist,
            help="The watchlist file (as before the command name).",
        ),
        click.Option(
            ["--db", "db_after"], expose_value=False, callback=_set_db, help=DB_HELP.split("  [")[0] + "."
        ),
    ]


def _add_common_options(command: click.Command) -> None:
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_common_options(sub)
    elif command.name != "demo" and not any(p.name == "db_after" for p in command.params):
        command.params.extend(_common_options())  # the demo makes its own watchlist and database


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word to fit ``limit`` characters, as click shortens command help."""
    if len(text) <= limit:
        return text
    kept = ""
    for word in text.split():
        if len(kept) + len(word) + 4 > limit:
            break
        kept = f"{kept} {word}" if kept else word
    return f"{kept}..."


@click.group(cls=CommandTable, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-w",
    "--watchlist",
    "watchlist_path",
    type=click.Path(path_type=Path),
    default=lambda: os.environ.get(WATCHLIST_ENV, "watchlist.yaml"),
    show_default="watchlist.yaml, or $PLEDGE_MONITOR_WATCHLIST",
    help="The watchlist file.",
)
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.version_option(version=__version__, package_name="pledge-monitor")
@click.pass_context
def main(ctx: click.Context, watchlist_path: Path, db_url: str | None) -> None:
    """Watch company pledges and alert when their wording changes or they lapse.

    \b
    Start here:
      pledge-monitor demo                  an offline walk through the whole product
      pledge-monitor validate              check watchlist.yaml
      pledge-monitor check                 check the sources that are due, now
      pledge-monitor history               what was checked and what changed
      pledge-monitor show 12               the diff of change 12
    """
    ctx.obj = App(watchlist_path=watchlist_path, db_url=db_url)


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_since(value: str | None) -> datetime | None:
    """``--since 2026-01-01`` or ``--since 7d`` (that long ago)."""
    if value is None:
        return None
    from datetime import timedelta

    from monitor.watchlist import parse_duration

    if "-" in value:
        try:
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        delta: timedelta = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(f"expected a date (2026-01-31) or a duration (7d), got {value!r}") from exc
    return utcnow() - delta


def is_tty() -> bool:
    return sys.stdout.isatty()
