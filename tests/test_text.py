"""Text as words: one normaliser of quotes, dashes, case, accents and compatibility characters."""

from __future__ import annotations

from monitor import keywords
from monitor.extract import normalize_text
from monitor.text import INVISIBLE, PLAIN_PUNCTUATION, SINGLE_QUOTE_LOOKALIKES, normalize_for_match


def test_normalize_for_match() -> None:
    assert normalize_for_match("“Amazon’s”  ONE‑year\n moratorium — U.S. police,") == (
        "amazon's one year moratorium u.s police"
    )
    assert normalize_for_match("ＩＢＭ  no longer") == "ibm no longer"
    assert normalize_for_match("") == ""


def test_extraction_matching_and_keywords_read_every_quote_and_dash_alike() -> None:
    """One table: what extraction keeps plain, matching and keyword search compare as plain."""
    for char, plain in PLAIN_PUNCTUATION.items():
        word = f"it{char}s"
        assert normalize_text(word) == f"it{plain}s", repr(char)
        assert keywords.fold(word) == f"it{plain}s", repr(char)
        expected = "it s" if plain == "-" else f"it{plain}s"
        assert normalize_for_match(word) == expected, repr(char)
    for char in SINGLE_QUOTE_LOOKALIKES:
        assert normalize_for_match(f"it{char}s") == "it's", repr(char)
    for char in INVISIBLE:
        assert normalize_text(f"po{char}lice") == "police", repr(char)
        assert keywords.fold(f"po{char}lice") == "police", repr(char)
