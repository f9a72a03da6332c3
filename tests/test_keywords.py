"""Keyword matching: forgiving of spelling forms, strict about whole words, and able to say why."""

from __future__ import annotations

import pytest

from monitor.errors import MonitorError
from monitor.keywords import KeywordHit, compile_keywords, excerpt

PLEDGE_KEYWORDS = ["Rekognition", "facial recognition", "moratorium", "police"]


def first_hit(keyword: str, text: str) -> KeywordHit | None:
    hits = compile_keywords([keyword]).match(title=text).hits
    return hits[0] if hits else None


def matched(keyword: str, text: str) -> str | None:
    hit = first_hit(keyword, text)
    return hit.matched if hit else None


# --- forms that must match -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "text", "words"),
    [
        ("moratorium", "two moratoriums on sales", "moratoriums"),
        ("moratorium", "the moratoria on police use", "moratoria"),
        ("moratoria", "a moratorium on police use", "moratorium"),
        ("police department", "all police departments in the US", "police departments"),
        ("police departments", "any police department", "police department"),
        ("policy", "our AI policies", "policies"),
        ("policies", "this policy", "policy"),
        ("law", "national laws", "laws"),
        ("business", "facial recognition businesses", "businesses"),
        ("watch", "watches", "watches"),
    ],
)
def test_plural_and_singular(keyword: str, text: str, words: str) -> None:
    assert matched(keyword, text) == words


@pytest.mark.parametrize(
    ("keyword", "text", "words"),
    [
        ("Rekognition", "Amazon Rekognition's face comparison", "Rekognition's"),
        ("Rekognition", "Amazon Rekognition’s face comparison", "Rekognition’s"),
        ("Amazon", "Amazon’s facial recognition", "Amazon’s"),
        ("Amazon's", "Amazon's facial recognition", "Amazon's"),
        ("Amazon’s", "Amazon's facial recognition", "Amazon's"),
        ("Amazon's", "Amazon facial recognition", "Amazon"),
        ("department", "the departments' policies", "departments'"),
    ],
)
def test_possessives_and_curly_apostrophes(keyword: str, text: str, words: str) -> None:
    assert matched(keyword, text) == words


@pytest.mark.parametrize(
    "text",
    [
        "facial recognition",
        "facial-recognition software",
        "facial\nrecognition",
        "facial \t\n recognition",
        "facial\u00a0recognition",
        "facial \u2013 recognition",
        "facial\u2011recognition",
        "#FacialRecognition",
        "facial recog\u00adnition",
    ],
    ids=[
        "space",
        "hyphen",
        "newline",
        "mixed-space",
        "nbsp",
        "en-dash",
        "nb-hyphen",
        "hashtag",
        "soft-hyphen",
    ],
)
def test_phrase_with_any_spacing_or_hyphen(text: str) -> None:
    assert first_hit("facial recognition", text) is not None
    assert first_hit("facial-recognition", text) is not None


def test_case_does_not_matter() -> None:
    assert matched("facial recognition", "FACIAL RECOGNITION BAN") == "FACIAL RECOGNITION"
    assert matched("REKOGNITION", "amazon rekognition") == "rekognition"


@pytest.mark.parametrize(
    ("keyword", "text", "words"),
    [
        ("Zurich", "research lab in Zürich", "Zürich"),
        ("Zürich", "research lab in Zurich", "Zurich"),
        ("Zürich", "research lab in Zu\u0308rich today", "Zu\u0308rich"),  # decomposed ü
        ("cafe", "the cafe\u0301 owners", "cafe\u0301"),  # the accent stays with its letter
        ("reconnaissance faciale", "la RECONNAISSANCE FACIALE", "RECONNAISSANCE FACIALE"),
        ("café", "CAFÉ", "CAFÉ"),
        ("file", "the \ufb01le", "\ufb01le"),  # ﬁ ligature
        ("IBM", "\uff29\uff22\uff2d announces", "\uff29\uff22\uff2d"),  # full-width letters
    ],
)
def test_diacritics_and_compatibility_forms_fold(keyword: str, text: str, words: str) -> None:
    assert matched(keyword, text) == words


# --- whole words only ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("police", "our privacy policy"),
        ("police", "a policeman said"),
        ("police", "it was policed"),
        ("ban", "an urban bank"),
        ("face", "a new interface"),
        ("IBM", "IBMers and friends"),
        ("facial recognition", "facial recognitionware"),
        ("Rekognition", "Rekognition2 preview"),
        ("news", "new products"),
    ],
)
def test_whole_words_only(keyword: str, text: str) -> None:
    assert first_hit(keyword, text) is None


def test_a_near_miss_does_not_hide_a_later_hit() -> None:
    text = "impolice, policeman, policy, and then the police"
    hit = first_hit("police", text)
    assert hit is not None
    assert hit.start == text.rindex("police")


# --- offsets, excerpt and explanation ------------------------------------------------------------


def test_offsets_point_into_the_field_as_given() -> None:
    text = (
        "Statement — “We’re implementing a one-year moratorium on police use of Amazon’s facial\nrecognition”"
    )
    result = compile_keywords(PLEDGE_KEYWORDS).match(title="Newsroom", text=text)
    assert [(h.keyword, h.field, text[h.start : h.end]) for h in result.hits] == [
        ("facial recognition", "text", "facial\nrecognition"),
        ("moratorium", "text", "moratorium"),
        ("police", "text", "police"),
    ]
    assert all(h.matched == text[h.start : h.end] for h in result.hits)


def test_offsets_survive_characters_that_fold_to_more_or_fewer() -> None:
    text = "\ufb01ve o\u0301ld ca\u0301fe\u0301s \u00adand the police\u2019s Rekognition"
    result = compile_keywords(["police", "Rekognition", "cafe"]).match(title="", text=text)
    assert [text[h.start : h.end] for h in result.hits] == [
        "police\u2019s",
        "Rekognition",
        "ca\u0301fe\u0301s",
    ]


def test_each_keyword_reports_its_first_field_title_then_summary_then_text() -> None:
    result = compile_keywords(PLEDGE_KEYWORDS).match(
        title="Amazon extends moratorium",
        summary="Police use of Rekognition",
        text="Rekognition, facial recognition, moratorium, police",
    )
    assert [(h.keyword, h.field, h.start) for h in result.hits] == [
        ("Rekognition", "summary", 14),
        ("facial recognition", "text", 13),
        ("moratorium", "title", 15),
        ("police", "summary", 0),
    ]


def test_excerpt_is_about_200_chars_around_the_hit_cut_at_words() -> None:
    before = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 10
    after = " Sed do eiusmod tempor incididunt ut labore et dolore magna aliqua." * 10
    text = before + "a moratorium on police\n\nuse of facial recognition" + after
    (hit,) = compile_keywords(["police"]).match(title="", text=text).hits
    assert "«police»" in hit.excerpt
    assert "on «police» use of facial recognition" in hit.excerpt  # blank lines squashed
    assert hit.excerpt.startswith("…")
    assert hit.excerpt.endswith("…")
    assert 150 <= len(hit.excerpt) <= 210
    words = set(text.split())
    inner = hit.excerpt.strip("…").replace("«", "").replace("»", "").split()
    assert set(inner[:1] + inner[-1:]) <= words  # no word cut in half at either end


def test_excerpt_cuts_at_line_breaks_too() -> None:
    text = "\n".join(f"line{n:03d}" for n in range(100))
    start = text.index("line050")
    cut = excerpt(text, start, start + 7, width=40)
    assert cut == "…line048 line049 «line050» line051 line052…"


def test_excerpt_of_short_text_has_no_ellipsis() -> None:
    assert excerpt("ban police use", 4, 10) == "ban «police» use"


def test_explain_says_what_matched_where() -> None:
    result = compile_keywords(PLEDGE_KEYWORDS).match(
        title="Facial-recognition moratoria",
        text="We call on Congress to regulate police use of this technology.",
    )
    assert result.matched
    assert result.explain() == (
        'matched "facial recognition" as "Facial-recognition" (title), '
        '"moratorium" as "moratoria" (title), '
        '"police" (text: "We call on Congress to regulate «police» use of this technology.")'
    )


def test_no_match() -> None:
    result = compile_keywords(PLEDGE_KEYWORDS).match(title="Prime Day 2020", summary="Deals", text="Shop now")
    assert not result.matched
    assert result.hits == ()
    assert result.explain() == "no keyword matched"


# --- compiling -----------------------------------------------------------------------------------


def test_keywords_that_fold_alike_are_compiled_once() -> None:
    matcher = compile_keywords(["facial recognition", "Facial-Recognition", "police"])
    assert matcher.keywords == ("facial recognition", "police")


@pytest.mark.parametrize("keyword", ["", "   ", "—"])
def test_a_keyword_without_words_is_an_error(keyword: str) -> None:
    with pytest.raises(MonitorError, match="has no words to match"):
        compile_keywords(["police", keyword])


def test_regex_characters_in_keywords_are_literal() -> None:
    assert matched("U.S. police", "U.S. police departments") == "U.S. police"
    assert first_hit("U.S. police", "UXSX police") is None
    assert matched("C++", "written in C++ today") == "C++"


def test_50kb_without_keywords_matches_nothing() -> None:
    sentence = "Lorem ipsum dolor sit amet — consectetur “adipiscing” elit, sed do eiusmod tempor’s labore. "
    text = sentence * (50_000 // len(sentence))
    matcher = compile_keywords(
        [
            *PLEDGE_KEYWORDS,
            "Azure Face",
            "IBM",
            "general purpose",
            "law enforcement",
            "Clearview",
            "biometric",
        ]
    )
    result = matcher.match(title="Newsroom", summary="Deals", text=text)
    assert not result.matched
