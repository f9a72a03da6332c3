"""The watchlist as frozen typed models: defaults, sources of each kind, pledges, routes.

A source is one model per kind, chosen by its ``kind`` key (page, feed, listing), each declaring
only the keys it takes: a feed with ``select`` is an error with its line, not a rule silently
dropped. Secrets stay ``${VAR}`` templates here; they are resolved only when they are used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, model_validator

from monitor.errors import NotFoundError
from monitor.events import Severity
from monitor.secrets import referenced_env_vars
from monitor.watchlist.values import (
    ByteSize,
    Count,
    Css,
    DateValue,
    Duration,
    EnvName,
    EventPattern,
    HeaderPairs,
    HttpUrl,
    Language,
    PositiveDuration,
    Regexes,
    Reminders,
    RouteUrl,
    Selectors,
    SeverityValue,
    Slug,
    Slugs,
    Text,
    Texts,
    Until,
    did_you_mean,
    fail,
    one_or_many,
    show,
)

_FROZEN = ConfigDict(frozen=True, extra="forbid")

# --------------------------------------------------------------------------- selections

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
    raise fail(f"{_SELECT_HINT}, got {'an empty list' if value == [] else show(value)}")


def _select_item_kind(value: object) -> str:
    return _SECTION_TAG if isinstance(value, dict) else _CSS_TAG


def _select_kind(value: object) -> str:
    return _CSS_TAG if isinstance(value, str) else _LIST_TAG


# pydantic puts these in error paths; the builder drops them
_CSS_TAG, _SECTION_TAG, _LIST_TAG = "<css>", "<section>", "<list>"
SELECT_TAGS = (_CSS_TAG, _SECTION_TAG, _LIST_TAG)


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
            raise fail(
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


# --------------------------------------------------------------------------- defaults


class Defaults(BaseModel):
    """Settings every source inherits unless it says otherwise."""

    model_config = _FROZEN
    interval: PositiveDuration = timedelta(hours=6)
    timeout: PositiveDuration = timedelta(seconds=30)
    user_agent: Text = "pledge-monitor/0.1 (+https://github.com/pledge-monitor)"
    confirm_after: Duration = timedelta(minutes=10)
    gone_after: PositiveDuration = timedelta(days=1)
    failing_after: Count = 3
    max_body: ByteSize = 10 * 10**6
    concurrency: Count = 10
    per_host: Count = 2
    per_host_delay: Duration = timedelta(seconds=1)
    expiry_reminders: Reminders = (30, 7)
    stale_after: PositiveDuration = timedelta(days=3)
    failing_reminder: PositiveDuration = timedelta(days=7)  # a source still failing is reported again
    jitter: Annotated[float, Field(ge=0, lt=1)] = 0.1
    browser: bool = False
    screenshot: bool = False
    browser_pages: Count = 2


# --------------------------------------------------------------------------- sources


class SourceKind(StrEnum):
    """How a source is read; the value is what the watchlist and the database say."""

    PAGE = "page"  # a page's text, clauses looked up in it
    FEED = "feed"  # an RSS or Atom feed: new items
    LISTING = "listing"  # a page of links: new items
    ITEM = "item"  # a feed or listing item's page, re-checked like a page; made by checks, never written

    @property
    def has_items(self) -> bool:
        """Read as a list of items (new ones may be statements), not as a page's text."""
        return self in (SourceKind.FEED, SourceKind.LISTING)


class SourceBase(BaseModel):
    """The keys every kind of source takes; inherited settings are already filled in."""

    model_config = _FROZEN
    id: Slug
    url: HttpUrl
    kind: SourceKind
    interval: PositiveDuration = Defaults().interval
    timeout: PositiveDuration = Defaults().timeout
    header_pairs: HeaderPairs = Field(default=(), alias="headers")
    confirm_after: Duration = Defaults().confirm_after
    gone_after: PositiveDuration = Defaults().gone_after
    failing_after: Count = Defaults().failing_after

    @property
    def headers(self) -> Mapping[str, str]:
        return MappingProxyType(dict(self.header_pairs))

    def rules(self) -> dict[str, object]:
        """What decides the text a check reads from this source (settings such as the interval do not)."""
        return {}

    def rules_fingerprint(self) -> str:
        """Tells whether stored text was extracted with the same rules as now.

        Every kind hashes the same keys, the ones it does not take at their empty values: the
        fingerprints stored before sources had a model per kind stay valid."""
        rules = {
            "v": 1,
            "kind": self.kind,
            "select": None,
            "remove": [],
            "ignore": [],
            "links": False,
            "item_select": None,
            **self.rules(),
        }
        return hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()


class BrowserSource(SourceBase):
    """A source that may be loaded in a browser: a page, a listing, an item's page (never a feed)."""

    browser: bool = False
    wait_for: Css | None = None
    wait_until: Literal["load", "networkidle"] = "load"
    screenshot: bool = False

    def rules(self) -> dict[str, object]:
        # only when on: the text of every page read without a browser stays comparable
        return {"browser": True} if self.browser else {}


BROWSER_KEYS = ("browser", "wait_for", "wait_until", "screenshot")


class PageSource(BrowserSource):
    """A page whose text is watched and searched for clauses; the default kind."""

    kind: Literal[SourceKind.PAGE] = SourceKind.PAGE
    select: Selection = None
    remove: Selectors = ()
    ignore: Regexes = ()
    links: bool = False

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

    def rules(self) -> dict[str, object]:
        selection = self.selection
        return {
            **super().rules(),
            "select": [_rule(i) for i in selection] if isinstance(selection, tuple) else selection,
            "remove": list(self.remove),
            "ignore": list(self.ignore),
            "links": self.links,
        }


class FeedSource(SourceBase):
    """An RSS or Atom feed, read as its list of items; never in a browser."""

    kind: Literal[SourceKind.FEED] = SourceKind.FEED


class ListingSource(BrowserSource):
    """A page of links (a newsroom without a feed), read as the items ``item_select`` picks."""

    kind: Literal[SourceKind.LISTING] = SourceKind.LISTING
    item_select: Css

    def rules(self) -> dict[str, object]:
        return {**super().rules(), "item_select": self.item_select}


class ItemSource(BrowserSource):
    """A new item's page, kept and re-checked like a page but read whole: no selector is known
    for pages we have never seen, and no clause is looked up in them."""

    kind: Literal[SourceKind.ITEM] = SourceKind.ITEM

    @classmethod
    def of(cls, parent: SourceSpec, source_id: str, url: str, *, headers: bool) -> ItemSource:
        """An item's page, with the settings of the feed or listing it came from; the parent's
        headers only when ``headers`` (credentials go only where they were written for)."""
        taken = type(parent).model_fields
        shared = {k: getattr(parent, k) for k in cls.model_fields if k in taken and k != "kind"}
        shared.update(id=source_id, url=url, header_pairs=parent.header_pairs if headers else ())
        return cls.model_construct(**shared)  # from a stored item: already checked when it was found


def _rule(item: str | SectionSpec) -> str | dict[str, str]:
    return item if isinstance(item, str) else item.rule()


WatchedSource = PageSource | FeedSource | ListingSource  # the kinds a watchlist may name
SourceSpec = WatchedSource | ItemSource  # every kind a check reads

SOURCE_KINDS: Mapping[SourceKind, type[WatchedSource]] = MappingProxyType(
    {SourceKind.PAGE: PageSource, SourceKind.FEED: FeedSource, SourceKind.LISTING: ListingSource}
)


def source_kind(raw: Mapping[str, object]) -> object:
    """The kind a source entry asks for: its ``kind`` key, else page."""
    return raw.get("kind", SourceKind.PAGE)


# --------------------------------------------------------------------------- pledges and routes


class Renewal(BaseModel):
    """A recorded extension of a pledge's deadline; ``until`` None means indefinitely."""

    model_config = _FROZEN
    until: Until
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
    language: Language | None = None  # else the page's lang

    def effective_expiry(self) -> date | None:
        """The deadline that counts: a recorded renewal replaces ``expires_on``."""
        return self.renewed.until if self.renewed is not None else self.expires_on


class RouteSpec(BaseModel):
    """An alert destination: apprise URL templates (secrets as ``${VAR}``) and a filter."""

    model_config = _FROZEN
    name: str
    urls: Annotated[tuple[RouteUrl, ...], BeforeValidator(one_or_many), Field(min_length=1)]
    events: Annotated[tuple[EventPattern, ...], BeforeValidator(one_or_many), Field(min_length=1)] = ("*",)
    min_severity: SeverityValue = Severity.INFO
    companies: Texts = ()
    pledges: Slugs = ()
    tags: Texts = ()
    digest: Literal["daily"] | None = None


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


# --------------------------------------------------------------------------- the watchlist


@dataclass(frozen=True)
class Watchlist:
    """The whole validated watchlist; ids are unique and every reference resolves."""

    path: Path
    defaults: Defaults
    sources: tuple[WatchedSource, ...]
    pledges: tuple[PledgeSpec, ...]
    routes: tuple[RouteSpec, ...]
    timestamps: TimestampsSpec | None = None
    archive: ArchiveSpec | None = None

    def tsa_ca(self, tsa: TsaSpec) -> Path:
        """Where the TSA's root certificate file is: relative paths are next to the watchlist."""
        return self.path.parent / tsa.ca

    def source(self, source_id: str) -> WatchedSource:
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
    raise NotFoundError(f"no {noun} {wanted!r} in {path}{did_you_mean(wanted, by_key)}")


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


def missing_archive_vars(watchlist: Watchlist, env: Mapping[str, str]) -> list[str]:
    """The archive keys' variables that are not set: no page would be saved until they are."""
    spec = watchlist.archive
    if spec is None or not spec.enabled:
        return []
    return [name for name in (spec.access_env, spec.secret_env) if not env.get(name)]
