"""The one URL cleaner: the same address always reads the same, whatever the markup.

With ``links: true`` a link's target is part of the watched text, so anything that changes how a
target is written without changing where it leads would be a false change: tracking parameters,
URL session ids, the case of scheme and host, a default port, and the obfuscations sites use to
hide e-mail addresses from harvesters (character references, decimal and hexadecimal at random
and sometimes nested, percent-encoding of ordinary letters). Each is undone here; nothing that
changes the address is. ``canonical_link`` is the stricter form that keys a feed's items: http(s)
only, without the fragment, under the same rules for tracking parameters.
"""

from __future__ import annotations

import html
import re
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

# Click and campaign ids that analytics and ad tools add to links, many with a new value per page
# view (_gl, _ga): they say nothing about where the link goes. Session ids in URLs are the same.
# fmt: off
_TRACKING_PARAMS = frozenset({
    "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "twclid", "ttclid", "li_fat_id",
    "yclid", "igshid", "srsltid", "_ga", "_gl", "_kx", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok",
    "vero_id", "oly_anon_id", "oly_enc_id", "rb_clickid", "s_kwcid", "ef_id", "ref_src",
    "pk_campaign", "pk_kwd", "pk_keyword", "pk_source", "pk_medium", "pk_content", "pk_cid",
    "jsessionid", "phpsessid", "aspsessionid", "cfid", "cftoken",
})
# fmt: on
_TRACKING_PREFIXES = ("utm_", "hsa_", "mtm_")
_PATH_SESSION = re.compile(r";jsessionid=[^/?#]*", re.I)
# Only references closed by ';': "&copy=2" in a query string is a parameter, not a character.
_CHAR_REF = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_MAX_DECODING_ROUNDS = 8  # "&amp;amp;#109;" is three rounds; more is a hostile page
_URL_STRIPPED = re.compile(r"[\t\n\r]")  # the URL standard drops these anywhere in a URL
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# In a mailto address these would split or end the address list when decoded; the rest is the address.
_MAILTO_DELIMITERS = frozenset('?&,#%/ "<>')
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_PORTS = {"http": 80, "https": 443}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def link_target(href: str | None, base: str | None) -> str | None:
    """The absolute link target, written one way; fragments stay (anchors matter)."""
    href = _URL_STRIPPED.sub("", decode_char_refs(href or "")).strip()
    if not href or href.lower().startswith("javascript:"):
        return None
    try:
        parts = urlsplit(urljoin(base, href) if base else href)
    except ValueError:
        return href
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        return "mailto:" + _mailto_address(parts.path) + (f"?{parts.query}" if parts.query else "")
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p.partition("=")[0]))
    path = _PATH_SESSION.sub("", parts.path)
    # Scheme and host are case-insensitive; a page that changes their case links to the same place.
    return urlunsplit(
        parts._replace(
            scheme=scheme,
            netloc=_netloc(parts.netloc, scheme),
            path=_unreserved(path),
            query=_unreserved(query),
            fragment=_unreserved(parts.fragment),
        )
    )


def canonical_link(href: str | None, base: str | None = None) -> str | None:
    """The one spelling of a link, so the same page linked twice is one item; None if not http(s)."""
    href = _URL_STRIPPED.sub("", href or "").strip()
    if not href or _CONTROL.search(href):
        return None
    try:
        parts = urlsplit(urljoin(base, href) if base else href)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _PORTS or not parts.hostname:
        return None
    host = parts.hostname  # already lowercase
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _PORTS[scheme]:
        host = f"{host}:{port}"
    if parts.username is not None:
        host = f"{parts.netloc.rpartition('@')[0]}@{host}"
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p.partition("=")[0]))
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def decode_char_refs(text: str) -> str:
    """Decode character references until none is left: ``&amp;#109;`` is an ``m`` too."""
    for _ in range(_MAX_DECODING_ROUNDS):
        decoded = _CHAR_REF.sub(lambda m: html.unescape(m.group()), text)
        if decoded == text:
            break
        text = decoded
    return text


def _unreserved(part: str) -> str:
    """RFC 3986 6.2.2: ``%7E`` is ``~`` and ``%2f`` is ``%2F``; any other escape stays as it is."""
    return _PERCENT.sub(_unescape_unreserved, part) if "%" in part else part


def _unescape_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else f"%{match.group(1).upper()}"


def _mailto_address(path: str) -> str:
    """The address as a mail client reads it: escapes decoded, the domain in lower case."""
    decoded = _PERCENT.sub(_unescape_mailto, path).strip()
    addresses = []
    for address in decoded.split(","):
        local, at, domain = address.strip().rpartition("@")
        addresses.append(f"{local}{at}{domain.lower()}" if at else address.strip())
    return ",".join(addresses)


def _unescape_mailto(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return f"%{match.group(1).upper()}" if char in _MAILTO_DELIMITERS or not char.isprintable() else char


def _netloc(netloc: str, scheme: str) -> str:
    """Lower-case the host but not the user info (which may be case-sensitive); drop a default port."""
    user, at, host = netloc.rpartition("@")
    host = host.lower()
    port = _DEFAULT_PORTS.get(scheme)
    if port and host.endswith(f":{port}"):
        host = host.removesuffix(f":{port}")
    return f"{user}{at}{host}"


def _is_tracking(name: str) -> bool:
    name = unquote(name).lower()
    return name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)
