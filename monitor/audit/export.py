"""Export the record as CSV, JSON or JSON Lines, for spreadsheets and other tools.

The columns are a stable interface: new columns may be added at the end, none is renamed or
removed. Times are ISO 8601 UTC to the second (``2026-03-01T12:00:00Z``); a missing value is
empty in CSV and ``null`` in JSON; lists and objects are JSON text in CSV. In CSV only, a text
cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``
so that spreadsheets show it instead of running it as a formula (monitored pages are untrusted);
JSON and JSON Lines carry every value unchanged.

Rows stream from the database to the output one at a time: an export of millions of checks
needs no more memory than one of ten. The JSON format is one array, written element by element.

``--what checks``: one row per check (every fetch attempt), oldest first

| column | meaning |
|---|---|
| id | check id |
| source_id | the source checked |
| at | when the check ran |
| outcome | baseline, unchanged, not_modified, same_text, changed, rebaseline or failed |
| status | HTTP status of the last response (empty when none came) |
| ms | how long the check took, in milliseconds |
| final_url | the URL after redirects, when it differs from the source's |
| redirects | the redirects followed: [[url, status, location], ...] |
| etag | the ETag the server sent |
| last_modified | the Last-Modified the server sent |
| error | why the check failed |
| snapshot_id | the snapshot this check stored (only when the text was new) |
| note | what the check noted about the page, e.g. the HTML repair it needed to be read |

``--what changes``: one row per change of a source's text, oldest first

| column | meaning |
|---|---|
| id | change id (`pledge-monitor show ID`) |
| source_id | the source whose text changed |
| detected_at | when the check that saw it ran |
| from_snapshot_id | the snapshot before |
| to_snapshot_id | the snapshot after |
| from_fetched_at | when the snapshot before was fetched |
| to_fetched_at | when the snapshot after was fetched |
| url | the URL the new version was fetched from |
| added_words | words added |
| removed_words | words removed |
| summary | the change in one line |
| ledger_seq | its entry in the integrity chain |
| ledger_hash | that entry's hash |
| archive_url | its page saved at the Internet Archive, once saved (`archive:`) |

``--what events``: one row per event, oldest first

| column | meaning |
|---|---|
| id | event id |
| created_at | when it was raised |
| kind | pledge.reworded, source.gone, ... |
| severity | info, warning, high or critical |
| pledge_id | the pledge concerned, if one |
| source_id | the source concerned, if one |
| change_id | the change that raised it, if one |
| check_id | the check that raised it, if one |
| title | the event in one line |
| details | the event's details (JSON object) |
| ledger_seq | its entry in the integrity chain |
| ledger_hash | that entry's hash |

``--what pledges``: one row per pledge, by company

| column | meaning |
|---|---|
| id | pledge id |
| company | the company |
| title | the pledge in a few words |
| made_on | when it was made (date) |
| expires_on | when it expires, if it does (date) |
| effective_expiry | the expiry after any renewal (date) |
| renewed | whether a renewal was recorded |
| active | false once removed from the watchlist |
| state | intact, reworded, weakened, removed, expired or unknown |
| state_since | when it took that state |
| sources | the sources that carry it (list) |
| clauses | the clauses watched (list) |
| keywords | keywords for new statements (list) |
| tags | tags (list) |
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TextIO

from monitor.errors import MonitorError

FORMATS = ("csv", "json", "jsonl")
WHATS = ("checks", "changes", "events", "pledges")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    name: str
    doc: str
    kind: str = "text"  # text|int|time|date|bool|json
    get: Callable[[Mapping[str, Any]], Any] | None = None  # default: row[name]

    def value(self, row: Mapping[str, Any]) -> Any:
        return self.get(row) if self.get else row[self.name]


def _spec(key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: (row["spec"] or {}).get(key)


COLUMNS: dict[str, tuple[Column, ...]] = {
    "checks": (
        Column("id", "check id", "int"),
        Column("source_id", "the source checked"),
        Column("at", "when the check ran", "time"),
        Column("outcome", "baseline, unchanged, not_modified, same_text, changed, rebaseline or failed"),
        Column("status", "HTTP status of the last response (empty when none came)", "int"),
        Column("ms", "how long the check took, in milliseconds", "int"),
        Column("final_url", "the URL after redirects, when it differs from the source's"),
        Column("redirects", "the redirects followed: [[url, status, location], ...]", "json"),
        Column("etag", "the ETag the server sent"),
        Column("last_modified", "the Last-Modified the server sent"),
        Column("error", "why the check failed"),
        Column("snapshot_id", "the snapshot this check stored (only when the text was new)", "int"),
        Column("note", "what the check noted about the page, e.g. the HTML repair it needed to be read"),
    ),
    "changes": (
        Column("id", "change id (`pledge-monitor show ID`)", "int"),
        Column("source_id", "the source whose text changed"),
        Column("detected_at", "when the check that saw it ran", "time"),
        Column("from_snapshot_id", "the snapshot before", "int"),
        Column("to_snapshot_id", "the snapshot after", "int"),
        Column("from_fetched_at", "when the snapshot before was fetched", "time"),
        Column("to_fetched_at", "when the snapshot after was fetched", "time"),
        Column("url", "the URL the new version was fetched from"),
        Column("added_words", "words added", "int"),
        Column("removed_words", "words removed", "int"),
        Column("summary", "the change in one line"),
        Column("ledger_seq", "its entry in the integrity chain", "int"),
        Column("ledger_hash", "that entry's hash"),
        Column("archive_url", "its page saved at the Internet Archive, once saved (`archive:`)"),
    ),
    "events": (
        Column("id", "event id", "int"),
        Column("created_at", "when it was raised", "time"),
        Column("kind", "pledge.reworded, source.gone, ..."),
        Column("severity", "info, warning, high or critical"),
        Column("pledge_id", "the pledge concerned, if one"),
        Column("source_id", "the source concerned, if one"),
        Column("change_id", "the change that raised it, if one", "int"),
        Column("check_id", "the check that raised it, if one", "int"),
        Column("title", "the event in one line"),
        Column("details", "the event's details (JSON object)", "json"),
        Column("ledger_seq", "its entry in the integrity chain", "int"),
        Column("ledger_hash", "that entry's hash"),
    ),
    "pledges": (
        Column("id", "pledge id"),
        Column("company", "the company"),
        Column("title", "the pledge in a few words"),
        Column("made_on", "when it was made (date)", "date"),
        Column("expires_on", "when it expires, if it does (date)", "date"),
        Column("effective_expiry", "the expiry after any renewal (date)", "text", _spec("effective_expiry")),
        Column("renewed", "whether a renewal was recorded", "bool", lambda r: bool(_spec("renewed")(r))),
        Column("active", "false once removed from the watchlist", "bool"),
        Column("state", "intact, reworded, weakened, removed, expired or unknown"),
        Column("state_since", "when it took that state", "time"),
        Column("sources", "the sources that carry it (list)", "json", _spec("sources")),
        Column("clauses", "the clauses watched (list)", "json", _spec("clauses")),
        Column("keywords", "keywords for new statements (list)", "json", _spec("keywords")),
        Column("tags", "tags (list)", "json", _spec("tags")),
    ),
}


def columns(what: str) -> tuple[Column, ...]:
    try:
        return COLUMNS[what]
    except KeyError:
        raise MonitorError(f"cannot export {what!r}: choose one of {', '.join(WHATS)}") from None


def iso_time(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def json_value(column: Column, value: Any) -> Any:
    """The value as JSON and JSON Lines carry it."""
    if value is None:
        return None
    if column.kind == "time":
        return iso_time(value)
    if column.kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    if column.kind == "bool":
        return bool(value)
    return value


def csv_value(column: Column, value: Any) -> str:
    """The value as one CSV cell: text, with formulas defused."""
    plain = json_value(column, value)
    if plain is None:
        return ""
    if column.kind == "json":
        return _defused(json.dumps(plain, ensure_ascii=False, sort_keys=True))
    if column.kind == "bool":
        return "true" if plain else "false"
    return _defused(str(plain)) if column.kind == "text" else str(plain)


def _defused(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def write(rows: Iterable[Mapping[str, Any]], what: str, fmt: str, out: TextIO) -> int:
    """Write ``rows`` to ``out`` as they come; returns how many were written."""
    cols = columns(what)
    if fmt == "csv":
        return _write_csv(rows, cols, out)
    if fmt == "json":
        return _write_json_array(rows, cols, out)
    if fmt == "jsonl":
        return _write_jsonl(rows, cols, out)
    raise MonitorError(f"cannot export as {fmt!r}: choose one of {', '.join(FORMATS)}")


def record(row: Mapping[str, Any], cols: tuple[Column, ...]) -> dict[str, Any]:
    return {c.name: json_value(c, c.value(row)) for c in cols}


def _write_csv(rows: Iterable[Mapping[str, Any]], cols: tuple[Column, ...], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow([c.name for c in cols])
    n = 0
    for row in rows:
        writer.writerow([csv_value(c, c.value(row)) for c in cols])
        n += 1
    return n


def _write_jsonl(rows: Iterable[Mapping[str, Any]], cols: tuple[Column, ...], out: TextIO) -> int:
    n = 0
    for row in rows:
        out.write(json.dumps(record(row, cols), ensure_ascii=False) + "\n")
        n += 1
    return n


def _write_json_array(rows: Iterable[Mapping[str, Any]], cols: tuple[Column, ...], out: TextIO) -> int:
    n = 0
    out.write("[")
    for row in rows:
        out.write(("\n" if n == 0 else ",\n") + json.dumps(record(row, cols), ensure_ascii=False))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def help_text() -> str:
    """The column lists for ``export --help`` (click keeps \\b blocks as written)."""
    blocks = []
    for what, cols in COLUMNS.items():
        width = max(len(c.name) for c in cols)
        lines = [f"--what {what}:"] + [f"  {c.name:<{width}}  {c.doc}" for c in cols]
        blocks.append("\b\n" + "\n".join(lines))
    return "\n\n".join(blocks)


def markdown_tables() -> str:
    """The column tables as in this module's docstring (a test keeps the two in step)."""
    head = "| column | meaning |\n|---|---|\n"
    tables = [head + "\n".join(f"| {c.name} | {c.doc} |" for c in cols) for cols in COLUMNS.values()]
    return "\n\n".join(tables)
