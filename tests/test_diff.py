"""diff: exact word-level changes, compact storage, and renderers that are safe with page text."""

from __future__ import annotations

import random
import re

import pytest

from monitor.diff import (
    TextDiff,
    apply,
    compute,
    from_delta,
    render_html,
    render_side_by_side_html,
    render_terminal,
    render_unified,
    summarize,
    to_delta,
)
from monitor.errors import IntegrityError

PLEDGE = "Acme will not sell facial recognition to police departments.\nSecond paragraph stays."


def old_side(diff: TextDiff) -> str:
    return "".join(text for op, text in diff.ops if op != 1)


def new_side(diff: TextDiff) -> str:
    return "".join(text for op, text in diff.ops if op != -1)


# --- compute -------------------------------------------------------------------------------------


def test_dropped_negation_is_exactly_one_removed_word() -> None:
    new = PLEDGE.replace("will not sell", "will sell")
    diff = compute(PLEDGE, new)
    assert diff.ops == (
        (0, "Acme will "),
        (-1, "not "),
        (0, "sell facial recognition to police departments.\nSecond paragraph stays."),
    )
    assert diff.removed() == ["not"]
    assert diff.added() == []
    assert (diff.added_words, diff.removed_words) == (0, 1)
    assert diff.changed


def test_added_hedge_words_are_reported_as_inserted_fragments() -> None:
    new = PLEDGE.replace("Acme will not sell", "Acme currently will not sell").replace(
        "departments.", "departments at this time."
    )
    diff = compute(PLEDGE, new)
    assert diff.added() == ["currently", "at this time"]
    assert diff.removed() == []
    assert (diff.added_words, diff.removed_words) == (4, 0)


@pytest.mark.parametrize(
    ("old", "new", "removed", "added"),
    [
        ("we sell it", "we Sell it", ["sell"], ["Sell"]),
        ("the catalog is", "the catalogue is", ["catalog"], ["catalogue"]),
        ("we don't sell", "we do not sell", ["don't"], ["do not"]),
        ("a non-exclusive licence", "an exclusive licence", ["a non-"], ["an"]),
        ("until 2021.", "until 2031.", ["2021"], ["2031"]),
    ],
)
def test_edits_never_split_a_word(old: str, new: str, removed: list[str], added: list[str]) -> None:
    diff = compute(old, new)
    assert (diff.removed(), diff.added()) == (removed, added)


def test_a_short_equality_between_edits_is_kept_when_the_edits_are_shorter() -> None:
    diff = compute("We review every request.", "We review every new request carefully.")
    assert (diff.added(), diff.removed()) == (["new", "carefully"], [])


def test_a_rewrite_reads_as_one_replacement_not_confetti() -> None:
    diff = compute("The cat sat on the mat.", "A large dog slept on the mat.")
    assert (diff.removed(), diff.added()) == (["The cat sat"], ["A large dog slept"])


def test_changed_words_are_counted_per_word_not_per_fragment() -> None:
    old = "The company sells two products to three agencies in four states."
    new = "The company sells 2 products to 3 agencies in four states and more."
    diff = compute(old, new)
    assert (diff.removed(), diff.added()) == (["two", "three"], ["2", "3", "and more"])
    assert (diff.removed_words, diff.added_words) == (2, 4)
    assert (old_side(diff), new_side(diff)) == (old, new)


def test_unchanged_texts() -> None:
    diff = compute(PLEDGE, PLEDGE)
    assert diff.ops == ((0, PLEDGE),)
    assert not diff.changed
    assert (diff.added(), diff.removed(), diff.added_words, diff.removed_words) == ([], [], 0, 0)
    assert summarize(diff) == "no change"
    assert render_terminal(diff, color=False) == ""


def test_from_nothing_and_to_nothing() -> None:
    assert compute("", "New page.").ops == ((1, "New page."),)
    assert compute("Old page.", "").ops == ((-1, "Old page."),)
    assert compute("", "").ops == ()


def test_added_and_removed_paragraphs() -> None:
    old = "Alpha.\nBeta stays.\nGamma."
    diff = compute(old, "Beta stays.\nGamma.\nDelta is new.")
    assert diff.ops == ((-1, "Alpha.\n"), (0, "Beta stays.\nGamma."), (1, "\nDelta is new."))


def paragraphs(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(2000)
    ]
    return [" ".join(rng.choice(words) for _ in range(60)) + "." for _ in range(count)]


def test_large_document_diff_is_exact_and_complete() -> None:
    """No time limit truncation: every changed paragraph is found and the delta rebuilds the text."""
    old_paragraphs = paragraphs(2500, seed=1)  # about 1 MB
    new_paragraphs = list(old_paragraphs)
    for i in range(0, len(new_paragraphs), 20):
        new_paragraphs[i] = new_paragraphs[i].replace(" ", " not ", 1)
        new_paragraphs[i + 10] = new_paragraphs[i + 10].rstrip(".") + " at this time."
    old, new = "\n".join(old_paragraphs), "\n".join(new_paragraphs)
    diff = compute(old, new)
    assert (old_side(diff), new_side(diff)) == (old, new)
    assert apply(old, to_delta(diff)) == new
    assert diff.added() == ["not", "at this time"] * 125
    assert (diff.added_words, diff.removed_words) == (500, 0)


def test_many_reworded_paragraphs_in_one_run_are_still_word_level() -> None:
    """A run too big for one word diff is split paragraph by paragraph, not replaced wholesale."""
    old_paragraphs = paragraphs(300, seed=2)
    new_paragraphs = [" ".join([*p.split(" ")[:30], "never", *p.split(" ")[30:]]) for p in old_paragraphs]
    new_paragraphs.insert(150, "A brand new paragraph.")
    diff = compute("\n".join(old_paragraphs), "\n".join(new_paragraphs))
    assert diff.removed() == []
    assert diff.added() == ["never"] * 150 + ["A brand new paragraph."] + ["never"] * 150
    assert apply("\n".join(old_paragraphs), to_delta(diff)) == "\n".join(new_paragraphs)


def test_unrelated_big_texts_become_one_replacement_quickly() -> None:
    old, new = "\n".join(paragraphs(200, seed=3)), "\n".join(paragraphs(200, seed=4))
    diff = compute(old, new)
    assert diff.ops == ((-1, old), (1, new))


# --- storage -------------------------------------------------------------------------------------


def test_delta_round_trip() -> None:
    old = 'Prices in € and 100% sure\ttabs, emoji 🙂, quotes "x" and + signs.\nLine two.'
    new = "Prices in £ and 99% sure\ttabs, emoji 🙃🙂, quotes 'x' and + signs.\nLine 2 added."
    diff = compute(old, new)
    delta = to_delta(diff)
    assert from_delta(old, delta) == diff
    assert apply(old, delta) == new
    assert "Line two" not in delta  # kept text is stored as a length, not repeated


def test_delta_of_unchanged_text_rebuilds_it() -> None:
    assert apply(PLEDGE, to_delta(compute(PLEDGE, PLEDGE))) == PLEDGE


def test_delta_against_the_wrong_text_is_an_integrity_error() -> None:
    delta = to_delta(compute(PLEDGE, PLEDGE.replace("not ", "")))
    with pytest.raises(IntegrityError, match="does not fit its previous text"):
        from_delta("a different, shorter previous text", delta)
    with pytest.raises(IntegrityError):
        apply(PLEDGE, "=3\t*nonsense")


# --- rendering -----------------------------------------------------------------------------------

OLD = "Intro line.\nWe will not sell it.\nMiddle one.\nMiddle two.\nMiddle three.\nThe end is near."
NEW = "Intro line.\nWe will sell it at this time.\nMiddle one.\nMiddle two.\nMiddle three.\nThe end is here."


def test_terminal_without_colour_marks_words_and_elides_between_hunks() -> None:
    assert render_terminal(compute(OLD, NEW), color=False, context_lines=1) == (
        "Intro line.\n"
        "We will [-not -]sell it{+ at this time+}.\n"
        "Middle one.\n"
        "...\n"
        "Middle three.\n"
        "The end is [-near-]{+here+}."
    )


def test_terminal_with_colour_uses_red_strikethrough_and_green() -> None:
    assert render_terminal(compute(OLD, NEW), color=True, context_lines=0) == (
        "We will \x1b[31;9mnot \x1b[0msell it\x1b[32m at this time\x1b[0m.\n"
        "...\n"
        "The end is \x1b[31;9mnear\x1b[0m\x1b[32mhere\x1b[0m."
    )


def test_terminal_output_cannot_carry_escape_sequences_from_the_page() -> None:
    rendered = render_terminal(compute("safe", "safe \x1b[2J\x1b]0;owned\x07"), color=False)
    assert "\x1b" not in rendered
    assert "\x07" not in rendered


def test_html_escapes_all_page_text() -> None:
    hostile = 'Policy <script>alert(1)</script> <img src=x onerror="alert(2)"> & more'
    rendered = render_html(compute("Policy <b>old</b>", hostile), context_lines=None)
    rendered += render_html(compute("Policy", hostile), context_lines=None)
    assert "<script>" not in rendered
    assert "<img" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in rendered
    assert "<del>b&gt;old&lt;/b&gt;</del>" in rendered
    assert re.sub(r"</?(del|ins|p|div)( class=\"[a-z-]+\")?>", "", rendered).count("<") == 0


def test_html_marks_changes_inline_with_context() -> None:
    assert render_html(compute(OLD, NEW), context_lines=0) == (
        '<div class="diff">\n'
        "<p>We will <del>not </del>sell it<ins> at this time</ins>.</p>\n"
        '<p class="diff-gap">…</p>\n'
        "<p>The end is <del>near</del><ins>here</ins>.</p>\n"
        "</div>"
    )


def test_html_without_context_limit_shows_every_line() -> None:
    rendered = render_html(compute(OLD, NEW), context_lines=None)
    assert rendered.count("<p>") == 6
    assert "diff-gap" not in rendered


def test_side_by_side_html_aligns_lines() -> None:
    rendered = render_side_by_side_html(compute("a\nwe <will> not\nz", "a\nwe <will>\nz"))
    assert rendered == (
        '<table class="diff-side-by-side">\n'
        "<tr><th>Before</th><th>After</th></tr>\n"
        '<tr class="same"><td>a</td><td>a</td></tr>\n'
        '<tr class="changed"><td>we &lt;will&gt;<del> not</del></td><td>we &lt;will&gt;</td></tr>\n'
        '<tr class="same"><td>z</td><td>z</td></tr>\n'
        "</table>"
    )


def test_side_by_side_html_pads_added_lines() -> None:
    rendered = render_side_by_side_html(compute("a\nb", "a\nnew line\nb"))
    assert rendered.splitlines()[2:5] == [
        '<tr class="same"><td>a</td><td>a</td></tr>',
        '<tr class="changed"><td></td><td><ins>new line</ins></td></tr>',
        '<tr class="same"><td>b</td><td>b</td></tr>',
    ]


def test_unified_diff_is_line_based() -> None:
    assert render_unified(OLD, NEW, from_label="2021-05-18", to_label="2021-06-01", context=0) == (
        "--- 2021-05-18\n"
        "+++ 2021-06-01\n"
        "@@ -2 +2 @@\n"
        "-We will not sell it.\n"
        "+We will sell it at this time.\n"
        "@@ -6 +6 @@\n"
        "-The end is near.\n"
        "+The end is here.\n"
    )
    assert render_unified(OLD, OLD, from_label="a", to_label="b") == ""


def test_summary_names_the_changed_words() -> None:
    diff = compute("We will not sell it.", "We will sell it at this time.")
    assert summarize(diff) == '+3 words, -1 word: removed "not"; added "at this time"'


def test_summary_names_a_repeated_fragment_once() -> None:
    diff = compute("Alpha one.\nBeta two.\nGamma three.", "Alpha one. #\nBeta two. #\nGamma three. #")
    assert summarize(diff) == '+0 words, -0 words: added "#" (x3)'


def test_summary_fits_in_max_chars() -> None:
    diff = compute("short", "short " + " ".join(f"word{i}" for i in range(100)))
    line = summarize(diff, max_chars=60)
    assert len(line) == 60
    assert line.startswith('+100 words, -0 words: added "word0 word1')
    assert line.endswith("...")
