"""Word-level differences between two extracted texts: the only caller of diff-match-patch.

A Change must say exactly which words changed ("will not sell" -> "will sell" is one removed
word, never a split inside a word), stay exact on big pages (no time limit that silently
coarsens the result), and store compactly as a delta against the previous text.
"""

from __future__ import annotations

import difflib
import html
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from diff_match_patch import diff_match_patch
from rapidfuzz import fuzz

from monitor.errors import IntegrityError

DELETE, EQUAL, INSERT = -1, 0, 1
Op = tuple[int, str]

# Words keep inner apostrophes ("don't"); whitespace runs and single punctuation marks are
# tokens of their own, so an edit never splits a word and "non-exclusive" can lose "non-".
_TOKEN = re.compile(r"\w+(?:['\u2019]\w+)*|\n|[^\S\n]+|[^\w\s]", re.UNICODE)
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
_WORK_LIMIT = 10_000_000  # see _work: roughly 0.1-0.4 s of diff_main
_ALIGN_WINDOW = 20  # new paragraphs considered as the next one's reworded version
_SIMILAR = 50.0  # rapidfuzz ratio above which two paragraphs count as one reworded paragraph
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keeps \t and \n


@dataclass(frozen=True)
class TextDiff:
    """The ops diff-match-patch would give, at word granularity, with word counts."""

    ops: tuple[Op, ...]
    added_words: int
    removed_words: int

    @property
    def changed(self) -> bool:
        return any(op != EQUAL for op, _ in self.ops)

    def added(self) -> list[str]:
        """The inserted fragments, stripped, empty ones left out."""
        return [text.strip() for op, text in self.ops if op == INSERT and text.strip()]

    def removed(self) -> list[str]:
        """The deleted fragments, stripped, empty ones left out."""
        return [text.strip() for op, text in self.ops if op == DELETE and text.strip()]


def _dmp() -> diff_match_patch:
    """A differ without a time limit: the default 1 s quietly coarsens diffs of big pages."""
    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0
    return dmp


def _from_ops(ops: Sequence[Op]) -> TextDiff:
    ops = tuple(ops)
    added = sum(len(_WORD.findall(text)) for op, text in ops if op == INSERT)
    removed = sum(len(_WORD.findall(text)) for op, text in ops if op == DELETE)
    return TextDiff(ops=ops, added_words=added, removed_words=removed)


def compute(old: str, new: str) -> TextDiff:
    """Diff lines first (fast on big pages), then refine each changed run of lines to words."""
    dmp = _dmp()
    ops: list[Op] = []
    deleted: list[str] = []
    inserted: list[str] = []
    for op, text in _line_diff(dmp, old, new):
        if op == EQUAL:
            ops.extend(_refine(dmp, "".join(deleted), "".join(inserted)))
            deleted.clear()
            inserted.clear()
            ops.append((EQUAL, text))
        else:
            (deleted if op == DELETE else inserted).append(text)
    ops.extend(_refine(dmp, "".join(deleted), "".join(inserted)))
    return _from_ops(_fold_short_equalities(ops))


def _work(old: Sequence[str], new: Sequence[str]) -> int:
    """A deterministic cost estimate for Myers: length x a lower bound on the edit count.

    Pure-Python Myers is O(length x edits); two unrelated 20 KB texts take seconds at word level.
    Above the limit we answer at a coarser level instead of stalling a check.
    """
    common = sum((Counter(old) & Counter(new)).values())
    return (len(old) + len(new)) * (len(old) + len(new) - 2 * common)


def _line_diff(dmp: diff_match_patch, old: str, new: str) -> list[Op]:
    old_chars, new_chars, lines = dmp.diff_linesToChars(old, new)
    prefix = dmp.diff_commonPrefix(old_chars, new_chars)
    suffix = dmp.diff_commonSuffix(old_chars[prefix:], new_chars[prefix:])
    old_middle = old_chars[prefix : len(old_chars) - suffix]
    new_middle = new_chars[prefix : len(new_chars) - suffix]
    if _work(old_middle, new_middle) <= _WORK_LIMIT:
        line_ops = dmp.diff_main(old_chars, new_chars, False)
    else:
        line_ops = [(EQUAL, old_chars[:prefix]), (DELETE, old_middle), (INSERT, new_middle)]
        line_ops.append((EQUAL, old_chars[len(old_chars) - suffix :]))
    dmp.diff_charsToLines(line_ops, lines)
    return [(op, text) for op, text in line_ops if text]


def _refine(dmp: diff_match_patch, old: str, new: str) -> list[Op]:
    """Word-level ops for one run of changed lines, paragraph by paragraph when it is big."""
    if not old or not new:
        return [(op, text) for op, text in ((DELETE, old), (INSERT, new)) if text]
    old_tokens, new_tokens = _TOKEN.findall(old), _TOKEN.findall(new)
    if _work(old_tokens, new_tokens) <= _WORK_LIMIT:
        return _word_diff(dmp, old_tokens, new_tokens) or [(DELETE, old), (INSERT, new)]
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    if len(old_lines) == 1 and len(new_lines) == 1:
        return [(DELETE, old), (INSERT, new)]
    ops: list[Op] = []
    for i, j in _align(old_lines, new_lines):
        ops.extend(_refine(dmp, old_lines[i] if i is not None else "", new_lines[j] if j is not None else ""))
    return ops


def _align(old_lines: Sequence[str], new_lines: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """Pair each reworded paragraph with its new version, in order; the rest stay unpaired.

    Greedy within a window of the next new paragraphs: linear, and right for the usual
    rewrite (paragraphs edited in place, a few added or dropped).
    """
    pairs: list[tuple[int | None, int | None]] = []
    j = 0
    for i, line in enumerate(old_lines):
        match, best = None, 0.0
        for candidate in range(j, min(j + _ALIGN_WINDOW, len(new_lines))):
            score = fuzz.ratio(line, new_lines[candidate], score_cutoff=max(best, _SIMILAR))
            if score > best:
                match, best = candidate, score
        if match is None:
            pairs.append((i, None))
            continue
        pairs.extend((None, skipped) for skipped in range(j, match))
        pairs.append((i, match))
        j = match + 1
    pairs.extend((None, rest) for rest in range(j, len(new_lines)))
    return pairs


def _word_diff(dmp: diff_match_patch, old_tokens: Sequence[str], new_tokens: Sequence[str]) -> list[Op]:
    """Tokens become characters, as lines do in diff_linesToChars; [] if there are too many."""
    vocabulary: dict[str, str] = {}
    encoded = []
    for tokens in (old_tokens, new_tokens):
        chars = []
        for token in tokens:
            char = vocabulary.get(token)
            if char is None:
                char = _token_char(len(vocabulary))
                if char is None:
                    return []
                vocabulary[token] = char
            chars.append(char)
        encoded.append("".join(chars))
    token_ops = dmp.diff_main(encoded[0], encoded[1], False)
    by_char = {char: token for token, char in vocabulary.items()}
    return [(op, "".join(by_char[c] for c in text)) for op, text in token_ops]


def _token_char(index: int) -> str | None:
    """The index-th usable code point, skipping surrogates (they cannot be encoded)."""
    code = index + 1 if index + 1 < 0xD800 else index + 1 + 0x800
    return chr(code) if code <= 0x10FFFF else None


def _fold_short_equalities(ops: Sequence[Op]) -> list[Op]:
    """diff_cleanupSemantic's rule, counted in characters, applied between tokens only.

    An equality no longer than the edits on both sides of it is folded into them, so a rewrite
    reads as one replacement rather than confetti. dmp's own cleanup would also shift edits and
    factor out common prefixes, which cuts words ("catalog" -> "catalog{+ue+}"), so it is not used.
    """
    merged = _merge(ops)
    while True:
        folded: list[Op] = []
        for k, (op, text) in enumerate(merged):
            before, after = _edit_size(merged, k - 1, -1), _edit_size(merged, k + 1, 1)
            if op == EQUAL and 0 < len(text) <= min(before, after):
                folded.extend([(DELETE, text), (INSERT, text)])
            else:
                folded.append((op, text))
        if len(folded) == len(merged):
            return merged
        merged = _merge(folded)


def _edit_size(ops: Sequence[Op], start: int, step: int) -> int:
    """The larger side (deleted or inserted characters) of the edits next to an equality."""
    size = {DELETE: 0, INSERT: 0}
    while 0 <= start < len(ops) and ops[start][0] != EQUAL:
        size[ops[start][0]] += len(ops[start][1])
        start += step
    return max(size.values())


def _merge(ops: Sequence[Op]) -> list[Op]:
    """Join neighbouring ops: each run of edits becomes one delete then one insert."""
    merged: list[Op] = []
    deleted: list[str] = []
    inserted: list[str] = []
    for op, text in [*ops, (EQUAL, "")]:
        if op == DELETE:
            deleted.append(text)
        elif op == INSERT:
            inserted.append(text)
        else:
            edits = [(kind, "".join(parts)) for kind, parts in ((DELETE, deleted), (INSERT, inserted))]
            merged.extend(edit for edit in edits if edit[1])
            deleted, inserted = [], []
            if merged and merged[-1][0] == EQUAL:
                merged[-1] = (EQUAL, merged[-1][1] + text)
            elif text:
                merged.append((EQUAL, text))
    return merged


def new_offset(diff: TextDiff, old_offset: int) -> int:
    """Where an offset of the old text is in the new one: a deleted stretch maps to where it was cut."""
    old_at = new_at = 0
    for op, text in diff.ops:
        if op == INSERT:
            new_at += len(text)
            continue
        if old_offset < old_at + len(text):
            return new_at + (old_offset - old_at if op == EQUAL else 0)
        old_at += len(text)
        if op == EQUAL:
            new_at += len(text)
    return new_at


def to_delta(diff: TextDiff) -> str:
    """Compact storage: lengths for kept and deleted text, only inserted text spelled out."""
    return str(_dmp().diff_toDelta(list(diff.ops)))


def from_delta(old: str, delta: str) -> TextDiff:
    """Rebuild a stored Change from the previous text and its delta."""
    try:
        ops = _dmp().diff_fromDelta(old, delta)
    except ValueError as exc:  # includes UnicodeDecodeError from a delta cut mid-character
        raise IntegrityError(f"stored diff delta does not fit its previous text: {exc}") from exc
    return _from_ops([(int(op), str(text)) for op, text in ops])


def apply(old: str, delta: str) -> str:
    """The new text, from the previous text and a stored delta."""
    return "".join(text for op, text in from_delta(old, delta).ops if op != DELETE)


# --- rendering -----------------------------------------------------------------------------------

Segment = tuple[int, str]


def _merged_lines(diff: TextDiff) -> list[list[Segment]]:
    """One inline line per line break in any op, each a list of (op, text) segments."""
    lines: list[list[Segment]] = [[]]
    for op, text in diff.ops:
        pieces = text.split("\n")
        for i, piece in enumerate(pieces):
            if i:
                lines.append([])
            if piece or op != EQUAL:
                lines[-1].append((op, piece))
    return lines


def _visible(lines: list[list[Segment]], context: int | None) -> Iterator[int | None]:
    """Indexes of the lines to show (changed ones and their context); None marks a gap."""
    if context is None:
        yield from range(len(lines))
        return
    changed = [i for i, line in enumerate(lines) if any(op != EQUAL for op, _ in line)]
    shown: set[int] = set()
    for i in changed:
        shown.update(range(max(i - context, 0), min(i + context + 1, len(lines))))
    previous = None
    for i in sorted(shown):
        if previous is not None and i != previous + 1:
            yield None
        yield i
        previous = i


def _safe(text: str) -> str:
    """Page text is untrusted: no control characters (ANSI escapes) reach a terminal."""
    return _CONTROL.sub("\ufffd", text)


def render_terminal(diff: TextDiff, *, color: bool, context_lines: int = 2) -> str:
    """Changed lines with context: [-removed-] {+added+}, or red strikethrough / green."""
    lines = _merged_lines(diff)
    marks = {
        DELETE: ("\x1b[31;9m", "\x1b[0m") if color else ("[-", "-]"),
        INSERT: ("\x1b[32m", "\x1b[0m") if color else ("{+", "+}"),
    }
    out = []
    for i in _visible(lines, context_lines):
        if i is None:
            out.append("...")
            continue
        parts = []
        for op, text in lines[i]:
            if op == EQUAL:
                parts.append(_safe(text))
            elif text:
                parts.append(f"{marks[op][0]}{_safe(text)}{marks[op][1]}")
        out.append("".join(parts))
    return "\n".join(out)


def render_unified(old: str, new: str, *, from_label: str, to_label: str, context: int = 3) -> str:
    """A classic line-based unified diff, for tools and people who expect one."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile=from_label, tofile=to_label, n=context, lineterm=""
    )
    text = "\n".join(lines)
    return text + "\n" if text else ""


def _html_segments(segments: Sequence[Segment]) -> str:
    tags = {DELETE: "del", INSERT: "ins"}
    parts = []
    for op, text in segments:
        escaped = html.escape(text)
        if op == EQUAL:
            parts.append(escaped)
        elif text:
            parts.append(f"<{tags[op]}>{escaped}</{tags[op]}>")
    return "".join(parts)


def render_html(diff: TextDiff, *, context_lines: int | None = 2) -> str:
    """Inline <del>/<ins> markup, one <p> per line; every piece of page text is escaped."""
    lines = _merged_lines(diff)
    out = ['<div class="diff">']
    for i in _visible(lines, context_lines):
        if i is None:
            out.append('<p class="diff-gap">…</p>')
        else:
            out.append(f"<p>{_html_segments(lines[i])}</p>")
    out.append("</div>")
    return "\n".join(out)


def _rows(diff: TextDiff) -> Iterator[tuple[list[Segment] | None, list[Segment] | None]]:
    """Old and new lines side by side, realigned at every line break both texts share."""
    old_lines: list[list[Segment]] = [[]]
    new_lines: list[list[Segment]] = [[]]
    for op, text in diff.ops:
        for i, piece in enumerate(text.split("\n")):
            if i and op == EQUAL:
                yield from _pair(old_lines, new_lines)
                old_lines, new_lines = [[]], [[]]
            elif i:
                (old_lines if op == DELETE else new_lines).append([])
            if piece and op != INSERT:
                old_lines[-1].append((op, piece))
            if piece and op != DELETE:
                new_lines[-1].append((op, piece))
    yield from _pair(old_lines, new_lines)


def _pair(
    old_lines: list[list[Segment]], new_lines: list[list[Segment]]
) -> Iterator[tuple[list[Segment] | None, list[Segment] | None]]:
    """Rows for one block between shared line breaks: identical lines face each other."""
    old_lines = [line for line in old_lines if _plain(line)]
    new_lines = [line for line in new_lines if _plain(line)]
    matcher = difflib.SequenceMatcher(None, list(map(_plain, old_lines)), list(map(_plain, new_lines)), False)
    for _, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            old = old_lines[i1 + k] if i1 + k < i2 else None
            new = new_lines[j1 + k] if j1 + k < j2 else None
            yield old, new


def _plain(line: Sequence[Segment]) -> str:
    return "".join(text for _, text in line)


def render_side_by_side_html(diff: TextDiff) -> str:
    """A two-column table: the old line with <del>, the new line with <ins>."""
    out = ['<table class="diff-side-by-side">', "<tr><th>Before</th><th>After</th></tr>"]
    for old, new in _rows(diff):
        changed = any(op != EQUAL for op, _ in (old or []) + (new or []))
        cells = "".join(f"<td>{_html_segments(side) if side is not None else ''}</td>" for side in (old, new))
        out.append(f'<tr class="{"changed" if changed else "same"}">{cells}</tr>')
    out.append("</table>")
    return "\n".join(out)


def _count(n: int, sign: str) -> str:
    return f"{sign}{n} word" + ("" if n == 1 else "s")


def _quoted(fragments: Sequence[str]) -> str:
    """'"not", "#" (x12)': a fragment changed in many places is named once."""
    counts = Counter(" ".join(fragment.split()) for fragment in fragments)
    return ", ".join(f'"{text}"' + (f" (x{n})" if n > 1 else "") for text, n in counts.items())


def summarize(diff: TextDiff, *, max_chars: int = 200) -> str:
    """One line for an alert: '+3 words, -1 word: removed "not"; added "at this time"'."""
    if not diff.changed:
        return "no change"
    details = []
    if diff.removed():
        details.append(f"removed {_quoted(diff.removed())}")
    if diff.added():
        details.append(f"added {_quoted(diff.added())}")
    line = f"{_count(diff.added_words, '+')}, {_count(diff.removed_words, '-')}"
    if details:
        line += ": " + "; ".join(details)
    line = _safe(line)
    return line if len(line) <= max_chars else line[: max(max_chars - 3, 0)] + "..."
