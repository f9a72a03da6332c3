"""Logging for the daemon: readable lines by default, JSON lines for log collectors; never a secret.

Structured values travel as ``extra=`` fields (``source``, ``pledge``, ``outcome``, ``status``,
``ms``, ``event``, ``route``, ...): the text format shows the message only, the JSON format adds
every field. A filter on the handler scrubs secrets from every record of every logger, apprise's
and urllib3's included: the values of the ``${VAR}`` the routes use, database passwords, and any
``user:password@`` in a URL.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from monitor.secrets import Scrubber, ScrubFilter, record_fields, referenced_env_vars
from monitor.watchlist import Watchlist

FORMATS = ("text", "json")
_QUIET = dict.fromkeys(("apscheduler", "urllib3", "apprise", "alembic"), logging.WARNING)
_EXPECTED = ("maximum number of running instances reached",)  # a long cycle makes a tick wait
_HANDLER_NAME = "pledge-monitor"


class SecretFilter(ScrubFilter):
    """The handler's scrubber (``monitor.secrets.Scrubber``); drops the lines that are expected."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.scrubber = Scrubber(secrets)
        super().__init__(self.scrubber)

    def update(self, secrets: Iterable[str]) -> None:
        """Swap the secret values (on reload: routes may use other variables now)."""
        self.scrubber.update(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if any(phrase in str(record.msg) for phrase in _EXPECTED):
            return False
        return super().filter(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update(record_fields(record))
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-03-01 12:00:00 INFO    check ibm-letter: unchanged (HTTP 200, 35 ms)``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S")


def setup(
    fmt: str = "text", *, level: int = logging.INFO, stream: TextIO | None = None, secrets: Iterable[str] = ()
) -> SecretFilter:
    """Send every logger's records to ``stream`` (stderr) in ``fmt``; return the secret filter."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    secret_filter = SecretFilter(secrets)
    handler.addFilter(secret_filter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, level))
    return secret_filter


def watchlist_secrets(watchlist: Watchlist, env: Mapping[str, str]) -> set[str]:
    """The values of every environment variable a route URL, a source header or the archive
    section refers to."""
    names = {name for route in watchlist.routes for url in route.urls for name in referenced_env_vars(url)}
    names |= {
        name
        for source in watchlist.sources
        for _, v in source.header_pairs
        for name in referenced_env_vars(v)
    }
    if watchlist.archive is not None:  # the web archive's keys
        names |= {watchlist.archive.access_env, watchlist.archive.secret_env}
    return {env[name] for name in names if env.get(name)}
