"""Responses that are not what the page says: a cut-off body, an error or loading page served
with 200, a text that suddenly lost most of its words.

Sites serve these for a fetch or two during deploys, outages and CDN hiccups. Taken as the page's
new version they would alert twice (the "change" and the change back) or, worse, report a pledge
removed. Pure: each function looks at the new fetch and the last stored version and says why the
new one is not to be trusted, or None.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# a cut-off page: the last version ended with these and the new body does not
_CLOSING = re.compile(rb"</(?:html|body)\s*>", re.I)
_TAIL = 4096  # closing tags sit at the end; scripts after </html> are rare but real

# a page that says it is not there (a "soft 404"): the page is as good as gone
_NOT_FOUND = re.compile(
    r"\b(?:page not found|404 not found|error 404|404 error|not found \(404\)"
    r"|(?:page|content|article) (?:you (?:requested|are looking for)|you're looking for)"
    r" (?:could not|cannot|can't|can not|was not|wasn't) (?:be )?found"
    r"|(?:this|that) page (?:does not|doesn't|no longer) exists?"
    r"|we (?:can't|cannot|couldn't|could not) find (?:that|the|this) page)\b",
    re.I,
)

# a page that is not there yet or not right now: a loading shell, an error page, maintenance
_ERROR_PAGE = re.compile(
    r"\b(?:loading\.\.\.|loading…|please wait while|(?:please )?enable javascript"
    r"|javascript is (?:required|disabled)"
    r"|something went wrong|an error (?:has )?occurred|try again later|temporarily unavailable"
    r"|service unavailable|under maintenance|scheduled maintenance|access denied)",
    re.I,
)

SHRINK = 0.5  # a new text under half the last one is confirmed before it is believed
WORDING_SHRINK = 0.8  # error wording counts when the text also lost a fifth of its length


def truncated(
    body: bytes, previous_body: Callable[[], bytes | None], text: str, previous_text: str | None
) -> str | None:
    """A body that stops where earlier versions went on to close the page, with less text.

    The last body is asked for only when the new one is cut and shorter: a stored body costs a
    read and a decompression, and nearly every changed page closes its tags."""
    if previous_text is None or len(text) >= len(previous_text) or _CLOSING.search(body[-_TAIL:]):
        return None
    previous = previous_body()
    if previous is None or not _CLOSING.search(previous[-_TAIL:]):
        return None
    share = _share(text, previous_text)
    return (
        f"truncated page: the body stops without the closing </body></html> the last version had, "
        f"with {share}% of its text"
    )


def not_found(text: str, previous_text: str | None) -> str | None:
    """A 200 whose page says it is not there: a soft 404, treated as a 404."""
    if previous_text is None or len(text) >= WORDING_SHRINK * len(previous_text):
        return None
    wording = _new_wording(_NOT_FOUND, text, previous_text)
    return f'the page says "{wording}" (a not-found page served with 200)' if wording else None


def suspect(text: str, previous_text: str | None) -> str | None:
    """A text to confirm by a re-check before it becomes the page's version."""
    if previous_text is None or not previous_text:
        return None
    if len(text) < WORDING_SHRINK * len(previous_text):
        wording = _new_wording(_ERROR_PAGE, text, previous_text)
        if wording:
            return f'the page now says "{wording}"'
    if len(text) < SHRINK * len(previous_text):
        return f"the text shrank to {_share(text, previous_text)}% of the last version"
    return None


def _new_wording(pattern: re.Pattern[str], text: str, previous_text: str) -> str | None:
    """The first match in the new text that the last version did not have."""
    before = {m.group(0).lower() for m in pattern.finditer(previous_text)}
    for match in pattern.finditer(text):
        if match.group(0).lower() not in before:
            return match.group(0)
    return None


def _share(text: str, previous_text: str) -> int:
    return round(100 * len(text) / max(len(previous_text), 1))
