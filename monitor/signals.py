"""Weakening signals: why a reworded passage promises less than the clause as pledged.

The rules are data in ``monitor.weakening``; this module fires them over the words of a clause and
of its passage (``monitor.text``) and says, per signal, which words changed and what that means.
Pure functions.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from monitor.text import Word, join_words, nfkc, split_words
from monitor.weakening import NUMBER_WORDS, UNIT_DAYS, WeakeningRule, rules_for


@dataclass(frozen=True)
class Signal:
    """One reason a rewording weakens a pledge, worded for an alert."""

    kind: str  # hedge_added | negation_dropped | time_limited | scope_narrowed
    words: str
    explanation: str


class Found(NamedTuple):
    """Where one rule matched in a list of words."""

    rule: WeakeningRule
    first: int  # word indices, end exclusive
    last: int
    key: str
    text: str
    days: float


class Flag(NamedTuple):
    """A rule that fired: what it found, on which side (and, for ``shorter``, the clause's duration)."""

    found: Found
    on_clause: bool  # removed words are the clause's, added ones the passage's
    before: Found | None = None


def weakening_signals(
    clause: str,
    passage: str,
    *,
    rules: Sequence[WeakeningRule] | None = None,
    language: str | None = None,
) -> tuple[Signal, ...]:
    """Why ``passage`` promises less than ``clause``, one Signal per weakening found."""
    chosen = rules if rules is not None else rules_for(language)
    return signals_between(chosen, split_words(nfkc(clause)), split_words(nfkc(passage)))


def signals_between(
    rules: Sequence[WeakeningRule], clause_words: list[Word], passage_words: list[Word]
) -> tuple[Signal, ...]:
    """The signals of words already split (matching splits them once for both passage and signals)."""
    signals = []
    for flag in flags(rules, clause_words, passage_words):
        found, rule = flag.found, flag.found.rule
        words = join_words((clause_words if flag.on_clause else passage_words)[found.first : found.last])
        before = join_words(clause_words[flag.before.first : flag.before.last]) if flag.before else ""
        signals.append(Signal(rule.kind, words, rule.template.format(words=words, before=before)))
    return tuple(signals)


def flags(rules: Sequence[WeakeningRule], clause_words: list[Word], passage_words: list[Word]) -> list[Flag]:
    """Every rule that fires, in rule order; a match overlapping an earlier one of its kind is dropped."""
    clause_keys, passage_keys = _keyed(clause_words), _keyed(passage_words)
    fired: list[Flag] = []
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
                fired.append(flag)
    return fired


@functools.lru_cache(maxsize=256)
def _rule_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![^ ])(?:{pattern})(?![^ ])")


class _Keys(NamedTuple):
    """Words as the rules read them: joined by single spaces, with where each word starts."""

    joined: str
    starts: list[int]


def _keyed(words: Sequence[Word]) -> _Keys:
    keys = [w.key for w in words]
    return _Keys(" ".join(keys), list(itertools.accumulate((len(k) + 1 for k in keys[:-1]), initial=0)))


def _matches(rule: WeakeningRule, keys: _Keys) -> list[Found]:
    starts = keys.starts
    found = []
    for match in _rule_pattern(rule.pattern).finditer(keys.joined):
        if match.end() > match.start():
            first = bisect.bisect_right(starts, match.start()) - 1
            last = bisect.bisect_right(starts, match.end() - 1)
            key = match.groupdict().get("key") or match.group()
            days = _days(match) if rule.compare == "shorter" else 0.0
            found.append(Found(rule, first, last, key, match.group(), days))
    return found


def _days(match: re.Match[str]) -> float:
    """How long a duration lasts; open-ended ones ("indefinitely", "until further notice") never end."""
    groups = match.groupdict()
    if groups.get("open"):
        return math.inf
    count = groups.get("n") or groups.get("a") or "one"
    number = int(count) if count.isdigit() else NUMBER_WORDS.get(count, 1)
    return float(number * UNIT_DAYS.get(groups.get("unit") or "day", 1))


def _added(in_clause: list[Found], in_passage: list[Found]) -> list[Flag]:
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
            flags.append(Flag(found, on_clause=False))
    return flags


def _introduced(in_clause: list[Found], in_passage: list[Found]) -> list[Flag]:
    return [] if in_clause else [Flag(found, on_clause=False) for found in in_passage]


def _shorter(in_clause: list[Found], in_passage: list[Found]) -> list[Flag]:
    if not in_clause or not in_passage:
        return []
    before = min(in_clause, key=lambda f: f.days)
    now = min(in_passage, key=lambda f: f.days)
    return [Flag(now, on_clause=False, before=before)] if now.days < before.days else []


def _removed(group: Sequence[WeakeningRule], clause_keys: _Keys, passage_keys: _Keys) -> list[Flag]:
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
            lost.append(Flag(found, on_clause=True))
    return lost[:missing]


def _non_overlapping(found: list[Found]) -> list[Found]:
    kept: list[Found] = []
    for candidate in found:
        if not any(candidate.first < f.last and f.first < candidate.last for f in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda f: f.first)


_COMPARES: dict[str, Callable[[list[Found], list[Found]], list[Flag]]] = {
    "added": _added,
    "introduced": _introduced,
    "shorter": _shorter,
}
