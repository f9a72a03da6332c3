"""Find a pledge clause in a page's text, exactly or approximately, and explain how it was weakened.

A clause is *exact* when its words appear in order on the page once case, quotes, dashes, hyphens,
whitespace and punctuation at word edges are set aside, anywhere on the page; *reworded* when the
best passage (near its last known location first, then anywhere) is similar enough word for word;
*weakened* when that rewording adds a hedge, drops a negation, limits time or narrows scope (the rules
are data, in ``monitor.weakening``); else *not found*.

Everything here is a pure function of its arguments. Offsets refer to the text as given, or to its
NFKC form when it was not NFKC already (``extract.normalize_text`` output always is).
"""

from __future__ import annotations

import bisect
import difflib
import functools
import hashlib
import itertools
import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NamedTuple

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from monitor.weakening import NUMBER_WORDS, RULES, UNIT_DAYS, WeakeningRule

DEFAULT_THRESHOLD = 0.75
NEAR_CHARS = 10_000  # searched on each side of the last known location before the whole text
WINDOW_CHARS = 20_000  # rapidfuzz aligns well and fast in windows of this size
CANDIDATES = 3  # best character-level alignments that are refined word by word
KEEP_WORDS_TOLERANCE = 0.05  # a span scoring this much under the best may win by keeping more words
EXTEND_AFTER = 10  # a weakening qualifier this many words after the best match, in the same
EXTEND_BEFORE = 6  # sentence, or this many before it, joins the passage

_SINGLE_QUOTES = "'‘’‚‛′`´"
_DOUBLE_QUOTES = '"“”„‟″'
_DASHES = "-‐‑‒–—―−"
_EDGE = string.punctuation.replace("-", "") + _SINGLE_QUOTES + _DOUBLE_QUOTES + "«»‹›…•·¡¿§¶†‡"
_STRAIGHT = str.maketrans({**dict.fromkeys(_SINGLE_QUOTES, "'"), **dict.fromkeys(_DOUBLE_QUOTES, '"')})
_WORD = re.compile(rf"[^\s{re.escape(_DASHES)}]+")
_GAP = rf"[{re.escape(_EDGE)}\s{re.escape(_DASHES)}]"
_SEPARATOR = rf"{_GAP}*[\s{re.escape(_DASHES)}]{_GAP}*"


class Outcome(StrEnum):
    EXACT = "exact"
    REWORDED = "reworded"
    WEAKENED = "weakened"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Signal:
    """One reason a rewording weakens a pledge, worded for an alert."""

    kind: str  # hedge_added | negation_dropped | time_limited | scope_narrowed
    words: str
    explanation: str


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


class _Word(NamedTuple):
    start: int
    end: int
    text: str  # as on the page, without punctuation at its edges
    key: str  # what is compared: case-folded, straight quotes


@dataclass(frozen=True)
class _Page:
    text: str
    folded: str  # lower case and as long as ``text``, so offsets carry over


@dataclass(frozen=True)
class _Clause:
    text: str
    words: list[_Word]
    keys: list[str]
    needle: str
    pattern: re.Pattern[str]


class _Scored(NamedTuple):
    score: float
    words: list[_Word]


class _Found(NamedTuple):
    rule: WeakeningRule
    first: int  # word indices, end exclusive
    last: int
    key: str
    text: str
    days: float


class _Flag(NamedTuple):
    found: _Found
    on_clause: bool  # removed words are the clause's, added ones the passage's
    before: _Found | None = None


def normalize_for_match(text: str) -> str:
    """The words that decide a match: NFKC, case-folded, straight quotes, hyphens and dashes
    split words, punctuation at word edges dropped, one space between words."""
    return " ".join(word.key for word in _words(_nfkc(text)))


def clause_key(clause: str) -> str:
    """Clauses are identified by their normalized wording, so editing one starts it afresh."""
    return hashlib.sha256(normalize_for_match(clause).encode()).hexdigest()[:16]


def find_clause(
    clause: str, text: str, *, last_location: int | None = None, threshold: float = DEFAULT_THRESHOLD
) -> ClauseMatch:
    """Locate one clause; exact anywhere beats approximate near ``last_location``."""
    return _find(_prepare(clause), _page(text), last_location, threshold)


def assess(
    clauses: Sequence[str],
    text: str,
    *,
    last_locations: Mapping[str, int] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> tuple[ClauseMatch, ...]:
    """Locate every clause of a source in one text, preparing the text once."""
    page = _page(text)
    locations = last_locations or {}
    return tuple(_find(_prepare(c), page, locations.get(c), threshold) for c in clauses)


def weakening_signals(
    clause: str, passage: str, *, rules: Sequence[WeakeningRule] = RULES
) -> tuple[Signal, ...]:
    """Why ``passage`` promises less than ``clause``, one Signal per weakening found."""
    return _signals(rules, _words(_nfkc(clause)), _words(_nfkc(passage)))


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
    if match.start is None or match.end is None:
        return match
    sentence = sentence_around(text, match.start, match.end)
    match = replace(match, sentence=sentence)
    if intact is None:
        return match
    before = f" {normalize_for_match(intact)} "
    if match.outcome is Outcome.EXACT:
        signals = tuple(
            s
            for s in weakening_signals(intact, sentence)
            if f" {normalize_for_match(s.words)} " not in before
        )
        if not signals:
            return match
        ops = _word_ops(_words(_nfkc(intact)), _words(_nfkc(sentence)))
        return replace(match, outcome=Outcome.WEAKENED, signals=signals, passage=sentence, word_ops=ops)
    kept = tuple(
        s
        for s in match.signals
        if s.kind == "negation_dropped" or f" {normalize_for_match(s.words)} " not in before
    )
    if kept == match.signals:
        return match
    return replace(match, signals=kept, outcome=Outcome.WEAKENED if kept else Outcome.REWORDED)


def explain(match: ClauseMatch) -> str:
    """One line for an alert or a log: the outcome, the reasons and the changed words."""
    if match.outcome is Outcome.EXACT:
        return f'Found as pledged: "{_shorten(match.clause)}"'
    if match.outcome is Outcome.NOT_FOUND:
        return f'Not found: "{_shorten(match.clause)}"'
    head = f"{match.outcome.value.capitalize()} ({match.similarity:.0%} similar)"
    changes = _describe(match.word_ops)
    if match.signals:
        reasons = "; ".join(signal.explanation for signal in match.signals)
        return f"{head}: {reasons}. Words: {changes}"
    return f"{head}: {changes}"


# --- preparing texts -----------------------------------------------------------------------------


def _nfkc(text: str) -> str:
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def _lower(text: str) -> str:
    """Lower case without changing the length, so folded offsets are page offsets."""
    folded = text.replace("\u0130", "i").lower()
    if len(folded) == len(text):
        return folded
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _page(text: str) -> _Page:
    text = _nfkc(text)
    return _Page(text, _lower(text))


def _prepare(clause: str) -> _Clause:
    words = _words(_nfkc(clause))
    if not words:
        raise ValueError(f"clause {clause!r} has no words to look for")
    keys = [w.key for w in words]
    pattern = _SEPARATOR.join(_literal(_lower(w.text)) for w in words)
    return _Clause(clause, words, keys, " ".join(keys), _compile(pattern))


def _words(text: str, lo: int = 0, hi: int | None = None) -> list[_Word]:
    words = []
    for match in _WORD.finditer(text, lo, len(text) if hi is None else hi):
        raw = match.group()
        core = raw.strip(_EDGE)
        if core:
            start = match.start() + len(raw) - len(raw.lstrip(_EDGE))
            words.append(_Word(start, start + len(core), core, core.casefold().translate(_STRAIGHT)))
    return words


def _literal(word: str) -> str:
    """A regex for one word that accepts any kind of quote where the clause has one."""
    parts = []
    for char in word:
        if char in _SINGLE_QUOTES:
            parts.append(f"[{re.escape(_SINGLE_QUOTES)}]")
        elif char in _DOUBLE_QUOTES:
            parts.append(f"[{re.escape(_DOUBLE_QUOTES)}]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is_separator(char: str) -> bool:
    return char.isspace() or char in _EDGE or char in _DASHES


# --- searching -----------------------------------------------------------------------------------


def _find(clause: _Clause, page: _Page, last_location: int | None, threshold: float) -> ClauseMatch:
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    everywhere = (0, len(page.text))
    near = _near(page, clause, last_location)
    span = _find_exact(page, clause, *near) if near else None
    span = span or _find_exact(page, clause, *everywhere)
    if span:
        return _exact(clause, page.text, *span)
    scored = _find_similar(page, clause, *near, threshold) if near else None
    scored = scored or _find_similar(page, clause, *everywhere, threshold)
    if scored is None:
        return ClauseMatch(clause.text, Outcome.NOT_FOUND, 0.0, None, None, None, (), ())
    return _reworded(clause, page.text, scored)


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
        if (start == 0 or _is_separator(folded[start - 1])) and (
            end == len(folded) or _is_separator(folded[end])
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
    words = _words(text, *_word_aligned(text, start - 16 * reach, end + 16 * reach))
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
    while lo > floor and not _is_separator(text[lo - 1]):
        lo -= 1
    while hi < ceiling and not _is_separator(text[hi]):
        hi += 1
    return lo, hi


# --- building the result -------------------------------------------------------------------------


def _exact(clause: _Clause, text: str, start: int, end: int) -> ClauseMatch:
    return ClauseMatch(clause.text, Outcome.EXACT, 1.0, text[start:end], start, end, (), ())


def _reworded(clause: _Clause, text: str, scored: _Scored) -> ClauseMatch:
    core = scored.words
    if [w.key for w in core] == clause.keys:
        return _exact(clause, text, core[0].start, core[-1].end)
    words = _with_qualifiers(text, clause.words, _with_replaced_edges(text, clause.keys, core))
    signals = _signals(RULES, clause.words, words)
    return ClauseMatch(
        clause=clause.text,
        outcome=Outcome.WEAKENED if signals else Outcome.REWORDED,
        similarity=scored.score,
        passage=text[words[0].start : words[-1].end],
        start=words[0].start,
        end=words[-1].end,
        word_ops=_word_ops(clause.words, words),
        signals=signals,
    )


def _with_replaced_edges(text: str, clause_keys: list[str], core: list[_Word]) -> list[_Word]:
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


def _with_qualifiers(text: str, clause_words: list[_Word], core: list[_Word]) -> list[_Word]:
    """Take in a hedge or qualifier added just before or after the core, in the same sentence:
    "a moratorium ... technology until further notice" must not lose its last three words."""
    before = _words_before(text, core[0].start, EXTEND_BEFORE, _ends_sentence)
    after = _words_after(text, core[-1].end, EXTEND_AFTER, _ends_sentence)
    span = before + core + after
    lo, hi = len(before), len(before) + len(core)
    for flag in _flags(RULES, clause_words, span):
        if not flag.on_clause and flag.found.rule.extends_passage:
            lo, hi = min(lo, flag.found.first), max(hi, flag.found.last)
    return span[lo:hi]


_Breaks = Callable[[str, str], bool]


def _words_before(text: str, start: int, limit: int, breaks: _Breaks) -> list[_Word]:
    """Up to ``limit`` words ending at ``start``, stopping where ``breaks`` says a phrase ends."""
    lo, _ = _word_aligned(text, start - 20 * limit, start)
    taken: list[_Word] = []
    following_start, following_text = start, text[start : start + 1]
    for word in reversed(_words(text, lo, start)):
        if len(taken) == limit or breaks(text[word.end : following_start], following_text):
            break
        taken.append(word)
        following_start, following_text = word.start, word.text
    return taken[::-1]


def _words_after(text: str, end: int, limit: int, breaks: _Breaks) -> list[_Word]:
    """Up to ``limit`` words starting at ``end``, stopping where ``breaks`` says a phrase ends."""
    _, hi = _word_aligned(text, end, end + 20 * limit)
    taken: list[_Word] = []
    previous_end = end
    for word in _words(text, end, hi)[:limit]:
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
    return "\n" in gap or any(char in _EDGE for char in gap)


def _word_ops(clause_words: list[_Word], passage_words: list[_Word]) -> tuple[tuple[int, str], ...]:
    """Clause -> passage, word by word, as (op, words) with diff-match-patch's -1/0/1."""
    matcher = difflib.SequenceMatcher(
        None, [w.key for w in clause_words], [w.key for w in passage_words], autojunk=False
    )
    ops: list[tuple[int, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append((0, _join(passage_words[j1:j2])))
        if tag in ("delete", "replace"):
            ops.append((-1, _join(clause_words[i1:i2])))
        if tag in ("insert", "replace"):
            ops.append((1, _join(passage_words[j1:j2])))
    return tuple(ops)


def _join(words: Sequence[_Word]) -> str:
    return " ".join(w.text for w in words)


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


# --- weakening signals ---------------------------------------------------------------------------


def _signals(
    rules: Sequence[WeakeningRule], clause_words: list[_Word], passage_words: list[_Word]
) -> tuple[Signal, ...]:
    signals = []
    for flag in _flags(rules, clause_words, passage_words):
        found, rule = flag.found, flag.found.rule
        words = _join((clause_words if flag.on_clause else passage_words)[found.first : found.last])
        before = _join(clause_words[flag.before.first : flag.before.last]) if flag.before else ""
        signals.append(Signal(rule.kind, words, rule.template.format(words=words, before=before)))
    return tuple(signals)


def _flags(
    rules: Sequence[WeakeningRule], clause_words: list[_Word], passage_words: list[_Word]
) -> list[_Flag]:
    """Every rule that fires, in rule order; a match overlapping an earlier one of its kind is dropped."""
    clause_keys, passage_keys = [w.key for w in clause_words], [w.key for w in passage_words]
    flags: list[_Flag] = []
    taken: dict[tuple[str, bool], list[tuple[int, int]]] = {}
    counted_kinds: set[str] = set()
    for rule in rules:
        if rule.compare == "removed":
            if rule.kind in counted_kinds:
                continue
            counted_kinds.add(rule.kind)
            group = [r for r in rules if r.kind == rule.kind and r.compare == "removed"]
            candidates = _removed(group, clause_keys, passage_keys)
        else:
            compare = _COMPARES[rule.compare]
            candidates = compare(_matches(rule, clause_keys), _matches(rule, passage_keys))
        for flag in candidates:
            ranges = taken.setdefault((rule.kind, flag.on_clause), [])
            if not any(flag.found.first < b and a < flag.found.last for a, b in ranges):
                ranges.append((flag.found.first, flag.found.last))
                flags.append(flag)
    return flags


@functools.lru_cache(maxsize=256)
def _rule_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![^ ])(?:{pattern})(?![^ ])")


def _matches(rule: WeakeningRule, keys: Sequence[str]) -> list[_Found]:
    joined = " ".join(keys)
    starts = list(itertools.accumulate((len(k) + 1 for k in keys[:-1]), initial=0))
    found = []
    for match in _rule_pattern(rule.pattern).finditer(joined):
        if match.end() > match.start():
            first = bisect.bisect_right(starts, match.start()) - 1
            last = bisect.bisect_right(starts, match.end() - 1)
            key = match.groupdict().get("key") or match.group()
            days = _days(match) if rule.compare == "shorter" else 0.0
            found.append(_Found(rule, first, last, key, match.group(), days))
    return found


def _days(match: re.Match[str]) -> float:
    """How long a duration lasts; open-ended ones ("indefinitely", "until further notice") never end."""
    groups = match.groupdict()
    if groups.get("open"):
        return math.inf
    count = groups.get("n") or groups.get("a") or "one"
    number = int(count) if count.isdigit() else NUMBER_WORDS.get(count, 1)
    return float(number * UNIT_DAYS.get(groups.get("unit") or "day", 1))


def _added(in_clause: list[_Found], in_passage: list[_Found]) -> list[_Flag]:
    """Passage matches beyond what the clause had of the same key; identical wording pairs first."""
    texts, keys = Counter(f.text for f in in_clause), Counter(f.key for f in in_clause)
    unpaired = []
    for found in in_passage:
        if texts[found.text] and keys[found.key]:
            texts[found.text] -= 1
            keys[found.key] -= 1
        else:
            unpaired.append(found)
    flags = []
    for found in unpaired:
        if keys[found.key]:
            keys[found.key] -= 1
        else:
            flags.append(_Flag(found, on_clause=False))
    return flags


def _introduced(in_clause: list[_Found], in_passage: list[_Found]) -> list[_Flag]:
    return [] if in_clause else [_Flag(found, on_clause=False) for found in in_passage]


def _shorter(in_clause: list[_Found], in_passage: list[_Found]) -> list[_Flag]:
    if not in_clause or not in_passage:
        return []
    before = min(in_clause, key=lambda f: f.days)
    now = min(in_passage, key=lambda f: f.days)
    return [_Flag(now, on_clause=False, before=before)] if now.days < before.days else []


def _removed(group: Sequence[WeakeningRule], clause_keys: list[str], passage_keys: list[str]) -> list[_Flag]:
    """Clause matches the passage lost, counted over all rules of one kind ("not" -> "n't" is kept)."""
    in_clause = _non_overlapping([f for rule in group for f in _matches(rule, clause_keys)])
    in_passage = _non_overlapping([f for rule in group for f in _matches(rule, passage_keys)])
    missing = len(in_clause) - len(in_passage)
    if missing <= 0:
        return []
    kept = Counter(f.text for f in in_passage)
    lost = []
    for found in in_clause:
        if kept[found.text]:
            kept[found.text] -= 1
        else:
            lost.append(_Flag(found, on_clause=True))
    return lost[:missing]


def _non_overlapping(found: list[_Found]) -> list[_Found]:
    kept: list[_Found] = []
    for candidate in found:
        if not any(candidate.first < f.last and f.first < candidate.last for f in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda f: f.first)


_COMPARES: dict[str, Callable[[list[_Found], list[_Found]], list[_Flag]]] = {
    "added": _added,
    "introduced": _introduced,
    "shorter": _shorter,
}
