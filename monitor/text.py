"""Text as words: the one normaliser of quotes, dashes, case and accents, with page offsets kept.

A word is what stands between spaces and dashes, without the punctuation at its edges; its ``key``
is what is compared: case-folded, accents dropped, curly quotes straightened. Matching a clause
(``monitor.clauses``), weakening signals (``monitor.signals``) and keywords read words this way.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

# The one table of typographic punctuation. Extraction writes these plain in the text it keeps
# (``extract.normalize_text``); matching and keywords read them as their plain forms.
CURLY_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u02bc"  # ‘ ’ ‚ ‛ and the modifier letter apostrophe ʼ
CURLY_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f"  # “ ” „ ‟
TYPOGRAPHIC_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe58\ufe63\uff0d"
# Typed for quotes, but also marks of their own (5′ 10″, a grave accent): compared as quotes,
# never rewritten in the text kept.
SINGLE_QUOTE_LOOKALIKES = "\u2032\uff07`"  # ′ ＇ ` (an acute accent ´ is a space once NFKC-normalized)
DOUBLE_QUOTE_LOOKALIKES = "\u2033"  # ″
# Invisible characters that vary between renderings of the same text: zero-width, soft hyphen,
# BOM, bidi marks, word joiner.
INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
PLAIN_PUNCTUATION: dict[str, str] = {
    **dict.fromkeys(TYPOGRAPHIC_DASHES, "-"),
    **dict.fromkeys(CURLY_SINGLE_QUOTES, "'"),
    **dict.fromkeys(CURLY_DOUBLE_QUOTES, '"'),
}

# What a word is made of, for matching: every form of a quote compares as one, a dash splits words.
SINGLE_QUOTES = "'" + CURLY_SINGLE_QUOTES + SINGLE_QUOTE_LOOKALIKES
DOUBLE_QUOTES = '"' + CURLY_DOUBLE_QUOTES + DOUBLE_QUOTE_LOOKALIKES
DASHES = "-" + TYPOGRAPHIC_DASHES
EDGE = string.punctuation.replace("-", "") + SINGLE_QUOTES + DOUBLE_QUOTES + "«»‹›…•·¡¿§¶†‡"
_STRAIGHT = str.maketrans({**dict.fromkeys(SINGLE_QUOTES, "'"), **dict.fromkeys(DOUBLE_QUOTES, '"')})
_WORD = re.compile(rf"[^\s{re.escape(DASHES)}]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


class Word(NamedTuple):
    """One word of a text, with its offsets in that text."""

    start: int
    end: int
    text: str  # as on the page, without punctuation at its edges
    key: str  # what is compared: case-folded, straight quotes


def normalize_for_match(text: str) -> str:
    """The words that decide a match: NFKC, case-folded, straight quotes, hyphens and dashes
    split words, punctuation at word edges dropped, one space between words."""
    return " ".join(word.key for word in split_words(nfkc(text)))


def nfkc(text: str) -> str:
    """Compatibility characters (ligatures, full-width letters, non-breaking spaces) as plain ones."""
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def _lower(text: str) -> str:
    """Lower case without changing the length, so folded offsets are page offsets."""
    folded = text.replace("\u0130", "i").lower()
    if len(folded) == len(text):
        return folded
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


@functools.lru_cache(maxsize=4096)
def _base_char(char: str) -> str:
    """A letter without its accents ("é" -> "e"), one character for one so offsets carry over."""
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    return base if len(base) == 1 else char


def fold(text: str) -> str:
    """Lower case and no accents, as long as ``text``: accents matter no more than case."""
    folded = _lower(text)
    if folded.isascii():
        return folded
    accented = {c: _base_char(c) for c in set(_NON_ASCII.findall(folded)) if _base_char(c) != c}
    if not accented:
        return folded
    pattern = re.compile("|".join(map(re.escape, accented)))
    return pattern.sub(lambda m: accented[m.group()], folded)


def word_key(word: str) -> str:
    """What is compared of a word: case-folded, without accents, straight quotes."""
    folded = word.casefold().translate(_STRAIGHT)
    if folded.isascii():
        return folded
    return "".join(c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c))


def split_words(text: str, lo: int = 0, hi: int | None = None) -> list[Word]:
    """The words of ``text[lo:hi]``, split at spaces and dashes, offsets in ``text``."""
    words = []
    for match in _WORD.finditer(text, lo, len(text) if hi is None else hi):
        raw = match.group()
        core = raw.strip(EDGE)
        if core:
            start = match.start() + len(raw) - len(raw.lstrip(EDGE))
            words.append(Word(start, start + len(core), core, word_key(core)))
    return words


def is_separator(char: str) -> bool:
    """Space, dash or edge punctuation: what may stand between two words."""
    return char.isspace() or char in EDGE or char in DASHES


def join_words(words: Sequence[Word]) -> str:
    """Words as one string, single spaces between them."""
    return " ".join(w.text for w in words)
