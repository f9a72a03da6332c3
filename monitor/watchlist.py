"""Strict loading of watchlist.yaml into frozen typed models.

Strict because a maintainer's typo must surface before monitoring starts, as one line per problem
(``file:line: key: what was expected``), never as a silently ignored key or a pledge never checked.
Secrets stay ``${VAR}`` templates in the loaded models; they are resolved only when an alert is sent.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails, PydanticCustomError
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from monitor.alerts.schemes import is_sendable
from monitor.errors import NotFoundError, WatchlistError, WatchlistIssue
from monitor.events import EVENT_KINDS, SEVERITY_NAMES, Severity, pattern_matches_any_kind
from monitor.secrets import (
    ENV_REF,
    SCHEME,
    has_literal_header_secret,
    has_literal_secret,
    is_sensitive_header,
    redact_header_value,
    redact_url,
    referenced_env_vars,
)
from monitor.weakening import LANGUAGES
from monitor.yaml_lines import KeyPath, compose, decode, key_text

# --------------------------------------------------------------------------- values


_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DURATION_HINT = "expected a duration like 30m, 6h or 1d"
_SIZE = re.compile(r"(\d+)\s*([kmg]i?b|b)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]*")


YEAR = timedelta(days=365)
_UNIT_SECONDS = (7 * 86400, 86400, 3600, 60, 1)


def parse_duration(text: str, *, at_most: timedelta = YEAR) -> timedelta:
    """Read ``30s``, ``10m``, ``6h``, ``1d``, ``2w`` or combinations such as ``1h30m``.

    Bounded (a year unless said otherwise): a longer interval is a typo, and a huge one would
    overflow date arithmetic on the first check.
    """
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{_DURATION_HINT}, got {text!r}")
    seconds = sum(int(g or 0) * unit for g, unit in zip(match.groups(), _UNIT_SECONDS, strict=True))
    if seconds > at_most.total_seconds():
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise ValueError(f"expected a duration of at most {at_most.days}d, got {shown!r}")
    return timedelta(seconds=seconds)


def _fail(message: str) -> PydanticCustomError:
    # The message travels in the context so that "${ENV_VAR}" is never read as a placeholder.
    return PydanticCustomError("watchlist", "{message}", {"message": message})


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise _fail(f"{_DURATION_HINT}, got {_show(value)}")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise _fail("expected a duration longer than zero, like 30s or 6h")
    return value


def _byte_size(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise _fail(f"expected a size like 10MB, 512KB or 1GiB, got {_show(value)}")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def _one_or_many(value: object) -> object:
    """Let a single string stand for a one-item list (``remove: .ads``)."""
    return [value] if isinstance(value, str) else value


def _text(value: str) -> str:
    if not value.strip():
        raise _fail("expected non-empty text")
    return value.strip()


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise _fail(f"expected a lowercase id like 'ibm-letter' (a-z, 0-9, '.', '_', '-'), got {value!r}")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise _fail(f"invalid regular expression '{value}': {exc}") from None
    return value


@functools.cache
def _probe_page() -> LexborHTMLParser:
    return LexborHTMLParser("<p></p>")


def _css(value: str) -> str:
    """A selector the parser cannot read would fail every check of its source: say so now."""
    try:
        _probe_page().css(value)
    except SelectolaxError:
        raise _fail(f"invalid CSS selector '{value}'; expected one like article or div.policy") from None
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(f"expected an http(s) URL with a host, like https://example.org/policy, got {value!r}")
    return value.strip()


def _date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _fail(f"expected a date like 2020-06-10, got {_show(value)}")


def _until(value: object) -> date | None:
    if value == "indefinite":
        return None
    try:
        return _date(value)
    except PydanticCustomError:
        raise _fail(f"expected a date like 2021-06-10 or 'indefinite', got {_show(value)}") from None


def _severity(value: object) -> Severity:
    if isinstance(value, Severity):
        return value
    if isinstance(value, str) and value.strip().lower() in SEVERITY_NAMES:
        return Severity.parse(value)
    raise _fail(f"expected one of {', '.join(SEVERITY_NAMES)}, got {_show(value)}")


def _language(value: str) -> str:
    """A pledge's language picks its weakening rules: one we have rules for, as a BCP 47 tag."""
    tag = value.strip().replace("_", "-")
    primary = tag.split("-")[0].lower()
    if not re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*", tag) or primary not in LANGUAGES:
        raise _fail(
            f"expected a language with weakening rules ({', '.join(LANGUAGES)}, or a tag like 'fr-CA'), "
            f"got {_show(value)}"
        )
    return tag.lower()


def _event_pattern(value: str) -> str:
    if not pattern_matches_any_kind(value):
        raise _fail(
            f"{value!r} matches no event kind{_did_you_mean(value, EVENT_KINDS)}; "
            f"valid kinds: {', '.join(EVENT_KINDS)} (or globs like 'pledge.*', '*')"
        )
    return value


def _header_pairs(value: object) -> object:
    if not isinstance(value, Mapping):
        raise _fail(f"expected a mapping of header names to values, got {_show(value)}")
    for name, text in value.items():
        if not isinstance(text, str):
            raise _fail(f"expected text for header {name!r}, got {_show(text)}")
    return tuple(value.items())


def _reminders(value: object) -> object:
    days = [value] if isinstance(value, int) else value
    if isinstance(days, list) and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in days):
        return tuple(sorted(set(days), reverse=True))
    raise _fail(f"expected a list of whole numbers of days, like [30, 7], got {_show(value)}")


def _route_url(value: str) -> str:
    """Keep the template as written; refuse secrets written out in it."""
    scheme, sep, _ = value.partition("://")
    whole_url_from_env = ENV_REF.match(value) is not None  # "${SLACK_WEBHOOK_URL}"
    if not whole_url_from_env and (not sep or not SCHEME.fullmatch(scheme)):
        raise _fail("expected an apprise URL like 'slack://...' or 'mailtos://...' (value not shown)")
    if "${" in ENV_REF.sub("", value):
        raise _fail(
            f"malformed ${{...}} reference in {redact_url(value)}; write secrets as ${{ENV_VAR}} references"
        )
    if has_literal_secret(value):
        raise _fail(f"{redact_url(value)} holds a literal password; write secrets as ${{ENV_VAR}} references")
    if not whole_url_from_env and not ENV_REF.search(scheme) and not is_sendable(scheme.lower()):
        raise _fail(
            f"unknown alert scheme {scheme!r}{_did_you_mean(scheme.lower(), _apprise_schemes())}; "
            "expected console:// or one apprise sends to (https://github.com/caronc/apprise/wiki)"
        )
    return value


def _apprise_schemes() -> frozenset[str]:
    from monitor.alerts.send import sendable_schemes  # an unknown scheme: apprise's own list, to suggest

    return sendable_schemes()


_SELECT_HINT = (
    "expected a CSS selector like article, a section like {start_after: 'h2#commitments', "
    "end_before: h2}, or a list of them"
)


def _selection(value: object) -> object:
    """One selector stays as written; a section stands for a list of one."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and value:
        return value
    raise _fail(f"{_SELECT_HINT}, got {'an empty list' if value == [] else _show(value)}")


def _select_item_kind(value: object) -> str:
    return _SECTION_TAG if isinstance(value, dict) else _CSS_TAG


def _select_kind(value: object) -> str:
    return _CSS_TAG if isinstance(value, str) else _LIST_TAG


# pydantic puts these in error paths; the builder drops them
_CSS_TAG, _SECTION_TAG, _LIST_TAG = "<css>", "<section>", "<list>"
_UNION_TAGS = (_CSS_TAG, _SECTION_TAG, _LIST_TAG)


Text = Annotated[str, AfterValidator(_text)]
Slug = Annotated[str, AfterValidator(_slug)]
Css = Annotated[str, AfterValidator(_text), AfterValidator(_css)]
Duration = Annotated[timedelta, PlainValidator(_duration)]
PositiveDuration = Annotated[timedelta, PlainValidator(_duration), AfterValidator(_positive)]
DateValue = Annotated[date, PlainValidator(_date)]
Count = Annotated[int, Field(strict=True, ge=1)]
Texts = Annotated[tuple[Text, ...], BeforeValidator(_one_or_many)]
Slugs = Annotated[tuple[Slug, ...], BeforeValidator(_one_or_many)]

# --------------------------------------------------------------------------- models

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class SectionSpec(BaseModel):
    """The part of a page between two elements (Open Terms Archive's range selectors)."""

    model_config = _FROZEN
    start_after: Css | None = None
    start_before: Css | None = None
    end_before: Css | None = None
    end_after: Css | None = None

    @model_validator(mode="after")
    def _one_start_one_end(self) -> SectionSpec:
        starts = [k for k in ("start_after", "start_before") if getattr(self, k) is not None]
        ends = [k for k in ("end_before", "end_after") if getattr(self, k) is not None]
        if len(starts) != 1 or len(ends) != 1:
            raise _fail(
                "expected one start (start_after or start_before) and one end (end_before or end_after), "
                f"got {', '.join(starts + ends) or 'neither'}"
            )
        return self

    @property
    def start(self) -> str:
        return self.start_after or self.start_before or ""

    @property
    def end(self) -> str:
        return self.end_before or self.end_after or ""

    @property
    def include_start(self) -> bool:
        return self.start_before is not None

    @property
    def include_end(self) -> bool:
        return self.end_after is not None

    def describe(self) -> str:
        start = f"{'before' if self.include_start else 'after'} {self.start!r}"
        end = f"{'after' if self.include_end else 'before'} {self.end!r}"
        return f"section from {start} to {end}"

    def rule(self) -> dict[str, str]:
        return self.model_dump(exclude_none=True)


SelectItem = Annotated[
    Annotated[Css, Tag(_CSS_TAG)] | Annotated[SectionSpec, Tag(_SECTION_TAG)],
    Discriminator(_select_item_kind),
]
Selection = Annotated[
    Annotated[
        Annotated[Css, Tag(_CSS_TAG)] | Annotated[tuple[SelectItem, ...], Tag(_LIST_TAG)],
        Discriminator(_select_kind),
    ]
    | None,
    BeforeValidator(_selection),
]


class Defaults(BaseModel):
    """Settings every source inherits unless it says otherwise."""

    model_config = _FROZEN
    interval: PositiveDuration = timedelta(hours=6)
    timeout: PositiveDuration = timedelta(seconds=30)
    user_agent: Text = "pledge-monitor/0.1 (+https://github.com/pledge-monitor)"
    confirm_after: Duration = timedelta(minutes=10)
    gone_after: PositiveDuration = timedelta(days=1)
    failing_after: Count = 3
    max_body: Annotated[int, PlainValidator(_byte_size)] = 10 * 10**6
    concurrency: Count = 10
    per_host: Count = 2
    per_host_delay: Duration = timedelta(seconds=1)
    expiry_reminders: Annotated[tuple[int, ...], PlainValidator(_reminders)] = (30, 7)
    stale_after: PositiveDuration = timedelta(days=3)
    failing_reminder: PositiveDuration = timedelta(days=7)  # a source still failing is reported again
    jitter: Annotated[float, Field(ge=0, lt=1)] = 0.1
    browser: bool = False
    screenshot: bool = False
    browser_pages: Count = 2


_INHERITED = ("interval", "timeout", "confirm_after", "gone_after", "failing_after", "browser", "screenshot")


class SourceSpec(BaseModel):
    """One URL to watch with its extraction rules; inherited settings are already filled in."""

    model_config = _FROZEN
    id: Slug
    url: Annotated[str, AfterValidator(_http_url)]
    kind: Literal["page", "feed", "listing"] = "page"
    interval: PositiveDuration = Defaults().interval
    timeout: PositiveDuration = Defaults().timeout
    select: Selection = None
    remove: Annotated[tuple[Css, ...], BeforeValidator(_one_or_many)] = ()
    ignore: Annotated[tuple[Annotated[str, AfterValidator(_regex)], ...], BeforeValidator(_one_or_many)] = ()
    header_pairs: Annotated[tuple[tuple[str, str], ...], BeforeValidator(_header_pairs)] = Field(
        default=(), alias="headers"
    )
    links: bool = False
    item_select: Css | None = None
    confirm_after: Duration = Defaults().confirm_after
    gone_after: PositiveDuration = Defaults().gone_after
    failing_after: Count = Defaults().failing_after
    browser: bool = False
    wait_for: Css | None = None
    wait_until: Literal["load", "networkidle"] = "load"
    screenshot: bool = False

    @property
    def selection(self) -> str | tuple[str | SectionSpec, ...] | None:
        """What to read: one CSS selector, or several selectors and sections (``[main]`` is ``main``)."""
        select = self.select
        if isinstance(select, tuple) and len(select) == 1 and isinstance(select[0], str):
            return select[0]
        return select

    def describe_selection(self) -> str:
        """The selection in words, for messages: selector 'main', section from after 'h2#x' ..."""
        select = self.select
        items = (select,) if isinstance(select, str) else select or ()
        return (
            " and ".join(f"selector {i!r}" if isinstance(i, str) else i.describe() for i in items)
            or "the page"
        )

    @property
    def headers(self) -> Mapping[str, str]:
        return MappingProxyType(dict(self.header_pairs))

    def rules_fingerprint(self) -> str:
        """Tells whether stored text was extracted with the same rules as now."""
        rules = {
            "v": 1,
            "kind": self.kind,
            "select": self.selection
            if not isinstance(self.selection, tuple)
            else [_rule(i) for i in self.selection],
            "remove": list(self.remove),
            "ignore": list(self.ignore),
            "links": self.links,
            "item_select": self.item_select,
        }
        if self.browser:  # only when on: the text of every page read without a browser stays comparable
            rules["browser"] = True
        return hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()


def _rule(item: str | SectionSpec) -> str | dict[str, str]:
    return item if isinstance(item, str) else item.rule()


class Renewal(BaseModel):
    """A recorded extension of a pledge's deadline; ``until`` None means indefinitely."""

    model_config = _FROZEN
    until: Annotated[date | None, PlainValidator(_until)]
    on: DateValue
    source: Slug | None = None
    note: Text | None = None


class PledgeSpec(BaseModel):
    """A company's commitment, the clauses whose wording matters, and where they are published."""

    model_config = _FROZEN
    id: Slug
    company: Text
    title: Text
    made_on: DateValue
    expires_on: DateValue | None = None
    renewed: Renewal | None = None
    clauses: Annotated[Texts, Field(min_length=1)]
    keywords: Texts = ()
    sources: Annotated[Slugs, Field(min_length=1)]
    tags: Texts = ()
    language: Annotated[str, AfterValidator(_language)] | None = None  # else the page's lang

    def effective_expiry(self) -> date | None:
        """The deadline that counts: a recorded renewal replaces ``expires_on``."""
        return self.renewed.until if self.renewed is not None else self.expires_on


class RouteSpec(BaseModel):
    """An alert destination: apprise URL templates (secrets as ``${VAR}``) and a filter."""

    model_config = _FROZEN
    name: str
    urls: Annotated[
        tuple[Annotated[str, AfterValidator(_route_url)], ...],
        BeforeValidator(_one_or_many),
        Field(min_length=1),
    ]
    events: Annotated[
        tuple[Annotated[str, AfterValidator(_event_pattern)], ...],
        BeforeValidator(_one_or_many),
        Field(min_length=1),
    ] = ("*",)
    min_severity: Annotated[Severity, PlainValidator(_severity)] = Severity.INFO
    companies: Texts = ()
    pledges: Slugs = ()
    tags: Texts = ()
    digest: Literal["daily"] | None = None


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class TsaSpec(BaseModel):
    """One RFC 3161 Time-Stamp Authority, and the root certificate its tokens must chain to."""

    model_config = _FROZEN
    url: HttpUrl
    ca: Text  # a PEM file, relative to the watchlist


class TimestampsSpec(BaseModel):
    """Trusted timestamps of the chain head: by every TSA listed, daily and after each change."""

    model_config = _FROZEN
    tsa: Annotated[tuple[TsaSpec, ...], Field(min_length=1)]
    every: PositiveDuration = timedelta(days=1)
    after_change: bool = True
    retry_after: PositiveDuration = timedelta(minutes=15)
    timeout: PositiveDuration = timedelta(seconds=10)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: str) -> str:
    """The name of an environment variable (``${NAME}`` is read as NAME), never a credential."""
    name = value.strip()
    match = ENV_REF.fullmatch(name)
    name = match.group(1) if match else name
    if not _ENV_NAME.fullmatch(name):
        raise _fail(
            "expected the name of an environment variable, like PLEDGE_MONITOR_IA_SECRET "
            "(value not shown: put the credential itself in that variable)"
        )
    return name


EnvName = Annotated[str, AfterValidator(_env_name)]


class ArchiveSpec(BaseModel):
    """Copies of each changed page at a public web archive: the Internet Archive's Save Page Now 2.

    The S3-style keys (https://archive.org/account/s3.php) are read from the environment variables
    named here, at capture time; the watchlist never holds them.
    """

    model_config = _FROZEN
    enabled: bool = True
    endpoint: HttpUrl = "https://web.archive.org/save"
    access_env: EnvName = "PLEDGE_MONITOR_IA_ACCESS"
    secret_env: EnvName = "PLEDGE_MONITOR_IA_SECRET"
    per_minute: Count = 4  # submissions a minute, all workers together: SPN allows a few
    capture_all: bool = True  # keep the page even when it answers 4xx/5xx (a page gone is evidence)
    max_attempts: Count = 8
    timeout: PositiveDuration = timedelta(seconds=30)  # one request to SPN
    poll_every: Duration = timedelta(seconds=5)  # between two status requests for a job
    wait: Duration = timedelta(seconds=30)  # how long one pass waits for a job, then leaves it for the next
    resubmit_after: PositiveDuration = timedelta(hours=1)  # a job still pending this long is submitted again


# keys that would hold a credential: refused with a pointer to access_env / secret_env
_ARCHIVE_SECRET_KEYS = ("access", "access_key", "secret", "secret_key", "key", "password", "authorization")


@dataclass(frozen=True)
class Watchlist:
    """The whole validated watchlist; ids are unique and every reference resolves."""

    path: Path
    defaults: Defaults
    sources: tuple[SourceSpec, ...]
    pledges: tuple[PledgeSpec, ...]
    routes: tuple[RouteSpec, ...]
    timestamps: TimestampsSpec | None = None
    archive: ArchiveSpec | None = None

    def tsa_ca(self, tsa: TsaSpec) -> Path:
        """Where the TSA's root certificate file is: relative paths are next to the watchlist."""
        return self.path.parent / tsa.ca

    def source(self, source_id: str) -> SourceSpec:
        return _find(self.sources, source_id, lambda s: s.id, "source", self.path)

    def pledge(self, pledge_id: str) -> PledgeSpec:
        return _find(self.pledges, pledge_id, lambda p: p.id, "pledge", self.path)

    def route(self, name: str) -> RouteSpec:
        return _find(self.routes, name, lambda r: r.name, "route", self.path)

    def pledges_for(self, source_id: str) -> tuple[PledgeSpec, ...]:
        return tuple(p for p in self.pledges if source_id in p.sources)


_T = TypeVar("_T")


def _find(items: Iterable[_T], wanted: str, key: Callable[[_T], str], noun: str, path: Path) -> _T:
    by_key = {key(item): item for item in items}
    if wanted in by_key:
        return by_key[wanted]
    raise NotFoundError(f"no {noun} {wanted!r} in {path}{_did_you_mean(wanted, by_key)}")


def _did_you_mean(wanted: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(wanted, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------- secrets


def missing_env_vars(watchlist: Watchlist, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(route name, variable) pairs that would stop an alert from being sent."""
    return [
        (route.name, name)
        for route in watchlist.routes
        for name in sorted(set().union(*(referenced_env_vars(u) for u in route.urls)))
        if not env.get(name)
    ]


def missing_header_vars(watchlist: Watchlist, env: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(source id, header, variable) triples that would fail every check of a source."""
    return [
        (source.id, header, name)
        for source in watchlist.sources
        for header, value in source.header_pairs
        for name in sorted(referenced_env_vars(value))
        if not env.get(name)
    ]


# --------------------------------------------------------------------------- loading


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
_TOP_KEYS = ("defaults", "routes", "sources", "pledges", "timestamps", "archive")


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
            self.issue((), f"expected a mapping with keys {', '.join(_TOP_KEYS)}, got {_show(data)}")
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
            self.issue(path, f"expected a list of {noun} (items starting with '- id:'), got {_show(raw)}")
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
            self.issue(path, f"expected a mapping of keys, got {_show(raw)}")
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
                hint = _did_you_mean(key, allowed) or f"; expected one of {', '.join(allowed)}"
                self.issue((*path, key), f"unknown key {key!r}{hint}")
        return [key for key in raw if key in allowed]

    def sources(
        self, entries: list[tuple[KeyPath, object]], defaults: Defaults
    ) -> Iterator[SourceSpec | None]:
        self.duplicates(entries, "source")
        for path, raw in entries:
            inherited = {
                k: getattr(defaults, k) for k in _INHERITED if not (isinstance(raw, dict) and k in raw)
            }
            spec = self.model(SourceSpec, raw, path, inherited=inherited)
            if spec is not None and isinstance(raw, dict):
                spec = self.browser_keys(spec, raw, path)
            if spec is not None and spec.kind == "listing" and spec.item_select is None:
                self.issue(
                    (*path, "item_select"),
                    "missing required key for kind listing; expected a CSS selector for the item links",
                )
            if spec is not None:
                self.header_secrets(spec, path)
            if spec is not None and spec.kind != "listing" and spec.item_select is not None:
                self.issue(
                    (*path, "item_select"), f"only used by kind listing, this source is kind {spec.kind}"
                )
            yield spec

    def browser_keys(self, spec: SourceSpec, raw: dict[str, object], path: KeyPath) -> SourceSpec:
        """Browser settings only mean something for pages read in the browser. Set on the source,
        a key that cannot apply is an error; inherited from ``defaults``, it applies where it can."""
        if spec.kind == "feed" and spec.browser:
            if "browser" in raw:
                self.issue((*path, "browser"), "feeds are read without a browser; use it for page or listing")
            spec = spec.model_copy(update={"browser": False})
        if not spec.browser:
            for key in ("wait_for", "wait_until"):
                if key in raw:
                    self.issue((*path, key), "only used with browser: true")
        if spec.screenshot and not spec.browser:
            if "screenshot" in raw:
                self.issue((*path, "screenshot"), "screenshots are taken by the browser; add browser: true")
            spec = spec.model_copy(update={"screenshot": False})
        return spec

    def header_secrets(self, spec: SourceSpec, path: KeyPath) -> None:
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
            self.issue(("routes",), f"expected a mapping of route names to routes, got {_show(raw)}")
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
            if not _SLUG.fullmatch(name):
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
                self.issue(where, f"unknown {noun} {item!r}{_did_you_mean(item, known)}")

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
    loc = tuple(p for p in loc if p not in _UNION_TAGS)
    if loc[:2] == ("select", 0) and isinstance(raw.get("select"), dict):
        return (loc[0], *loc[2:])
    return loc


def _ids(entries: list[tuple[KeyPath, object]]) -> list[str]:
    return [raw["id"] for _, raw in entries if isinstance(raw, dict) and isinstance(raw.get("id"), str)]


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
}

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
        hint = _REQUIRED.get(str(error["loc"][-1]))
        return f"missing required key; expected {hint}" if hint else "missing required key"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "too_short":
        return f"expected at least {error['ctx']['min_length']} item, got an empty list"
    if kind in _BOUNDS:
        bound = _BOUNDS[kind]
        return f"expected a number {bound[0]} {error['ctx'][bound[1]]}, got {_show(value)}"
    got = f", got {_show(value)}"
    if kind in _EXPECTED:
        return _EXPECTED[kind] + got
    prefix = "Input should be "
    if str(message).startswith(prefix):
        return "expected " + str(message).removeprefix(prefix) + got
    return str(message)
