"""Strict loading of watchlist.yaml into the frozen models.

Strict because a maintainer's typo must surface before monitoring starts, as one line per problem
(``file:line: key: what was expected``), never as a silently ignored key or a pledge never checked.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails

from monitor.errors import WatchlistError, WatchlistIssue
from monitor.secrets import ENV_REF, has_literal_header_secret, is_sensitive_header, redact_header_value
from monitor.watchlist.models import (
    BROWSER_KEYS,
    SELECT_TAGS,
    SOURCE_KINDS,
    ArchiveSpec,
    BrowserSource,
    Defaults,
    PledgeSpec,
    Renewal,
    RouteSpec,
    SourceKind,
    TimestampsSpec,
    WatchedSource,
    Watchlist,
    source_kind,
)
from monitor.watchlist.values import SLUG, did_you_mean, show
from monitor.watchlist.yaml_lines import KeyPath, compose, decode, key_text


def load_watchlist(path: str | Path) -> Watchlist:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        message = "file not found; pass the path of a watchlist.yaml"
    except IsADirectoryError:
        message = "is a directory, not a watchlist file"
    except OSError as exc:
        message = f"cannot be read: {exc.strerror or exc}"
    else:
        return parse_watchlist(data, str(path))
    raise WatchlistError([WatchlistIssue(str(path), None, "", message)])


def parse_watchlist(text: str | bytes, filename: str = "watchlist.yaml") -> Watchlist:
    """A valid file is read once, without noting where each key is; only a file with problems
    is read again with every line noted, to say where each problem is."""
    if isinstance(text, bytes):
        text = decode(text, filename)
    data, _, issues = compose(text, filename, note_lines=False)
    if not issues:
        try:
            watchlist = _Builder(filename, None, []).build(data)
        except _NeedLines:
            watchlist = None
        if watchlist is not None:
            return watchlist
    data, lines, issues = compose(text, filename)
    builder = _Builder(filename, lines, issues)
    watchlist = builder.build(data)
    if builder.issues or watchlist is None:
        raise WatchlistError(sorted(builder.issues, key=lambda i: i.line or 0))
    return watchlist


class _NeedLines(Exception):
    """A problem was found while reading without line numbers: read again, noting them."""


_M = TypeVar("_M", bound=BaseModel)
_B = TypeVar("_B", bound=BrowserSource)
_TOP_KEYS = ("defaults", "routes", "sources", "pledges", "timestamps", "archive")
# keys that would hold a credential: refused with a pointer to access_env / secret_env
_ARCHIVE_SECRET_KEYS = ("access", "access_key", "secret", "secret_key", "key", "password", "authorization")
_INHERITED = ("interval", "timeout", "confirm_after", "gone_after", "failing_after", "browser", "screenshot")

# what to do with a key that belongs to another kind of source, by the kind of the source it is on
_FOREIGN_ADVICE = {
    SourceKind.PAGE: "remove it, or set kind: {owner}",
    SourceKind.FEED: (
        "remove it (a feed is read as its list of items; to watch part of a page, add a source of kind page)"
    ),
    SourceKind.LISTING: (
        "remove it (a listing is read as the links item_select picks; to watch the page's text, "
        "add a source of kind page)"
    ),
}


@functools.cache
def _other_kinds_keys(kind: SourceKind) -> Mapping[str, tuple[SourceKind, ...]]:
    """The keys only other kinds of source take, each with the kinds that take it."""
    own = _keys(SOURCE_KINDS[kind])
    others = [k for k in SOURCE_KINDS if k != kind]
    return {
        key: tuple(k for k in others if key in _keys(SOURCE_KINDS[k]))
        for other in others
        for key in _keys(SOURCE_KINDS[other])
        if key not in own
    }


@functools.cache
def _keys(model: type[BaseModel]) -> frozenset[str]:
    """The keys a model takes, as written in the file."""
    return frozenset(field.alias or name for name, field in model.model_fields.items())


class _Builder:
    """Validates each section and entry on its own so that one run reports every problem."""

    def __init__(self, filename: str, lines: dict[KeyPath, int] | None, issues: list[WatchlistIssue]) -> None:
        self.filename, self.issues = filename, list(issues)
        self.lines: dict[KeyPath, int] = lines if lines is not None else {}
        self.located = lines is not None

    def issue(self, path: KeyPath, message: str) -> None:
        if not self.located:
            raise _NeedLines
        line = next(self.lines[path[:n]] for n in range(len(path), -1, -1) if path[:n] in self.lines)
        self.issues.append(WatchlistIssue(self.filename, line, key_text(path), message))

    def build(self, data: object) -> Watchlist | None:
        if data is None:
            self.issue((), "the file is empty; expected a mapping with at least a 'sources' key")
            return None
        if not isinstance(data, dict):
            self.issue((), f"expected a mapping with keys {', '.join(_TOP_KEYS)}, got {show(data)}")
            return None
        self.unknown_keys(data, _TOP_KEYS, ())
        if "sources" not in data:
            self.issue(("sources",), "missing required key (the list of sources to watch; may be [])")
        raw_defaults = {} if data.get("defaults") is None else data["defaults"]
        defaults = self.model(Defaults, raw_defaults, ("defaults",)) or Defaults()
        raw_sources = self.entries(data.get("sources"), ("sources",), "sources")
        raw_pledges = self.entries(data.get("pledges"), ("pledges",), "pledges")
        sources = [s for s in self.sources(raw_sources, defaults) if s is not None]
        usable = "sources" in data and isinstance(data["sources"], list | None)
        source_ids = _ids(raw_sources) if usable else None
        pledges = [p for p in self.pledges(raw_pledges, source_ids) if p is not None]
        routes = self.routes(data.get("routes"), raw_pledges)
        timestamps = self.timestamps(data.get("timestamps"))
        archive = self.archive(data.get("archive"))
        return Watchlist(
            Path(self.filename), defaults, tuple(sources), tuple(pledges), tuple(routes), timestamps, archive
        )

    def timestamps(self, raw: object) -> TimestampsSpec | None:
        if raw is None:
            return None
        spec = self.model(TimestampsSpec, raw, ("timestamps",))
        for i, tsa in enumerate(spec.tsa if spec else ()):
            if not (Path(self.filename).parent / tsa.ca).is_file():
                self.issue(
                    ("timestamps", "tsa", i, "ca"), f"no file {tsa.ca!r} (the TSA's root certificate, PEM)"
                )
        return spec

    def archive(self, raw: object) -> ArchiveSpec | None:
        """A credential written in the file would be stored, exported and shared: refuse it."""
        if raw is None:
            return None
        if isinstance(raw, dict):
            for key in [k for k in raw if str(k).lower() in _ARCHIVE_SECRET_KEYS]:
                self.issue(
                    ("archive", key),
                    "a credential does not belong in the watchlist (value not shown); put it in the "
                    "environment and name the variables with access_env and secret_env "
                    "(defaults PLEDGE_MONITOR_IA_ACCESS, PLEDGE_MONITOR_IA_SECRET)",
                )
            raw = {k: v for k, v in raw.items() if str(k).lower() not in _ARCHIVE_SECRET_KEYS}
        return self.model(ArchiveSpec, raw, ("archive",))

    def entries(self, raw: object, path: KeyPath, noun: str) -> list[tuple[KeyPath, object]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.issue(path, f"expected a list of {noun} (items starting with '- id:'), got {show(raw)}")
            return []
        return [((*path, i), item) for i, item in enumerate(raw)]

    def model(
        self,
        cls: type[_M],
        raw: object,
        path: KeyPath,
        extra: Mapping[str, object] | None = None,
        inherited: Mapping[str, object] | None = None,
    ) -> _M | None:
        """``extra`` fills fields the file may not set; ``inherited`` those it did not set."""
        extra = extra or {}
        if not isinstance(raw, dict):
            self.issue(path, f"expected a mapping of keys, got {show(raw)}")
            return None
        allowed = [f.alias or name for name, f in cls.model_fields.items() if name not in extra]
        known = self.unknown_keys(raw, allowed, path)
        clean = {k: v for k, v in raw.items() if k in known}
        if cls is PledgeSpec and isinstance(clean.get("renewed"), dict):
            renewed = clean["renewed"]
            clean["renewed"] = {
                k: renewed[k] for k in self.unknown_keys(renewed, Renewal.model_fields, (*path, "renewed"))
            }
        try:
            return cls.model_validate({**(inherited or {}), **extra, **clean})
        except PydanticValidationError as exc:
            for error in exc.errors(include_url=False):
                self.issue((*path, *_error_path(error["loc"], raw)), _describe(error))
            return None

    def unknown_keys(self, raw: dict[str, object], allowed: Iterable[str], path: KeyPath) -> list[str]:
        """Report keys the schema does not know; return the known ones."""
        allowed = list(allowed)
        for key in raw:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f"; expected one of {', '.join(allowed)}"
                self.issue((*path, key), f"unknown key {key!r}{hint}")
        return [key for key in raw if key in allowed]

    def sources(
        self, entries: list[tuple[KeyPath, object]], defaults: Defaults
    ) -> Iterator[WatchedSource | None]:
        self.duplicates(entries, "source")
        for path, raw in entries:
            if not isinstance(raw, dict):
                self.issue(path, f"expected a mapping of keys, got {show(raw)}")
                yield None
                continue
            cls = self.source_model(raw, path)
            if cls is None:
                yield None
                continue
            foreign = self.foreign_keys(raw, cls, path)
            known = {k: v for k, v in raw.items() if k not in foreign}
            taken = cls.model_fields
            inherited = {k: getattr(defaults, k) for k in _INHERITED if k in taken and k not in raw}
            spec: WatchedSource | None = self.model(cls, known, path, inherited=inherited)
            if isinstance(spec, BrowserSource):
                spec = self.browser_keys(spec, raw, path)
            if spec is not None:
                self.header_secrets(spec, path)
            yield spec

    def source_model(self, raw: dict[str, object], path: KeyPath) -> type[WatchedSource] | None:
        """The model of the kind a source names (page unless it says otherwise)."""
        kind = source_kind(raw)
        if isinstance(kind, str) and kind in SOURCE_KINDS:
            return SOURCE_KINDS[SourceKind(kind)]
        kinds = [str(k) for k in SOURCE_KINDS]
        named = ", ".join(repr(k) for k in kinds[:-1]) + f" or {kinds[-1]!r}"
        hint = did_you_mean(kind, kinds) if isinstance(kind, str) else ""
        self.issue((*path, "kind"), f"expected {named}, got {show(kind)}{hint}")
        return None

    def foreign_keys(self, raw: dict[str, object], cls: type[WatchedSource], path: KeyPath) -> list[str]:
        """Keys another kind of source takes but this one does not: say which kind they belong to
        and what to do, rather than only that they are unknown. Returns them."""
        kind = SourceKind(cls.model_fields["kind"].default)
        owners_of = _other_kinds_keys(kind)
        foreign = [key for key in raw if key in owners_of]
        for key in foreign:
            if kind is SourceKind.FEED and key in BROWSER_KEYS:
                self.issue((*path, key), "feeds are read without a browser; use it for page or listing")
                continue
            owners = owners_of[key]
            advice = _FOREIGN_ADVICE[kind].format(owner=owners[0])
            used_by = " or ".join(owners)
            self.issue((*path, key), f"only used by kind {used_by}, this source is kind {kind}; {advice}")
        return foreign

    def browser_keys(self, spec: _B, raw: dict[str, object], path: KeyPath) -> _B:
        """Browser settings only mean something for pages read in the browser. Set on the source,
        a key that cannot apply is an error; inherited from ``defaults``, it applies where it can."""
        if not spec.browser:
            for key in ("wait_for", "wait_until"):
                if key in raw:
                    self.issue((*path, key), "only used with browser: true")
        if spec.screenshot and not spec.browser:
            if "screenshot" in raw:
                self.issue((*path, "screenshot"), "screenshots are taken by the browser; add browser: true")
            spec = spec.model_copy(update={"screenshot": False})
        return spec

    def header_secrets(self, spec: WatchedSource, path: KeyPath) -> None:
        """A credential written out in a header would be stored, exported and shared: refuse it."""
        for name, value in spec.header_pairs:
            if "${" in ENV_REF.sub("", value):
                self.issue(
                    (*path, "headers", name),
                    "malformed ${...} reference (value not shown); write secrets as ${ENV_VAR} references",
                )
            elif is_sensitive_header(name) and has_literal_header_secret(value):
                self.issue(
                    (*path, "headers", name),
                    f"holds a literal credential ({redact_header_value(value)}); write it as an "
                    f"${{ENV_VAR}} reference, like 'Bearer ${{API_TOKEN}}'",
                )

    def pledges(
        self, entries: list[tuple[KeyPath, object]], source_ids: list[str] | None
    ) -> Iterator[PledgeSpec | None]:
        """``source_ids`` is None when the sources section is unusable: no reference can be checked."""
        self.duplicates(entries, "pledge")
        for path, raw in entries:
            if isinstance(raw, dict) and source_ids is not None:
                self.references(raw.get("sources"), (*path, "sources"), source_ids, "source")
                renewed = raw.get("renewed")
                if isinstance(renewed, dict) and "source" in renewed:
                    self.references(renewed["source"], (*path, "renewed", "source"), source_ids, "source")
            spec = self.model(PledgeSpec, raw, path)
            if spec is not None:
                self.pledge_dates(spec, path)
            yield spec

    def pledge_dates(self, spec: PledgeSpec, path: KeyPath) -> None:
        if spec.expires_on is not None and spec.expires_on <= spec.made_on:
            self.issue(
                (*path, "expires_on"),
                f"expected a date after made_on ({spec.made_on}), got {spec.expires_on}",
            )
        renewed = spec.renewed
        if renewed is not None and renewed.on < spec.made_on:
            self.issue(
                (*path, "renewed", "on"),
                f"expected a date on or after made_on ({spec.made_on}), got {renewed.on}",
            )
        if renewed is not None and renewed.until is not None and renewed.until <= renewed.on:
            self.issue(
                (*path, "renewed", "until"),
                f"expected a date after renewed.on ({renewed.on}), got {renewed.until}",
            )

    def routes(self, raw: object, pledge_entries: list[tuple[KeyPath, object]]) -> list[RouteSpec]:
        if raw is None:
            return []
        if not isinstance(raw, dict):
            self.issue(("routes",), f"expected a mapping of route names to routes, got {show(raw)}")
            return []
        pledges = [p for _, p in pledge_entries if isinstance(p, dict)]
        known = {
            "pledges": _ids(pledge_entries),
            "companies": [str(p["company"]) for p in pledges if "company" in p],
            "tags": [str(t) for p in pledges if isinstance(p.get("tags"), list) for t in p["tags"]],
        }
        routes = []
        for name, body in raw.items():
            path: KeyPath = ("routes", name)
            if not SLUG.fullmatch(name):
                self.issue(path, f"expected a lowercase route name like 'advocacy-slack', got {name!r}")
            if isinstance(body, dict):
                for field, names in known.items():
                    self.references(body.get(field), (*path, field), names, _NOUNS[field])
            route = self.model(RouteSpec, body, path, extra={"name": name})
            if route is not None:
                routes.append(route)
        return routes

    def references(self, raw: object, path: KeyPath, known: list[str], noun: str) -> None:
        items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        for i, item in enumerate(items):
            if isinstance(item, str) and item not in known:
                where = path if isinstance(raw, str) else (*path, i)
                self.issue(where, f"unknown {noun} {item!r}{did_you_mean(item, known)}")

    def duplicates(self, entries: list[tuple[KeyPath, object]], noun: str) -> None:
        first: dict[str, int] = {}
        for path, raw in entries:
            item_id = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(item_id, str):
                continue
            if item_id in first:
                self.issue((*path, "id"), f"duplicate {noun} id {item_id!r} (first on line {first[item_id]})")
            first.setdefault(item_id, self.lines.get((*path, "id"), 0))


_NOUNS = {"pledges": "pledge", "companies": "company", "tags": "tag"}


def _error_path(loc: tuple[int | str, ...], raw: dict[str, object]) -> tuple[int | str, ...]:
    """Where an error is in the file: without pydantic's union tags, and without the list index
    of a ``select`` written as one selector or one section (it is read as a list of one)."""
    loc = tuple(p for p in loc if p not in SELECT_TAGS)
    if loc[:2] == ("select", 0) and isinstance(raw.get("select"), dict):
        return (loc[0], *loc[2:])
    return loc


def _ids(entries: list[tuple[KeyPath, object]]) -> list[str]:
    return [raw["id"] for _, raw in entries if isinstance(raw, dict) and isinstance(raw.get("id"), str)]


_EXPECTED = {
    "string_type": "expected text",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected a mapping of keys",
    "model_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
}


_REQUIRED = {
    "id": "a lowercase id like 'ibm-letter'",
    "url": "the http(s) URL to watch",
    "company": "the company's name",
    "title": "a short title for the pledge",
    "made_on": "the date the pledge was made, like 2020-06-08",
    "clauses": "a list of the pledge's key phrases, as published",
    "sources": "a list of ids of the sources that carry the pledge",
    "urls": "a list of apprise URLs, secrets as ${ENV_VAR}",
    "until": "a date like 2021-06-10 or 'indefinite'",
    "on": "the date the renewal was announced",
    "item_select": "a CSS selector for the item links, like 'ul.news li a'",
}
_REQUIRED_BY_KIND = {"item_select": SourceKind.LISTING}

_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def _describe(error: ErrorDetails) -> str:
    """Turn a pydantic error into 'expected ..., got ...' wording."""
    kind, message, value = error["type"], error["msg"], error.get("input")
    if kind == "watchlist":
        return str(message)
    if kind == "missing":
        key = str(error["loc"][-1])
        of_kind = f" for kind {_REQUIRED_BY_KIND[key]}" if key in _REQUIRED_BY_KIND else ""
        hint = _REQUIRED.get(key)
        return f"missing required key{of_kind}; expected {hint}" if hint else "missing required key"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "too_short":
        return f"expected at least {error['ctx']['min_length']} item, got an empty list"
    if kind in _BOUNDS:
        bound = _BOUNDS[kind]
        return f"expected a number {bound[0]} {error['ctx'][bound[1]]}, got {show(value)}"
    got = f", got {show(value)}"
    if kind in _EXPECTED:
        return _EXPECTED[kind] + got
    prefix = "Input should be "
    if str(message).startswith(prefix):
        return "expected " + str(message).removeprefix(prefix) + got
    return str(message)
