"""Feeds and newsroom listing pages -> FeedItems: how new statements reach the pipeline.

Feeds come from servers we do not control, so the XML is checked by an entity-refusing parser
before feedparser sees it (no billion laughs, no XXE). Item keys must survive a feed that
reorders or re-sends its items, or every re-send would alert again as a new statement.
"""

from __future__ import annotations

import hashlib
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin
from xml.parsers.expat import ErrorString

import feedparser
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser
from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from monitor.errors import ExtractError, FeedError
from monitor.extract import check_markup, decode_html, html_text, normalize_text
from monitor.urls import canonical_link

MAX_BODY_BYTES = 5_000_000  # feedparser reads ~1.5 MB/s: a bigger body would stall a check
MAX_XML_DEPTH = 256  # real feeds nest a few dozen levels; deeper is hostile or broken

_HTML_ERROR = "expected an RSS or Atom feed, got an HTML page"
_ENTITY_ERROR = "feed rejected: it declares XML entities (possible entity-expansion attack)"
_EXTERNAL_ERROR = "feed rejected: it references an external XML resource (possible XXE attack)"
_FEED_ROOTS = frozenset({"rss", "feed", "RDF"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


@dataclass(frozen=True)
class FeedItem:
    """One entry of a feed or listing page: a candidate statement."""

    key: str  # stable identity: entry id/guid, else canonical link, else a hash of title and date
    link: str | None  # absolute, canonical (no tracking parameters, no fragment)
    title: str
    summary: str  # plain text
    published: datetime | None  # aware, UTC


# --- feeds ---------------------------------------------------------------------------------------


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> tuple[FeedItem, ...]:
    """Read an RSS (0.9x, 1.0, 2.0) or Atom feed into items, in feed order."""
    _check_size(body, "feed")
    mime = (content_type or "").partition(";")[0].strip().lower()
    if _HTML_START.match(body[:4096].lstrip(b"\xef\xbb\xbf")):
        raise FeedError(_HTML_ERROR)
    problem, root = _check_xml(body)
    if root == "html" or (mime in _HTML_TYPES and (problem or root not in _FEED_ROOTS)):
        raise FeedError(_HTML_ERROR)
    if not problem and root not in _FEED_ROOTS:
        raise FeedError(f"expected an RSS or Atom feed, got an XML document whose root element is <{root}>")
    headers: dict[str, str] = {}  # no content-location: feedparser would urljoin every element
    if content_type and mime not in _HTML_TYPES:
        headers["content-type"] = content_type
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    items = tuple(_feed_item(entry, url, n) for n, entry in enumerate(parsed.get("entries") or [], start=1))
    items = tuple(item for item in items if item.title or item.link or item.summary)
    # feedparser's bozo flag also fires for a missing content type; a syntax error found
    # above is the real sign of a broken feed, and only fatal when nothing could be read.
    if not items and problem:
        raise FeedError(problem)
    return items


def _check_size(body: bytes, what: str) -> None:
    if not body.strip():
        raise FeedError(f"the {what} is empty")
    if len(body) > MAX_BODY_BYTES:
        raise FeedError(f"the {what} is {len(body):,} bytes, more than the {MAX_BODY_BYTES:,} byte limit")


class _Shape:
    """Parser target that keeps only what the checks need: the root element and the depth."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.depth = 0

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        if self.root is None:
            self.root = tag.rpartition("}")[2].rpartition(":")[2]
        self.depth += 1
        if self.depth > MAX_XML_DEPTH:
            raise FeedError(f"feed rejected: elements nested more than {MAX_XML_DEPTH} levels deep")

    def end(self, tag: str) -> None:
        self.depth -= 1

    def data(self, data: str) -> None:
        pass

    def close(self) -> None:
        pass


def _check_xml(body: bytes) -> tuple[str | None, str | None]:
    """Refuse dangerous XML; return the well-formedness problem (if any) and the root element.

    Malformed feeds are common (a bare '&' in a title); feedparser's lenient mode still reads
    them, so a syntax error only becomes the error when no items could be read at all.
    """
    shape = _Shape()
    parser = DefusedXMLParser(target=shape, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(body)
        parser.close()
    except EntitiesForbidden:
        raise FeedError(_ENTITY_ERROR) from None
    except (ExternalReferenceForbidden, DTDForbidden):
        raise FeedError(_EXTERNAL_ERROR) from None
    except ET.ParseError as exc:
        line, column = exc.position
        return f"invalid XML at line {line}, column {column + 1}: {ErrorString(exc.code)}", shape.root
    return None, shape.root


def _feed_item(entry: Mapping[str, Any], url: str, n: int) -> FeedItem:
    link = canonical_link(_entry_link(entry), url)
    title = _plain(entry.get("title_detail"), entry.get("title"), n)
    summary = _plain(entry.get("summary_detail"), entry.get("summary"), n)
    if not summary and entry.get("content"):
        summary = _plain(entry["content"][0], None, n)
    published = _struct_time(entry.get("published_parsed") or entry.get("updated_parsed"))
    key = " ".join(normalize_text(str(entry.get("id") or "")).split()) or link or _hash_key(title, published)
    return FeedItem(key=key, link=link, title=title, summary=summary, published=published)


def _entry_link(entry: Mapping[str, Any]) -> str | None:
    link = entry.get("link")
    if link:
        return str(link)
    if entry.get("guidislink") and entry.get("id"):
        return str(entry["id"])
    return None


def _plain(detail: Mapping[str, Any] | None, value: str | None, n: int) -> str:
    """Plain single-line text from a feed text construct (text, HTML or XHTML)."""
    text = str((detail or {}).get("value", value) or "")
    kind = str((detail or {}).get("type") or "text/html")
    if ("html" in kind and "&" in text) or _TAG.search(text):
        return _html_text(text, f" in item {n}")
    return " ".join(normalize_text(text).split())


def _html_text(html: str, where: str) -> str:
    try:
        check_markup(html.encode("utf-8"), where)
    except ExtractError as exc:
        raise FeedError(str(exc)) from None
    tree = LexborHTMLParser(html.replace("\x00", ""))
    return html_text(tree.body) if tree.body is not None else ""


def _struct_time(value: Any) -> datetime | None:
    """feedparser gives dates as UTC struct_time; impossible ones (year 0) mean no date."""
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in value[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _hash_key(title: str, published: datetime | None) -> str:
    stamp = published.isoformat() if published else ""
    return "sha256:" + hashlib.sha256(f"{title}\n{stamp}".encode()).hexdigest()


# --- listing pages -------------------------------------------------------------------------------


def parse_listing(
    body: bytes, *, url: str, item_select: str, charset: str | None = None
) -> tuple[FeedItem, ...]:
    """Read a newsroom page whose items are links matched by ``item_select``, in page order."""
    _check_size(body, "listing page")
    try:
        check_markup(body, f" at {url}")
    except ExtractError as exc:
        raise FeedError(str(exc)) from None
    tree = LexborHTMLParser(decode_html(body, charset).replace("\x00", ""))
    try:
        nodes = tree.css(item_select)
    except SelectolaxError as exc:
        raise FeedError(f"invalid CSS selector '{item_select}': {exc}") from None
    if not nodes:
        raise FeedError(f"item selector '{item_select}' matched nothing on the listing page")
    base = _base_url(tree, url)
    page = canonical_link(url)
    items = [item for node in nodes if (item := _listing_item(node, base)) and item.link != page]
    if not items:
        matched = f"{len(nodes)} element{'s' if len(nodes) > 1 else ''}"
        raise FeedError(f"item selector '{item_select}' matched {matched} but none holds a link")
    return _merge_duplicates(items)


def _base_url(tree: LexborHTMLParser, url: str) -> str:
    """The page's <base href>, which browsers resolve its relative links against."""
    base = tree.css_first("base[href]")
    href = (base.attributes.get("href") or "").strip() if base is not None else ""
    return urljoin(url, href) if href else url


def _listing_item(node: LexborNode, base: str) -> FeedItem | None:
    anchor = node if node.tag == "a" and "href" in node.attributes else _first_link(node)
    if anchor is None:
        return None
    link = canonical_link(anchor.attributes.get("href"), base)
    if link is None:
        return None
    container = None if anchor is node else node
    summary = html_text(container) if container is not None else ""
    published = _time(container if container is not None else anchor)
    return FeedItem(key=link, link=link, title=_title(anchor), summary=summary, published=published)


def _first_link(container: LexborNode) -> LexborNode | None:
    """The container's first link with text (cards often lead with an image link), else its first."""
    links = container.css("a[href]")
    return next((a for a in links if html_text(a)), links[0] if links else None)


def _title(anchor: LexborNode) -> str:
    """The link text; image-only links fall back to what a screen reader would say."""
    text = html_text(anchor)
    if text:
        return text
    image = anchor.css_first("img[alt]")
    for label in (anchor.attributes.get("aria-label"), image and image.attributes.get("alt")):
        if label and label.strip():
            return " ".join(label.split())
    return ""


def _time(node: LexborNode) -> datetime | None:
    found = node.css_first("time[datetime]")
    return _parse_datetime(found.attributes.get("datetime") or "") if found is not None else None


def _parse_datetime(value: str) -> datetime | None:
    """An ISO 8601 date or datetime as aware UTC (a date or naive time is taken as UTC)."""
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _merge_duplicates(items: Iterable[FeedItem]) -> tuple[FeedItem, ...]:
    """One item per link: cards often link the same page from an image and from the headline."""
    merged: dict[str, FeedItem] = {}
    for item in items:
        kept = merged.get(item.key)
        if kept is None or (item.title and not kept.title):
            merged[item.key] = item
    return tuple(merged.values())


# --- what to report ------------------------------------------------------------------------------


def new_items(items: Sequence[FeedItem], seen_keys: Collection[str]) -> tuple[FeedItem, ...]:
    """Items not seen before, first occurrence only: a re-sent item must not alert twice."""
    fresh: list[FeedItem] = []
    taken: set[str] = set()
    for item in items:
        if item.key not in seen_keys and item.key not in taken:
            taken.add(item.key)
            fresh.append(item)
    return tuple(fresh)
