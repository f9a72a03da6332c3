"""Text as words: one normaliser of quotes, dashes, case, accents and compatibility characters."""

from __future__ import annotations

from monitor.text import normalize_for_match


def test_normalize_for_match() -> None:
    assert normalize_for_match("“Amazon’s”  ONE‑year\n moratorium — U.S. police,") == (
        "amazon's one year moratorium u.s police"
    )
    assert normalize_for_match("ＩＢＭ  no longer") == "ibm no longer"
    assert normalize_for_match("") == ""
