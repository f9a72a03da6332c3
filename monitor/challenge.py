"""Bot challenges: a Cloudflare, Akamai or captcha page answering instead of the watched page.

Such a response says nothing about the pledge, so a fetch that meets one fails as transient (likely
bot blocking), never as a lapse. Used by the HTTP fetcher and the browser alike; pure (status,
headers and body in, a verdict out).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Bodies of redirects and errors are only kept for bot-challenge detection.
ERROR_BODY_LIMIT = 64 * 1024
# Bodies of successful responses this small are checked for challenge pages too.
SMALL_BODY = 16 * 1024
CHALLENGE_STATUSES = frozenset({403, 429, 503})

# Signatures that only challenge and block pages carry: safe to look for even in a small 200 body.
_CHALLENGE_MARKERS = re.compile(
    rb"<title[^>]*>\s*(?:just a moment|attention required|verify(?:ing)? you are (?:a )?human"
    rb"|are you a (?:human|robot)|human verification|ddos-guard|sucuri website firewall"
    rb"|[^<]{0,80}captcha)"
    rb"|cf[-_]chl|_incapsula_resource|incapsula incident id|captcha-delivery\.com"
    rb"|px-captcha|awswafintegration|aws-waf-token",
    re.IGNORECASE,
)
# Broader words, only trusted on the statuses blockers answer with.
_BLOCK_WORDS = re.compile(
    rb"captcha|unusual traffic|are you a robot|verify you are (?:a )?human|automated (?:access|queries)",
    re.IGNORECASE,
)
_AKAMAI_DENIED = re.compile(rb"access denied", re.IGNORECASE)
_AKAMAI_REFERENCE = re.compile(
    rb"reference(?:\s|&#32;)*(?:#|&#35;)\s*\d|errors\.edgesuite\.net", re.IGNORECASE
)


def looks_like_bot_challenge(status: int, headers: Mapping[str, str], body: bytes) -> bool:
    """Is this response a bot check (Cloudflare, Akamai, captcha) rather than the page itself?

    Such a response says nothing about the pledge, so it must be a transient failure, never a
    lapse. Large bodies are only scanned on 403/429/503, which keeps normal pages cheap.
    """
    if "challenge" in (header_value(headers, "cf-mitigated") or "").lower():
        return True
    if (header_value(headers, "x-amzn-waf-action") or "").lower() in ("captcha", "challenge"):
        return True
    blocking_status = status in CHALLENGE_STATUSES
    if not blocking_status and len(body) > SMALL_BODY:
        return False
    sample = body[:ERROR_BODY_LIMIT]
    if _CHALLENGE_MARKERS.search(sample):
        return True
    if _AKAMAI_DENIED.search(sample) and _AKAMAI_REFERENCE.search(sample):
        return True
    return blocking_status and _BLOCK_WORDS.search(sample) is not None


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup in a plain header dict."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None
