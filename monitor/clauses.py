"""Find a pledge clause in a page's text, exactly or approximately, and judge the passage found.

A clause is *exact* when its words appear in order on the page once case, accents, quotes, dashes,
hyphens, whitespace and punctuation at word edges are set aside, anywhere on the page; *reworded* when
the best passage (near its last known location first, then anywhere) is similar enough word for word,
or, failing that, when a sentence or paragraph still carries enough of the clause's content words
(a narrowed pledge is a rewording, not a removal); *weakened* when that rewording adds a hedge, drops
a negation or a commitment, a condition, a deadline or a number, limits time or narrows scope (the
rules are data, per language, in ``monitor.weakening``, fired by ``monitor.signals``); else
*not found*. Words are read as ``monitor.text`` reads them.

A passage is quoted as published (punctuation and case kept), snapped to the phrase it stands in, and
only the words that changed are marked (``clause_marks``, ``passage_marks``).

Everything here is a pure function of its arguments. Offsets refer to the text as given, or to its
NFKC form when it was not NFKC already (``extract.normalize_text`` output always is).
"""

from __future__ import annotations

import bisect
import difflib
import functools
import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from monitor.signals import Signal, flags, signals_between, weakening_signals
from monitor.text import (
    DASHES,
    DOUBLE_QUOTES,
    EDGE,
    SINGLE_QUOTES,
    Word,
    fold,
    is_separator,
    join_words,
    nfkc,
    normalize_for_match,
    split_words,
    word_key,
)
from monitor.weakening import (
    FUNCTION_WORDS,
    RULES,
    WeakeningRule,
    language_code,
    rules_for,
)

DEFAULT_THRESHOLD = 0.75
NEAR_CHARS = 10_000  # searched on each side of the last known location before the whole text
WINDOW_CHARS = 20_000  # rapidfuzz aligns well and fast in windows of this size
CANDIDATES = 3  # best character-level alignments that are refined word by word
KEEP_WORDS_TOLERANCE = 0.05  # a span scoring this much under the best may win by keeping more words
EXTEND_AFTER = 10  # a weakening qualifier this many words after the best match, in the same
EXTEND_BEFORE = 6  # sentence, or this many before it, joins the passage
SNAP_WORDS = 8  # a passage grows to the punctuation that ends its phrase when it is this close
RELATED_SHARE = 0.4  # of a clause's content words a sentence must keep to be its rewording
RELATED_MIN_WORDS = 3  # and at least this many: two shared words relate nothing
RELATED_SIMILARITY = 0.45  # and match it this well word for word (the rewording threshold's floor)
RELATED_MAX_WORDS = 400  # a longer paragraph is searched around its clause words only
RELATED_MAX_CHARS = 5_000  # a longer "paragraph" (a page without line breaks) relates nothing

_GAP = rf"[{re.escape(EDGE)}\s{re.escape(DASHES)}]"
_SEPARATOR = rf"{_GAP}*[\s{re.escape(DASHES)}]{_GAP}*"


Stood = Collection[str] | Callable[[], Collection[str]] | None


class Outcome(StrEnum):
    EXACT = "exact"
    REWORDED = "reworded"
    WEAKENED = "weakened"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class ClauseMatch:
    """Where and how a clause was found on one text of a source.

    ``similarity`` is word-level (2 x common words / all words) between the clause and the words
    of the page that match it best; it decides the outcome against the threshold. ``passage`` adds
    to those words the ones that replaced the clause's first or last words and any hedge or
    qualifier just outside them in the same sentence, so that ``word_ops`` and ``signals`` show
    everything that changed.
    """

    clause: str
    outcome: Outcome
    similarity: float
    passage: str | None
    start: int | None
    end: int | None
    word_ops: tuple[tuple[int, str], ...]
    signals: tuple[Signal, ...]
    sentence: str | None = None  # the sentence around the passage, set by in_context()
    clause_marks: tuple[tuple[int, int], ...] = ()  # removed words: spans in ``clause``
    passage_marks: tuple[tuple[int, int], ...] = ()  # added words: spans in ``passage``
    related: bool = False  # found below the rewording threshold, by its content words
    stood_at: int | None = None  # not found: where it was last found, in this text
    around: tuple[str, str] | None = None  # not found: what now stands before and after there
    language: str = "en"  # whose weakening rules judged it


@dataclass(frozen=True)
class _Page:
    text: str
    folded: str  # lower case, no accents, and as long as ``text``, so offsets carry over

    @functools.cached_property
    def sentences(self) -> list[tuple[int, int]]:
        """Where each sentence (or line) starts and ends: only needed when a clause is missing."""
        return _spans(self.text, _SENTENCE_END, capital=True)

    @functools.cached_property
    def paragraphs(self) -> list[tuple[int, int]]:
        return _spans(self.text, _PARAGRAPH_END, capital=False)


@dataclass(frozen=True)
class _Clause:
    text: str
    words: list[Word]
    keys: list[str]
    needle: str
    pattern: re.Pattern[str]


class _Scored(NamedTuple):
    score: float
    words: list[Word]


def clause_key(clause: str) -> str:
    """Clauses are identified by their normalized wording, so editing one starts it afresh."""
    return hashlib.sha256(normalize_for_match(clause).encode()).hexdigest()[:16]


def find_clause(
    clause: str,
    text: str,
    *,
    last_location: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    language: str | None = None,
    stood: Stood = None,
) -> ClauseMatch:
    """Locate one clause; exact anywhere beats approximate near ``last_location``.

    ``language`` (a pledge's, or the page's ``lang``) picks the weakening rules; English by default.
    ``stood`` gives the sentences of the previous version (``sentences_of``): one that stood there
    all along is no rewording of a clause that vanished, however related its words.
    """
    code = language_code(language)
    return _find(_prepare(clause), _page(text), last_location, threshold, code, stood)


def sentences_of(text: str, keep: str | None = None) -> frozenset[str]:
    """The sentences and paragraphs of a text, normalized, but those holding ``keep`` (where the
    clause was last found reworded: that passage may still be its best rewording)."""
    page = _page(text)
    kept = " ".join(fold(nfkc(keep)).split()) if keep else None
    units = (_normalized_unit(page, unit) for unit in (*page.sentences, *page.paragraphs))
    return frozenset(u for u in units if kept is None or kept not in u)


def stood_around(text: str, at: int) -> tuple[str, str]:
    """What stands on either side of ``at``: the sentence (part) before it and the one after it.

    Where a removed clause stood, this is what a reader of the page now finds there.
    """
    at = min(max(at, 0), len(text))
    while 0 < at < len(text) and not is_separator(text[at - 1]):
        at -= 1  # not inside a word
    stops = (". ", "! ", "? ", "\n")
    head = text[:at].rstrip()
    lo = max(head.rfind(stop, 0, max(0, len(head) - 1)) for stop in stops) + 1
    ends = [i for i in (text.find(stop, at) for stop in stops) if i != -1]
    hi = min(ends) + 1 if ends else len(text)
    return text[lo:at].strip(), text[at:hi].strip()


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence (or line) a passage sits in: the context a pledge's words are read in."""
    lo = max(text.rfind(stop, 0, start) for stop in (". ", "! ", "? ", "\n")) + 1
    his = [i for i in (text.find(stop, end) for stop in (". ", "! ", "? ", "\n")) if i != -1]
    hi = min(his) + 1 if his else len(text)
    return text[lo:hi].strip()


def in_context(match: ClauseMatch, text: str, intact: str | None) -> ClauseMatch:
    """Judge a match against the sentence the clause stood in when it was last found intact.

    A clause can keep its exact words while the sentence around it gains a hedge or a condition
    ("At this time we will not sell ..."): that weakens the pledge too. And words that stood
    beside the clause all along ("... until there is a national law") weaken nothing now, even
    when a rewording pulls them into the passage. A dropped negation is judged against the
    clause itself, so it always stands.
    """
    start, end = match.start, match.end
    if start is None or end is None:
        return match
    sentence = sentence_around(text, start, end)
    match = replace(match, sentence=sentence)
    if intact is None:
        return match
    before = f" {normalize_for_match(intact)} "
    intact_words = split_words(nfkc(intact))
    clause_words = split_words(nfkc(match.clause))
    if match.outcome is Outcome.EXACT:
        signals = tuple(
            s
            for s in weakening_signals(intact, sentence, language=match.language)
            if f" {normalize_for_match(s.words)} " not in before
        )
        if not signals:
            return match
        found = text.find(sentence, max(0, start - len(sentence)))
        lo = found if found != -1 else start
        return replace(
            match,
            outcome=Outcome.WEAKENED,
            signals=signals,
            passage=sentence,
            start=lo,
            end=lo + len(sentence),
            **_changes(match.clause, clause_words, sentence, split_words(nfkc(sentence)), intact_words),
        )
    kept = tuple(
        s
        for s in match.signals
        if s.kind in _ALWAYS_STANDS or f" {normalize_for_match(s.words)} " not in before
    )
    assert match.passage is not None
    marked = _changes(
        match.clause, clause_words, match.passage, split_words(nfkc(match.passage)), intact_words
    )
    return replace(match, signals=kept, outcome=Outcome.WEAKENED if kept else Outcome.REWORDED, **marked)


# judged against the clause itself: what the clause said and the page no longer does
_ALWAYS_STANDS = frozenset(
    {"negation_dropped", "commitment_dropped", "condition_dropped", "deadline_dropped", "number_dropped"}
)


def explain(match: ClauseMatch) -> str:
    """One line for an alert or a log: the outcome, the reasons and the changed words."""
    if match.outcome is Outcome.EXACT:
        return f'Found as pledged: "{_shorten(match.clause)}"'
    if match.outcome is Outcome.NOT_FOUND:
        return f'Not found: "{_shorten(match.clause)}"'
    head = f"{match.outcome.value.capitalize()} ({match.similarity:.0%} similar)"
    if match.related:
        head += ", a narrower passage in its place"
    changes = _describe(match.word_ops)
    if match.signals:
        reasons = "; ".join(signal.explanation for signal in match.signals)
        return f"{head}: {reasons}. Words: {changes}"
    return f"{head}: {changes}"


# --- preparing texts -----------------------------------------------------------------------------


def _page(text: str) -> _Page:
    text = nfkc(text)
    return _Page(text, fold(text))


def _prepare(clause: str) -> _Clause:
    words = split_words(nfkc(clause))
    if not words:
        raise ValueError(f"clause {clause!r} has no words to look for")
    keys = [w.key for w in words]
    pattern = _SEPARATOR.join(_literal(fold(w.text)) for w in words)
    return _Clause(clause, words, keys, " ".join(keys), _compile(pattern))


def _literal(word: str) -> str:
    """A regex for one word that accepts any kind of quote where the clause has one."""
    parts = []
    for char in word:
        if char in SINGLE_QUOTES:
            parts.append(f"[{re.escape(SINGLE_QUOTES)}]")
        elif char in DOUBLE_QUOTES:
            parts.append(f"[{re.escape(DOUBLE_QUOTES)}]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _find(
    clause: _Clause,
    page: _Page,
    last_location: int | None,
    threshold: float,
    language: str = "en",
    stood: Stood = None,
) -> ClauseMatch:
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    everywhere = (0, len(page.text))
    near = _near(page, clause, last_location)
    span = _find_exact(page, clause, *near) if near else None
    span = span or _find_exact(page, clause, *everywhere)
    if span:
        return replace(_exact(clause, page.text, *span), language=language)
    scored = _find_similar(page, clause, *near, threshold) if near else None
    scored = scored or _find_similar(page, clause, *everywhere, threshold)
    related = False
    if scored is None:
        previous = stood() if callable(stood) else stood or frozenset()
        scored, related = _find_related(page, clause, last_location, language, previous), True
    if scored is None:
        return _not_found(clause, page.text, last_location, language)
    return _reworded(clause, page.text, scored, language, related=related)


def _not_found(clause: _Clause, text: str, location: int | None, language: str) -> ClauseMatch:
    match = ClauseMatch(clause.text, Outcome.NOT_FOUND, 0.0, None, None, None, (), (), language=language)
    if location is None:
        return match
    at = min(max(location, 0), len(text))
    return replace(match, stood_at=at, around=stood_around(text, at))


def _near(page: _Page, clause: _Clause, location: int | None) -> tuple[int, int] | None:
    if location is None:
        return None
    location = min(max(location, 0), len(page.text))
    reach = NEAR_CHARS + 2 * len(clause.needle)
    return max(0, location - reach), min(len(page.text), location + reach)


def _find_exact(page: _Page, clause: _Clause, lo: int, hi: int) -> tuple[int, int] | None:
    folded, position = page.folded, lo
    while (match := clause.pattern.search(folded, position, hi)) is not None:
        start, end = match.span()
        if (start == 0 or is_separator(folded[start - 1])) and (
            end == len(folded) or is_separator(folded[end])
        ):
            return start, end
        position = start + 1
    return None


def _find_similar(page: _Page, clause: _Clause, lo: int, hi: int, threshold: float) -> _Scored | None:
    best: _Scored | None = None
    for start, end in _alignments(page, clause.needle, lo, hi, threshold):
        scored = _refine(page.text, clause.keys, start, end)
        if scored is not None and (best is None or scored.score > best.score):
            best = scored
    return best if best is not None and best.score >= threshold else None


def _alignments(page: _Page, needle: str, lo: int, hi: int, threshold: float) -> list[tuple[int, int]]:
    """The best character-level alignments of the clause, one per overlapping window."""
    size = max(WINDOW_CHARS, 4 * len(needle))
    step = size - 2 * len(needle)
    cutoff = max(0.0, 100 * threshold - 25)
    found = []
    for start in range(lo, max(lo + 1, hi - 2 * len(needle)), step):
        end = min(hi, start + size)
        hit = fuzz.partial_ratio_alignment(needle, page.folded[start:end], score_cutoff=cutoff)
        if hit is not None:
            found.append((hit.score, start + hit.dest_start, start + hit.dest_end))
    found.sort(key=lambda f: -f[0])
    return [(a, b) for _, a, b in found[:CANDIDATES]]


def _refine(text: str, clause_keys: list[str], start: int, end: int) -> _Scored | None:
    """Snap an alignment to whole words: among the spans scoring nearly the best, the one that
    keeps most of the clause's words ("will not, for one year, sell" must keep "will not")."""
    n = len(clause_keys)
    reach = min(max(4, n // 3), 8)
    words = split_words(text, *_word_aligned(text, start - 16 * reach, end + 16 * reach))
    starts = [w.start for w in words]
    first, last = max(0, bisect.bisect_right(starts, start) - 1), bisect.bisect_left(starts, end)
    shortest, longest = max(1, math.ceil(0.6 * n)), max(n + 2, math.ceil(1.6 * n))
    keys = [w.key for w in words]
    spans = []
    for i in range(max(0, first - reach), min(len(words), first + reach + 1)):
        for j in range(max(i + shortest, last - reach), min(len(words), last + reach, i + longest) + 1):
            score = Indel.normalized_similarity(clause_keys, keys[i:j])
            spans.append((score, round(score * (n + j - i) / 2), i, j))
    if not spans:
        return None
    best = max(score for score, *_ in spans)
    _, _, i, j = max(
        (s for s in spans if s[0] >= best - KEEP_WORDS_TOLERANCE),
        key=lambda s: (s[1], s[0], -abs(s[3] - s[2] - n), -s[2]),
    )
    return _Scored(best, words[i:j])


def _word_aligned(text: str, lo: int, hi: int) -> tuple[int, int]:
    """Widen a span so that it does not cut a word in two (within reason)."""
    lo, hi = max(0, lo), min(len(text), hi)
    floor, ceiling = max(0, lo - 100), min(len(text), hi + 100)
    while lo > floor and not is_separator(text[lo - 1]):
        lo -= 1
    while hi < ceiling and not is_separator(text[hi]):
        hi += 1
    return lo, hi


# --- a related passage: the clause narrowed or cut down beyond the rewording threshold -----------


def _find_related(
    page: _Page, clause: _Clause, location: int | None, language: str, stood: Collection[str]
) -> _Scored | None:
    """The sentence (or paragraph) that keeps most of the clause's content words, near where the
    clause was last found first; then the span of it that matches the clause best, word for word.
    A sentence in ``stood`` was on the page beside the clause: it cannot have replaced it."""
    content = _content(clause.keys, language)
    if not content:
        return None
    near = _near(page, clause, location)
    for units in (page.sentences, page.paragraphs):
        shares = _shares(page, units, content)
        candidates = [
            (share, i)
            for i, (share, kept) in shares.items()
            if share >= RELATED_SHARE
            and kept >= RELATED_MIN_WORDS
            and units[i][1] - units[i][0] <= RELATED_MAX_CHARS
        ]
        candidates = [c for c in candidates if _normalized_unit(page, units[c[1]]) not in stood]
        in_reach = [c for c in candidates if near is not None and near[0] <= units[c[1]][0] < near[1]]
        for group in (in_reach, candidates):
            if not group:
                continue
            a, b = units[max(group, key=lambda c: (c[0], -c[1]))[1]]
            words = _around_content(split_words(page.text, a, b), content)
            span = _best_span(clause.keys, words)
            if span is not None and span.score >= RELATED_SIMILARITY:
                return span
    return None


def _content(keys: Sequence[str], language: str) -> Counter[str]:
    """The words that say what a clause is about, lightly stemmed ("departments'" = "department")."""
    skip = FUNCTION_WORDS.get(language, FUNCTION_WORDS["en"])
    return Counter(_stem(k) for k in keys if k not in skip and not k.isdigit())


def _stem(key: str) -> str:
    key = key.removesuffix("'s").removesuffix("'")
    return key[:-1] if len(key) > 3 and key.endswith("s") and not key.endswith("ss") else key


def _shares(page: _Page, units: list[tuple[int, int]], content: Counter[str]) -> dict[int, tuple[float, int]]:
    """For each unit holding any of them, the share and the number of the clause's content words
    it holds.
    One regular expression over the whole page: a 300 KB page takes milliseconds."""
    quote = f"[{re.escape(SINGLE_QUOTES)}]"
    forms = "|".join(re.escape(stem).replace("'", quote) for stem in sorted(content, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{forms})(?:s|{quote}s?)?(?!\w)")
    starts = [a for a, _ in units]
    found: dict[int, Counter[str]] = {}
    for match in pattern.finditer(page.folded):
        unit = bisect.bisect_right(starts, match.start()) - 1
        if unit >= 0 and match.end() <= units[unit][1]:
            found.setdefault(unit, Counter())[_stem(word_key(match.group()))] += 1
    total = sum(content.values())
    kept = {
        unit: sum(min(count, content[key]) for key, count in counts.items()) for unit, counts in found.items()
    }
    return {unit: (count / total, count) for unit, count in kept.items()}


def _normalized_unit(page: _Page, unit: tuple[int, int]) -> str:
    return " ".join(page.folded[unit[0] : unit[1]].split())


def _spans(text: str, boundary: re.Pattern[str], capital: bool) -> list[tuple[int, int]]:
    """Split ``text`` at ``boundary`` matches; a full stop or colon ends a sentence only when a
    capital follows ("U.S. police" is one sentence)."""
    spans, start = [], 0
    for match in boundary.finditer(text):
        mark = match.group()[0]
        ends_line = "\n" in match.group()
        if capital and mark in ".:" and not ends_line and not text[match.end() : match.end() + 1].isupper():
            continue
        if match.start() > start:
            spans.append((start, match.start() + (0 if mark.isspace() else 1)))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


_SENTENCE_END = re.compile(r"[.!?;:]+[\s\"'’”)\]]*\s|\n")
_PARAGRAPH_END = re.compile(r"\n")


def _around_content(words: list[Word], content: Counter[str]) -> list[Word]:
    """A long paragraph is cut to the stretch from its first to its last content word of the clause."""
    if len(words) <= RELATED_MAX_WORDS:
        return words
    hits = [i for i, w in enumerate(words) if _stem(w.key) in content]
    return words[hits[0] : hits[-1] + 1][:RELATED_MAX_WORDS]


def _best_span(clause_keys: list[str], words: list[Word]) -> _Scored | None:
    """The span of ``words`` most similar to the clause; among near-equals, the one keeping most."""
    n, keys = len(clause_keys), [w.key for w in words]
    spans = []
    for i in range(len(keys)):
        for j in range(i + 1, min(len(keys), i + 2 * n) + 1):
            score = Indel.normalized_similarity(clause_keys, keys[i:j])
            spans.append((score, round(score * (n + j - i) / 2), i, j))
    if not spans:
        return None
    best = max(score for score, *_ in spans)
    _, _, i, j = max(
        (s for s in spans if s[0] >= best - KEEP_WORDS_TOLERANCE),
        key=lambda s: (s[1], s[0], -abs(s[3] - s[2] - n), -s[2]),
    )
    return _Scored(best, words[i:j])


# --- building the result -------------------------------------------------------------------------


def _exact(clause: _Clause, text: str, start: int, end: int) -> ClauseMatch:
    return ClauseMatch(clause.text, Outcome.EXACT, 1.0, text[start:end], start, end, (), ())


def _reworded(
    clause: _Clause, text: str, scored: _Scored, language: str = "en", *, related: bool = False
) -> ClauseMatch:
    rules = rules_for(language)
    core = scored.words
    if [w.key for w in core] == clause.keys:
        return replace(_exact(clause, text, core[0].start, core[-1].end), language=language)
    words = _with_qualifiers(text, clause.words, _with_replaced_edges(text, clause.keys, core), rules)
    words = _snapped(text, words)
    signals = signals_between(rules, clause.words, words)
    passage = text[words[0].start : words[-1].end]
    return ClauseMatch(
        clause=clause.text,
        outcome=Outcome.WEAKENED if signals else Outcome.REWORDED,
        similarity=scored.score,
        passage=passage,
        start=words[0].start,
        end=words[-1].end,
        signals=signals,
        related=related,
        language=language,
        **_changes(clause.text, clause.words, passage, split_words(passage), None),
    )


def _snapped(text: str, words: list[Word]) -> list[Word]:
    """Grow a passage to the punctuation that opens and closes its phrase, when that is near:
    "... in the United States until there is a" ends "... until there is a national law in place"."""
    before = _words_before(text, words[0].start, SNAP_WORDS + 1, _ends_phrase)
    after = _words_after(text, words[-1].end, SNAP_WORDS + 1, _ends_phrase)
    return (before if len(before) <= SNAP_WORDS else []) + words + (after if len(after) <= SNAP_WORDS else [])


def _changes(
    clause: str,
    clause_words: list[Word],
    passage: str,
    passage_words: list[Word],
    intact_words: list[Word] | None,
) -> dict[str, Any]:
    """Which words changed, clause -> passage: as word ops and as marked spans of each text.

    A passage word is unchanged when it matches the clause, or when it stood in the same place of
    the sentence the clause was last found intact in (``intact_words``): only changes are marked.
    """
    stood = set()
    if intact_words:
        old = difflib.SequenceMatcher(
            None, [w.key for w in intact_words], [w.key for w in passage_words], autojunk=False
        )
        stood = {j for block in old.get_matching_blocks() for j in range(block.b, block.b + block.size)}
    matcher = difflib.SequenceMatcher(
        None, [w.key for w in clause_words], [w.key for w in passage_words], autojunk=False
    )
    ops: list[tuple[int, str]] = []
    removed: list[Word] = []
    added: list[Word] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _add_op(ops, 0, passage_words[j1:j2])
            continue
        if i2 > i1:
            _add_op(ops, -1, clause_words[i1:i2])
            removed += clause_words[i1:i2]
        for j in range(j1, j2):
            new = j not in stood
            _add_op(ops, 1 if new else 0, passage_words[j : j + 1])
            if new:
                added.append(passage_words[j])
    same_text = unicodedata.is_normalized("NFKC", clause)
    return {
        "word_ops": tuple(ops),
        "clause_marks": _marks(clause, removed) if same_text else (),
        "passage_marks": _marks(passage, added),
    }


def _add_op(ops: list[tuple[int, str]], op: int, words: Sequence[Word]) -> None:
    if not words:
        return
    if ops and ops[-1][0] == op:
        ops[-1] = (op, f"{ops[-1][1]} {join_words(words)}")
    else:
        ops.append((op, join_words(words)))


def _marks(text: str, words: Sequence[Word]) -> tuple[tuple[int, int], ...]:
    """Spans of ``text`` (whose offsets ``words`` carry) to mark, one per run of neighbouring words
    (only spaces or dashes between them: "one-year" is one mark; a comma stays outside marks)."""
    marks: list[tuple[int, int]] = []
    for word in sorted(words, key=lambda w: w.start):
        start, end = word.start, word.end
        if marks and all(char.isspace() or char in DASHES for char in text[marks[-1][1] : start]):
            marks[-1] = (marks[-1][0], end)
        else:
            marks.append((start, end))
    return tuple(marks)


def _with_replaced_edges(text: str, clause_keys: list[str], core: list[Word]) -> list[Word]:
    """Take in the page words that replaced the clause's first or last words ("a one-year" ->
    "an indefinite"): dropping them scores higher but would hide what changed."""
    matcher = difflib.SequenceMatcher(None, clause_keys, [w.key for w in core], autojunk=False)
    blocks = [block for block in matcher.get_matching_blocks() if block.size]
    if not blocks:
        return core
    first, last = blocks[0], blocks[-1]
    missing_before = first.a - first.b
    missing_after = (len(clause_keys) - last.a - last.size) - (len(core) - last.b - last.size)
    before = _words_before(text, core[0].start, missing_before, _ends_phrase) if missing_before > 0 else []
    after = _words_after(text, core[-1].end, missing_after, _ends_phrase) if missing_after > 0 else []
    return before + core + after


def _with_qualifiers(
    text: str, clause_words: list[Word], core: list[Word], rules: Sequence[WeakeningRule] = RULES
) -> list[Word]:
    """Take in a hedge or qualifier added just before or after the core, in the same sentence:
    "a moratorium ... technology until further notice" must not lose its last three words."""
    before = _words_before(text, core[0].start, EXTEND_BEFORE, _ends_sentence)
    after = _words_after(text, core[-1].end, EXTEND_AFTER, _ends_sentence)
    span = before + core + after
    lo, hi = len(before), len(before) + len(core)
    for flag in flags(rules, clause_words, span):
        if not flag.on_clause and flag.found.rule.extends_passage:
            lo, hi = min(lo, flag.found.first), max(hi, flag.found.last)
    return span[lo:hi]


_Breaks = Callable[[str, str], bool]


def _words_before(text: str, start: int, limit: int, breaks: _Breaks) -> list[Word]:
    """Up to ``limit`` words ending at ``start``, stopping where ``breaks`` says a phrase ends."""
    lo, _ = _word_aligned(text, start - 20 * limit, start)
    taken: list[Word] = []
    following_start, following_text = start, text[start : start + 1]
    for word in reversed(split_words(text, lo, start)):
        if len(taken) == limit or breaks(text[word.end : following_start], following_text):
            break
        taken.append(word)
        following_start, following_text = word.start, word.text
    return taken[::-1]


def _words_after(text: str, end: int, limit: int, breaks: _Breaks) -> list[Word]:
    """Up to ``limit`` words starting at ``end``, stopping where ``breaks`` says a phrase ends."""
    _, hi = _word_aligned(text, end, end + 20 * limit)
    taken: list[Word] = []
    previous_end = end
    for word in split_words(text, end, hi)[:limit]:
        if breaks(text[previous_end : word.start], word.text):
            break
        taken.append(word)
        previous_end = word.end
    return taken


def _ends_sentence(gap: str, following: str) -> bool:
    """A sentence or line ends in ``gap`` (a full stop only when a capital follows: "U.S. police")."""
    if "\n" in gap or any(mark in gap for mark in "!?;"):
        return True
    return any(mark in gap for mark in ".:") and following[:1].isupper()


def _ends_phrase(gap: str, following: str) -> bool:
    """Any punctuation ends a phrase (a hyphen does not: it is inside "one-year")."""
    return "\n" in gap or any(char in EDGE for char in gap)


def _describe(ops: Sequence[tuple[int, str]]) -> str:
    parts, index = [], 0
    while index < len(ops):
        op, words = ops[index]
        if op == -1 and index + 1 < len(ops) and ops[index + 1][0] == 1:
            parts.append(f'"{words}" became "{ops[index + 1][1]}"')
            index += 1
        elif op == -1:
            parts.append(f'"{words}" removed')
        elif op == 1:
            parts.append(f'"{words}" added')
        index += 1
    return "; ".join(parts) or "no word changed"


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
