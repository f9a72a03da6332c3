"""Does a statement mention a pledge? Keyword matching that forgives spelling forms, not meaning.

Press releases write "facial-recognition", "Rekognition's", "moratoria" or "FACIAL RECOGNITION"
for the same words a watchlist lists once; a miss means a statement nobody hears about. Whole
words only, though: "police" must not fire on "policy". Every hit says which words matched and
where, so an alert can show why it was sent.

Text is folded (lowercase, diacritics and compatibility forms removed, curly quotes and dashes
made plain) with a map back to the original offsets; only the rare characters whose folding
changes the length (ligatures, combining marks, soft hyphens) cost any extra work.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from monitor.errors import MonitorError
from monitor.text import DOUBLE_QUOTE_LOOKALIKES, INVISIBLE, PLAIN_PUNCTUATION, SINGLE_QUOTE_LOOKALIKES

Field = Literal["title", "summary", "text"]

EXCERPT_CHARS = 200

_FIELDS: tuple[Field, ...] = ("title", "summary", "text")
# the plain forms of ``monitor.text``, and French quotes as quotes; invisible characters go
_SPECIAL = {
    **PLAIN_PUNCTUATION,
    **dict.fromkeys(SINGLE_QUOTE_LOOKALIKES, "'"),
    **dict.fromkeys(DOUBLE_QUOTE_LOOKALIKES + "«»", '"'),
    **dict.fromkeys(INVISIBLE, ""),
}
_SPECIAL["\u2026"] = "."  # an ellipsis folds to one char, so its offsets need no map
# The punctuation of most English press releases, replaced first at C speed.
_COMMON = tuple((c, _SPECIAL.get(c, " ")) for c in "\u2019\u2018\u201c\u201d\u2013\u2014\u2026\u00a0")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_WORD_SPLIT = re.compile(r"[\s\-_]+")
_SEPARATOR = r"[\s\-]*"  # "facial recognition", "facial-recognition", "#FacialRecognition"
_VOWELS = frozenset("aeiou")
_SPACES = re.compile(r"\s+")


# --- folding -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    """One character as the matcher sees it: 'É' -> 'e', 'ﬁ' -> 'fi', '’' -> "'"."""
    if char in _SPECIAL:
        return _SPECIAL[char]
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@dataclass(frozen=True)
class _Folded:
    """Folded text plus the breakpoints that map its offsets back to the original."""

    text: str
    original: str
    folded_at: tuple[int, ...] = ()  # folded offsets where a mapping segment starts
    original_at: tuple[int, ...] = ()  # the original offset each segment starts at
    stretched: tuple[bool, ...] = ()  # True where the segment is one char folded to 0 or 2+ chars

    def _origin(self, index: int) -> int:
        k = bisect.bisect_right(self.folded_at, index) - 1
        if k < 0:
            return index
        if self.stretched[k]:
            return self.original_at[k]
        return self.original_at[k] + index - self.folded_at[k]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of a folded span, with trailing accents kept on their letter."""
        stop = self._origin(end - 1) + 1
        while stop < len(self.original) and unicodedata.combining(self.original[stop]):
            stop += 1
        return self._origin(start), stop


@functools.lru_cache(maxsize=4096)
def _fold_run(run: str) -> tuple[str, bool]:
    """A run of non-ASCII characters folded, and whether each one folded to exactly one."""
    folded = [_fold_char(char) for char in run]
    return "".join(folded), all(len(part) == 1 for part in folded)


def _fold(text: str) -> _Folded:
    plain = text
    for char, replacement in _COMMON:
        if char in plain:
            plain = plain.replace(char, replacement)
    if plain.isascii():
        return _Folded(plain.lower(), text)
    regular = True

    def fold_run(found: re.Match[str]) -> str:
        nonlocal regular
        folded, one_to_one = _fold_run(found.group())
        regular = regular and one_to_one
        return folded

    folded = _NON_ASCII.sub(fold_run, plain).lower()
    return _Folded(folded, text) if regular else _fold_mapped(text)


def _fold_mapped(text: str) -> _Folded:
    """The slow path, for text with ligatures, combining marks or invisible characters."""
    pieces: list[str] = []
    folded_at: list[int] = []
    original_at: list[int] = []
    stretched: list[bool] = []
    done = size = 0  # original chars consumed, folded chars produced
    for run in _NON_ASCII.finditer(text):
        head = text[done : run.start()].lower()
        pieces.append(head)
        size += len(head)
        for offset, char in enumerate(run.group(), start=run.start()):
            folded = _fold_char(char)
            if len(folded) != 1:
                folded_at += [size, size + len(folded)]
                original_at += [offset, offset + 1]
                stretched += [True, False]
            pieces.append(folded)
            size += len(folded)
        done = run.end()
    pieces.append(text[done:].lower())
    return _Folded("".join(pieces), text, tuple(folded_at), tuple(original_at), tuple(stretched))


def fold(text: str) -> str:
    """Text as the matcher compares it (lowercase, no accents, plain quotes and dashes)."""
    return _fold(text).text


# --- patterns ------------------------------------------------------------------------------------


def _word_forms(word: str) -> str:
    """A regex for the singular, plural and possessive forms of one folded keyword word."""
    if word.endswith("'s"):
        word = word[:-2]
    if not word.isalpha():
        return re.escape(word)
    stem, endings = _inflections(word)
    alternatives = "|".join(sorted(endings, key=len, reverse=True))
    return f"{re.escape(stem)}(?:{alternatives})(?:'s|(?<=s)')?"


def _inflections(word: str) -> tuple[str, tuple[str, ...]]:
    """Regular English plurals both ways, and the Latin -um/-a of 'moratorium'/'moratoria'."""
    long = len(word) > 4  # short words ("news", "bus", "AWS") are not plurals to undo
    if long and word.endswith("ies"):
        return word[:-3], ("y", "ies")
    if len(word) > 2 and word.endswith("y") and word[-2] not in _VOWELS:
        return word[:-1], ("y", "ies")
    if long and word.endswith("um"):
        return word[:-2], ("um", "ums", "a")
    if long and word.endswith("ia"):
        return word[:-1], ("a", "um", "ums")
    if long and word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2], ("", "es")
    if long and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1], ("", "s")
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word, ("", "es")
    return word, ("", "s")


def _pattern(keyword: str) -> re.Pattern[str]:
    words = [w for w in _WORD_SPLIT.split(fold(keyword)) if w]
    if not words:
        raise MonitorError(f"keyword {keyword!r} has no words to match")
    # The leading word boundary is checked by hand: a literal first keeps re's fast prefix scan.
    return re.compile(_SEPARATOR.join(_word_forms(w) for w in words) + r"(?!\w)")


# --- matching ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeywordHit:
    """Where one keyword first appears: the words as written in the item, and around them."""

    keyword: str  # as written in the watchlist
    matched: str  # the words in the text that matched
    field: Field
    start: int  # offsets in that field's text
    end: int
    excerpt: str  # the text around the hit, the hit marked «like this»

    def describe(self) -> str:
        said = f'"{self.keyword}"'
        if fold(self.matched) != fold(self.keyword):
            said += f' as "{self.matched}"'
        if self.field == "title":
            return f"{said} (title)"
        return f'{said} ({self.field}: "{self.excerpt}")'


@dataclass(frozen=True)
class KeywordMatch:
    """The keywords an item mentions, in watchlist order."""

    hits: tuple[KeywordHit, ...]

    @property
    def matched(self) -> bool:
        return bool(self.hits)

    def explain(self) -> str:
        """One line for an alert: which keywords matched, and where."""
        if not self.hits:
            return "no keyword matched"
        return "matched " + ", ".join(hit.describe() for hit in self.hits)


class KeywordMatcher:
    """A pledge's keywords compiled once, then matched against many items."""

    def __init__(self, keywords: Sequence[str]) -> None:
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        seen: set[str] = set()
        for keyword in keywords:
            pattern = _pattern(keyword)
            if pattern.pattern not in seen:
                seen.add(pattern.pattern)
                self._patterns.append((keyword, pattern))

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(keyword for keyword, _ in self._patterns)

    def match(self, *, title: str, summary: str = "", text: str = "") -> KeywordMatch:
        """Each keyword's first hit, looking in the title, then the summary, then the text."""
        fields = [(name, _fold(value)) for name, value in zip(_FIELDS, (title, summary, text), strict=True)]
        hits = []
        for keyword, pattern in self._patterns:
            for name, folded in fields:
                found = _first_whole_word(pattern, folded.text)
                if found is not None:
                    hits.append(_hit(keyword, name, folded, *found))
                    break
        return KeywordMatch(tuple(hits))


def compile_keywords(keywords: Sequence[str]) -> KeywordMatcher:
    """Compile once per pledge; matching an item is then a few regex scans."""
    return KeywordMatcher(keywords)


def _first_whole_word(pattern: re.Pattern[str], text: str) -> tuple[int, int] | None:
    position = 0
    while (found := pattern.search(text, position)) is not None:
        start = found.start()
        if start == 0 or not _is_word_char(text[start - 1]):
            return start, found.end()
        position = start + 1
    return None


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _hit(keyword: str, name: Field, folded: _Folded, start: int, end: int) -> KeywordHit:
    first, stop = folded.span(start, end)
    original = folded.original
    return KeywordHit(
        keyword=keyword,
        matched=original[first:stop],
        field=name,
        start=first,
        end=stop,
        excerpt=excerpt(original, first, stop),
    )


def excerpt(text: str, start: int, end: int, width: int = EXCERPT_CHARS) -> str:
    """About ``width`` characters around text[start:end], cut at word gaps, the hit marked «...»."""
    room = max(width - (end - start), 0) // 2
    left = max(start - room, 0)
    right = min(end + room, len(text))
    if left > 0 and not text[left - 1].isspace():  # mid-word: start after the next gap
        gap = _SPACES.search(text, left, start)
        left = gap.end() if gap else left
    if right < len(text) and not text[right].isspace():
        gaps = [found.start() for found in _SPACES.finditer(text, end, right)]
        right = gaps[-1] if gaps else right
    head = _SPACES.sub(" ", text[left:start]).lstrip()
    hit = _SPACES.sub(" ", text[start:end])
    tail = _SPACES.sub(" ", text[end:right]).rstrip()
    return f"{'…' if left > 0 else ''}{head}«{hit}»{tail}{'…' if right < len(text) else ''}"
