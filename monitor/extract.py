"""Body -> normalized text: the only text the rest of the pipeline ever compares.

Raw bodies change on every fetch (build hashes, hydration data, tracking ids); the visible
policy text rarely does. Everything here exists so that only a change a reader could see
changes the extracted text, and so that clause phrases normalize exactly like page text.
"""

from __future__ import annotations

import codecs
import functools
import io
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from monitor.errors import ExtractError
from monitor.repair import repair
from monitor.sections import SectionRule, outermost, page_order, section_nodes
from monitor.text import INVISIBLE, PLAIN_PUNCTUATION
from monitor.urls import link_target

# --- normalization -------------------------------------------------------------------------------

# Dashes and curly quotes become plain (``monitor.text``); invisible and control characters go
# (control characters would also let ANSI escapes in).
_CONTROLS = [c for c in range(0x20) if chr(c) not in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"]
_CONTROLS += [0x7F, *range(0x80, 0x85), *range(0x86, 0xA0)]

_REPLACEMENTS = PLAIN_PUNCTUATION
# One regex pass finds the rare characters to rewrite (str.translate with a big table is 10x slower).
_SPECIAL = re.compile(
    "[" + re.escape("".join(_REPLACEMENTS) + INVISIBLE + "".join(map(chr, _CONTROLS))) + "\ud800-\udfff]"
)


def _replace_special(match: re.Match[str]) -> str:
    return _REPLACEMENTS.get(match.group(), "")


def normalize_text(text: str) -> str:
    """Normalize page text and clause phrases the same way, so a clause matches its page."""
    text = _SPECIAL.sub(_replace_special, unicodedata.normalize("NFKC", text))
    return _tidy_lines(text)


def _tidy_lines(text: str) -> str:
    """Collapse whitespace inside lines and drop the lines left empty."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


@functools.lru_cache(maxsize=256)
def _compile_ignore(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """Compile a source's ignore patterns once; ``^``/``$`` match at line ends."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.MULTILINE))
        except re.error as exc:
            raise ExtractError(f"invalid ignore pattern {pattern!r}: {exc}") from None
    return tuple(compiled)


def _apply_ignore(text: str, ignore: Sequence[str]) -> str:
    if not ignore:
        return text
    for pattern in _compile_ignore(tuple(ignore)):
        text = pattern.sub("", text)
    return _tidy_lines(text)


# --- decoding ------------------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
# WHATWG: these labels mean windows-1252 in every browser.
_LABEL_ALIASES = {"iso8859-1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252"}


def _codec(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when the label is unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return _LABEL_ALIASES.get(name, name)


def _decode(body: bytes, charset: str | None, meta: bool) -> str:
    """BOM, declared charset (header, then meta), UTF-8, then windows-1252, like a browser."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace")
    declared = _codec(charset)
    if declared is None and meta:
        found = _META_CHARSET.search(body, 0, 4096)
        declared = _codec(found.group(1).decode("ascii")) if found else None
        # WHATWG: a meta tag that says UTF-16 was read as ASCII, so it cannot be true: UTF-8.
        declared = "utf-8" if declared and declared.startswith("utf-16") else declared
    if declared is not None:
        return body.decode(declared, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def decode_html(body: bytes, charset: str | None) -> str:
    """Decode an HTML body; never trusts a client library's ISO-8859-1 default guess."""
    return _decode(body, charset, meta=True)


# --- content types -------------------------------------------------------------------------------

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = frozenset({"application/json", "application/ld+json", "application/javascript"})
_SNIFFABLE = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    """('text/html', 'utf-8') from 'text/html; charset=UTF-8'."""
    if not content_type:
        return "", None
    mime, _, params = content_type.partition(";")
    found = re.search(r"charset\s*=\s*[\"']?([^\"';\s]+)", params, re.I)
    return mime.strip().lower(), found.group(1) if found else None


def _kind(mime: str, body: bytes) -> str:
    """Which extractor a body needs: 'html', 'pdf', 'text', or '' for none."""
    if mime == "application/pdf" or body.startswith(b"%PDF-"):
        return "pdf"
    if mime in _HTML_TYPES:
        return "html"
    if mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith("+json"):
        return "text"
    if mime in _SNIFFABLE:
        head = body[:1024].lstrip(b"\xef\xbb\xbf")
        if _HTML_START.match(head):
            return "html"
        if b"\x00" not in body[:8192]:
            return "text"
    return ""


Selection = str | Sequence["str | SectionRule"] | None  # a CSS selector, or several and sections


@dataclass(frozen=True)
class Extracted:
    """The text of a body, and what had to be done to the markup to read it (for the check log)."""

    text: str
    note: str | None = None


def extract(
    body: bytes,
    *,
    content_type: str | None,
    select: Selection = None,
    remove: Sequence[str] = (),
    ignore: Sequence[str] = (),
    links: bool = False,
    charset: str | None = None,
    url: str | None = None,
) -> str:
    """Turn a fetched body into the normalized text that snapshots, diffs and clauses use.

    ``charset`` (the caller's explicit choice) wins over the one in ``content_type``; ``url``
    resolves relative link targets and names the page in errors.
    """
    return extract_page(
        body,
        content_type=content_type,
        select=select,
        remove=remove,
        ignore=ignore,
        links=links,
        charset=charset,
        url=url,
    ).text


def extract_page(
    body: bytes,
    *,
    content_type: str | None,
    select: Selection = None,
    remove: Sequence[str] = (),
    ignore: Sequence[str] = (),
    links: bool = False,
    charset: str | None = None,
    url: str | None = None,
) -> Extracted:
    """``extract``, and a note when the page could only be read after repairing its markup."""
    mime, header_charset = _media_type(content_type)
    kind = _kind(mime, body)
    where = f" at {url}" if url else ""
    note = None
    if kind == "html":
        rules = _Rules(select, tuple(remove), links, url, where)
        text, note = _extract_html(body, charset or header_charset, rules)
    elif kind == "pdf":
        text = normalize_text(_pdf_text(body, where))
    elif kind == "text":
        text = normalize_text(_decode(body, charset or header_charset, meta=False))
    else:
        raise ExtractError(f"cannot extract text from content type {mime or 'unknown'!r}{where}")
    return Extracted(_apply_ignore(text, ignore), note)


# --- PDF -----------------------------------------------------------------------------------------


def _pdf_text(body: bytes, where: str) -> str:
    """Every page's text; pypdf can fail in many ways on broken files, all mean 'unreadable'."""
    from pypdf import PdfReader  # imported here: only PDF sources pay for it

    try:
        reader = PdfReader(io.BytesIO(body), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception as exc:
        raise ExtractError(f"unreadable PDF{where}: {exc}") from exc


# --- HTML ----------------------------------------------------------------------------------------

# fmt: off
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
    "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hgroup", "hr", "legend", "li", "listing", "main", "menu", "nav", "ol", "p",
    "plaintext", "search", "section", "summary", "table", "tbody", "tfoot", "thead", "ul", "xmp",
})
_SKIP_TAGS = frozenset({
    "script", "style", "noscript", "template", "svg", "iframe", "object", "head", "title", "meta", "link",
    "canvas", "audio", "video", "select", "datalist",
})
# fmt: on
_HIDING_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_LINE_BREAKS = re.compile(r"[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CLOSING_PUNCTUATION = ".,;:!?"
_CF_HREF = "/cdn-cgi/l/email-protection"
_CF_PLACEHOLDER = "[email protected]"

# Parsing cost grows with (tags that search the open-element stack) x (stack depth): 100,000
# nested <div>s take lexbor ~10 s. Pages with many tags get a cheap estimate first.
_TAG = re.compile(rb"<(/?)([A-Za-z][A-Za-z0-9]{0,15})")
_NO_NESTING = frozenset(
    b"area base br col embed hr img input link meta source track wbr p li dt dd option optgroup "
    b"tr td th thead tbody tfoot colgroup rb rt rp rtc".split()
)
_STACK_SEARCHING = frozenset(t.encode() for t in _BLOCK_TAGS | {"p", "li", "dd", "dt", "pre", "button"})
_NESTING_CHECK_ABOVE = 20_000  # tags; below this even the worst case parses in well under 1 s
_NESTING_BUDGET = 100_000_000  # stack steps, about 0.2 s of lexbor time


# Each element costs lexbor about 400 bytes: a million tiny ones in 8 MB took 437 MB. Real policy
# pages hold a few thousand; the longest articles on the web under 100,000.
MAX_ELEMENTS = 100_000
# Large pages are built two at a time, whatever the concurrency: ten checks of pages near the
# limit would otherwise hold ten trees of ~50 MB at once. Parsing holds the GIL anyway.
_LARGE_PARSES = threading.BoundedSemaphore(2)


def check_markup(body: bytes, where: str) -> None:
    """Refuse markup the parser should not build: too many elements (memory), or nesting that
    would make it crawl (time); hostile or broken pages either way. One pass over the tags."""
    if body.count(b"<") <= _NESTING_CHECK_ABOVE:
        return
    depth = cost = elements = 0
    for match in _TAG.finditer(body):
        closing, name = match.groups()
        name = name.lower()
        if closing:
            depth = max(depth - 1, 0)
        else:
            elements += 1
            if elements > MAX_ELEMENTS:
                raise ExtractError(
                    f"page too large to read{where}: over {MAX_ELEMENTS:,} elements "
                    f"({len(body):,} bytes); a policy page has a few thousand"
                )
            if name not in _NO_NESTING:
                depth += 1
        if name in _STACK_SEARCHING:
            cost += depth
            if cost > _NESTING_BUDGET:
                raise ExtractError(f"markup nested too deeply to parse{where} (about {depth} levels)")


@dataclass(frozen=True)
class _Rules:
    select: Selection
    remove: tuple[str, ...]
    links: bool
    url: str | None
    where: str


class _NothingSelected(Exception):
    """The selection matched nothing, or only elements without text: maybe a parser trap."""


def _extract_html(body: bytes, charset: str | None, rules: _Rules) -> tuple[str, str | None]:
    """The text, and a note when only the repaired markup could be read.

    An empty selection is never a version of the page: an empty element after a redesign would
    otherwise read as the removal of every word. It fails the check, unless repairing a known
    parser trap (``repair``) shows that the page does hold the selection.
    """
    check_markup(body, rules.where)
    if body.count(b"<") <= _NESTING_CHECK_ABOVE:
        return _parse_and_read(body, charset, rules)
    with _LARGE_PARSES:
        return _parse_and_read(body, charset, rules)


def _parse_and_read(body: bytes, charset: str | None, rules: _Rules) -> tuple[str, str | None]:
    markup = decode_html(body, charset).replace("\x00", "")
    try:
        return _read_html(LexborHTMLParser(markup), rules), None
    except _NothingSelected as exc:
        fixed = repair(markup)
        if fixed is not None:
            try:
                return _read_html(LexborHTMLParser(fixed.markup), rules), fixed.describe()
            except _NothingSelected:
                pass
        if rules.select is None:
            return "", None  # a page without any text: nothing was selected, nothing is missing
        raise ExtractError(f"{exc}{rules.where}") from None


def _read_html(tree: LexborHTMLParser, rules: _Rules) -> str:
    removed = {n.mem_id for selector in rules.remove for n in _css(tree, selector, rules.where)}
    hidden = _hidden(tree) | removed
    emails = _cloudflare_emails(tree)
    roots, asked, parts = _selected(tree, rules)
    text = _read_nodes(roots, asked, removed, hidden, emails, rules)
    once_removed = " once remove was applied" if rules.remove else ""
    if not text:
        raise _NothingSelected(
            "the page has no text"
            if rules.select is None
            else f"{_describe(rules.select)} matched only empty elements{once_removed}"
        )
    for item, nodes in parts if len(parts) > 1 else ():
        if not _read_nodes(nodes, asked, removed, hidden, emails, rules):
            raise _NothingSelected(f"{_describe(item)} matched only empty elements{once_removed}")
    return text


def _read_nodes(
    roots: Sequence[LexborNode],
    asked: set[int],
    removed: set[int],
    hidden: set[int],
    emails: dict[int, _Email],
    rules: _Rules,
) -> str:
    page = _Page(
        links=rules.links, base=rules.url, selected={n.mem_id for n in roots} if len(roots) > 1 else set()
    )
    page.skip, page.emails = set(hidden), emails
    previous: LexborNode | None = None
    for root in roots:
        if root.mem_id not in page.seen and root.mem_id not in removed:
            if root.mem_id in asked:
                page.skip.discard(root.mem_id)  # what was asked for is read even if styled hidden
            if not _flows_on(previous, root, asked):
                page.out.append("\n")
            _walk(root, page)
        previous = root
    return normalize_text("".join(page.out))


def _flows_on(previous: LexborNode | None, root: LexborNode, asked: set[int]) -> bool:
    """Consecutive siblings of one section read as one run of text; a selected element is a block."""
    if previous is None or root.mem_id in asked or previous.mem_id in asked:
        return False
    following = previous.next
    return following is not None and following.mem_id == root.mem_id


_Parts = list[tuple["str | SectionRule", list[LexborNode]]]


def _selected(tree: LexborHTMLParser, rules: _Rules) -> tuple[list[LexborNode], set[int], _Parts]:
    """The nodes to read in page order, which of them a CSS selector asked for by name, and
    for a list of selectors and sections, what each of them selected."""
    select, where = rules.select, rules.where
    if select is None:
        body = [n for n in (tree.body or tree.root,) if n is not None]
        return body, {n.mem_id for n in body}, []
    if isinstance(select, str):
        roots = _css(tree, select, where)
        if not roots:
            raise _NothingSelected(f"selector {select!r} matched nothing")
        return roots, {n.mem_id for n in roots}, []
    order = page_order(tree.root) if tree.root is not None else {}
    nodes: list[LexborNode] = []
    asked: set[int] = set()
    parts: _Parts = []
    for item in select:
        if isinstance(item, str):
            found = _css(tree, item, where)
            asked.update(n.mem_id for n in found)
        else:
            starts = _css(tree, item.start, where)
            found = section_nodes(starts, _css(tree, item.end, where), item, order) if starts else []
        if not found:
            raise _NothingSelected(f"{_describe(item)} matched nothing")
        nodes.extend(found)
        parts.append((item, outermost(found, order)))
    return outermost(nodes, order), asked, parts


def _describe(select: Selection | SectionRule) -> str:
    if isinstance(select, str):
        return f"selector {select!r}"
    if select is None:
        return "the page"
    if isinstance(select, Sequence):
        return " and ".join(_describe(item) for item in select)
    return select.describe()


def _css(tree: LexborHTMLParser, selector: str, where: str) -> list[LexborNode]:
    try:
        return tree.css(selector)
    except SelectolaxError as exc:
        raise ExtractError(f"invalid CSS selector {selector!r}{where}: {exc}") from None


def _hidden(tree: LexborHTMLParser) -> set[int]:
    """Elements whose text a reader never sees.

    ``aria-hidden`` is kept on purpose: it hides from screen readers, not from eyes, and on the
    GitHub policy corpus dropping it misses 9 labelled substantive steps (heading markers).
    """
    skip = {n.mem_id for n in tree.css("[hidden]")}
    for node in tree.css("[style]"):
        if _HIDING_STYLE.search(node.attributes.get("style") or ""):
            skip.add(node.mem_id)
    return skip


@dataclass
class _Email:
    address: str
    replaces_text: bool


def _cloudflare_emails(tree: LexborHTMLParser) -> dict[int, _Email]:
    """Cloudflare hides addresses behind per-fetch tokens; decode them so the text stays put."""
    emails: dict[int, _Email] = {}
    for node in tree.css(f"[data-cfemail], a[href*='{_CF_HREF}']"):
        attrs = node.attributes
        encoded = attrs.get("data-cfemail") or (attrs.get("href") or "").partition("#")[2]
        address = _cf_decode(encoded)
        if address is None:
            continue
        placeholder = normalize_text(node.text()) == _CF_PLACEHOLDER
        emails[node.mem_id] = _Email(address, replaces_text="data-cfemail" in attrs or placeholder)
    return emails


def _cf_decode(encoded: str) -> str | None:
    """Cloudflare's scheme: hex bytes, the first is a key XORed into the rest."""
    try:
        data = bytes.fromhex(encoded[:512])
    except ValueError:
        return None
    if len(data) < 2:
        return None
    return normalize_text(bytes(b ^ data[0] for b in data[1:]).decode("utf-8", errors="replace"))


@dataclass
class _Page:
    """Walk state: the output pieces and where in the page structure we are."""

    links: bool
    base: str | None
    selected: set[int]
    skip: set[int] = field(default_factory=set)
    emails: dict[int, _Email] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    out: list[str] = field(default_factory=list)
    pre: int = 0
    cells: int = 0
    rows: list[int] = field(default_factory=list)
    hrefs: list[tuple[str | None, int]] = field(default_factory=list)  # target, where its text starts
    inline: bool = False  # one line of text: no list bullets, no cell separators


def html_text(node: LexborNode) -> str:
    """The visible text of one element on one line, read as a page is (a feed's HTML, a listing's link)."""
    page = _Page(links=False, base=None, selected=set(), inline=True)
    _walk(node, page)
    return " ".join(normalize_text("".join(page.out)).split())


def _walk(root: LexborNode, page: _Page) -> None:
    """Depth-first over the subtree without recursion, so deep markup cannot overflow the stack."""
    node = root
    depth = 0
    while True:
        entered = _enter(node, page)
        child = node.child if entered else None
        if child is not None:
            node = child
            depth += 1
            continue
        if entered:
            _leave(node, page)
        while True:
            if depth == 0:
                return
            sibling = node.next
            if sibling is not None:
                node = sibling
                break
            parent = node.parent
            if parent is None:  # cannot happen below the root; stops a malformed tree cleanly
                return
            node = parent
            depth -= 1
            _leave(node, page)


def _break(page: _Page) -> str:
    """Block boundaries are line breaks, except inside a table cell, whose row stays one line."""
    return " " if page.cells else "\n"


def _enter(node: LexborNode, page: _Page) -> bool:
    """Emit what starts at this node; False means its subtree is not read."""
    tag = node.tag
    if tag == "-text":
        text = node.text_content or ""
        page.out.append(text if page.pre else _LINE_BREAKS.sub(" ", text))
        return False
    if tag is None or tag.startswith("-") or tag in _SKIP_TAGS:
        return False
    key = node.mem_id
    if key in page.skip:
        return False
    if key in page.selected:
        page.seen.add(key)
    email = page.emails.get(key)
    if email is not None:
        return _enter_email(email, tag, page)
    if tag in _BLOCK_TAGS:
        page.out.append("\n- " if tag == "li" and not page.cells and not page.inline else _break(page))
    elif tag == "br":
        page.out.append(_break(page))
    elif tag in ("td", "th"):
        _enter_cell(page)
    elif tag == "tr":
        page.rows.append(0)
        page.out.append(_break(page))
    elif tag == "pre":
        page.pre += 1
        page.out.append(_break(page))
    elif tag == "a" and page.links:
        page.hrefs.append((link_target(node.attributes.get("href"), page.base), len(page.out)))
    return True


def _enter_cell(page: _Page) -> None:
    if page.rows:
        if page.rows[-1]:
            page.out.append(" " if page.inline else " | ")
        page.rows[-1] += 1
    page.cells += 1


def _enter_email(email: _Email, tag: str, page: _Page) -> bool:
    """A protected address: show it in place of the placeholder (and as the link target)."""
    is_link = tag == "a" and page.links
    if not email.replaces_text:
        if is_link:
            page.hrefs.append((f"mailto:{email.address}", len(page.out)))
        return True
    page.out.append(f"{email.address} <mailto:{email.address}>" if is_link else email.address)
    return False


def _leave(node: LexborNode, page: _Page) -> None:
    """Emit what ends at this node (only called for nodes whose subtree was read)."""
    tag = node.tag
    if tag in _BLOCK_TAGS:
        page.out.append(_break(page))
    elif tag in ("td", "th"):
        page.cells = max(page.cells - 1, 0)
    elif tag == "tr":
        if page.rows:
            page.rows.pop()
        page.out.append(_break(page))
    elif tag == "pre":
        page.pre = max(page.pre - 1, 0)
        page.out.append(_break(page))
    elif tag == "a" and page.links and page.hrefs:
        target, start = page.hrefs.pop()
        if target:
            _close_link(page, target, start)


def _close_link(page: _Page, target: str, start: int) -> None:
    """Put the target after the link text but before its closing punctuation.

    ``<a>us.</a>`` and ``<a>us</a>.`` read the same; only the extent of the underline differs,
    and editors move punctuation in and out of links all the time.
    """
    text = "".join(page.out[start:])
    words = text.rstrip()
    cut = len(words.rstrip(_CLOSING_PUNCTUATION)) or len(words)
    page.out[start:] = [text[:cut], f" <{target}>", text[cut:]]


# --- language ------------------------------------------------------------------------------------

_HTML_LANG = re.compile(rb"<html\b[^>]*?\slang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)", re.I)


def declared_language(body: bytes, content_language: str | None = None) -> str | None:
    """The language a page says it is in: ``<html lang>``, else the Content-Language header.

    It chooses the weakening rules for clauses whose pledge names no ``language``.
    """
    found = _HTML_LANG.search(body[:65_536])
    if found:
        return found.group(1).decode("ascii").lower()
    if content_language:
        first = content_language.split(",")[0].strip()
        return first.lower() or None
    return None
