"""Repair the markup traps that make the HTML parser swallow the rest of a page.

Some elements hold raw text, not markup: ``iframe``, ``noscript``, ``textarea``, ``title``,
``script``, ``style`` and a few old ones. Browsers and the HTML5 standard ignore the ``/`` of
``<iframe src="..."/>``, so everything after such a tag, up to a ``</iframe>`` that never comes,
is read as the iframe's text: ``select: main`` then matches nothing, although any reader of the
raw HTML sees the element. A site that ships one such tag in its template hides every page from
a strict parser for as long as the template lives.

The extractor calls ``repair`` only when a selection came out empty; the repaired markup closes
each trap where its author meant it to end, and says what it did, for the check log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RAW_TEXT = ("iframe", "noscript", "textarea", "title", "script", "style", "xmp", "noembed", "noframes")
_ATTRIBUTES = r"""(?:\s+[^\s/>"'=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*"""
_START = re.compile(rf"<({'|'.join(_RAW_TEXT)})({_ATTRIBUTES})\s*(/?)>", re.I)
_BODY = re.compile(r"<body[\s>]", re.I)


@dataclass(frozen=True)
class Repair:
    """Markup with its traps closed, and one line per kind of trap that was found."""

    markup: str
    fixes: tuple[str, ...]

    def describe(self) -> str:
        return "the page needed repair: " + "; ".join(self.fixes)


def repair(markup: str) -> Repair | None:
    """Close self-closed and unclosed raw-text elements; None when the markup has no such trap.

    One pass in page order, like the parser: the raw text of a properly closed element (a
    script that writes ``"<iframe/>"``) is skipped, never repaired.
    """
    fixes: dict[str, None] = {}
    body = _BODY.search(markup)
    body_at = body.start() if body else len(markup)
    at = 0
    while (match := _START.search(markup, at)) is not None:
        name, attributes, self_closed = match.groups()
        tag = name.lower()
        closing = None if self_closed else re.compile(rf"</{tag}[\s>/]", re.I).search(markup, match.end())
        if closing is not None:
            at = closing.end()  # the raw text runs to here: a '<tag>' inside it is only text
            continue
        where = "head" if match.start() < body_at else "body"
        fixes[f"self-closed <{tag}/> in <{where}>" if self_closed else f"unclosed <{tag}> in <{where}>"] = (
            None
        )
        closed = f"<{name}{attributes}></{name}>"
        markup = f"{markup[: match.start()]}{closed}{markup[match.end() :]}"
        at = match.start() + len(closed)
    return Repair(markup, tuple(fixes)) if fixes else None
