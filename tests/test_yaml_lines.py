"""YAML -> plain data with the line of every key path, by both readers (events and nodes)."""

from __future__ import annotations

import textwrap
from datetime import date

import pytest

from monitor.errors import WatchlistError
from monitor.watchlist.yaml_lines import compose, decode, key_text

PLAIN = textwrap.dedent(
    """\
    sources:
      - id: ibm-letter
        url: https://www.ibm.com/policy/letter/
    pledges:
      - id: amazon
        renewed: {until: indefinite, on: 2021-05-18}
    """
)


def test_plain_file_gives_data_and_the_line_of_every_key() -> None:
    data, lines, issues = compose(PLAIN, "w.yaml")
    assert issues == []
    assert data == {
        "sources": [{"id": "ibm-letter", "url": "https://www.ibm.com/policy/letter/"}],
        "pledges": [
            {
                "id": "amazon",
                "renewed": {"until": "indefinite", "on": date(2021, 5, 18)},
            }
        ],
    }
    assert lines[("sources", 0, "url")] == 3
    assert lines[("pledges", 0, "renewed", "on")] == 6  # `on` stays a key, not True


def test_without_noting_lines_only_the_data_comes_back() -> None:
    data, lines, _ = compose(PLAIN, "w.yaml", note_lines=False)
    assert data == compose(PLAIN, "w.yaml")[0]
    assert lines == {(): 1}


def test_duplicate_keys_are_issues_with_both_lines() -> None:
    _, _, issues = compose("sources: []\nsources: [1]\n", "w.yaml")
    assert [str(i) for i in issues] == ["w.yaml:2: sources: duplicate key 'sources' (first on line 1)"]


def test_anchors_and_merge_keys_are_read_through_the_node_path() -> None:
    text = "base: &b {interval: 6h}\nsources:\n  - <<: *b\n    id: x\n"
    data, lines, issues = compose(text, "w.yaml")
    assert issues == []
    assert data == {"base": {"interval": "6h"}, "sources": [{"interval": "6h", "id": "x"}]}
    assert lines[("sources", 0, "id")] == 4


def test_a_syntax_error_names_the_line() -> None:
    with pytest.raises(WatchlistError) as caught:
        compose("sources:\n  - id: [unclosed\n", "w.yaml")
    assert str(caught.value).startswith("w.yaml:")
    assert "invalid YAML" in str(caught.value)


def test_key_text_points_at_a_key_as_a_maintainer_would() -> None:
    assert key_text(("sources", 1, "interval")) == "sources[1].interval"
    assert key_text(()) == ""


def test_many_aliases_of_a_small_anchor_are_not_taken_for_a_bomb() -> None:
    sources = "".join(f"  - <<: *common\n    id: s{n}\n" for n in range(3000))
    data, _, issues = compose(
        f"common: &common {{interval: 6h, timeout: 30s, select: article}}\nsources:\n{sources}", "w.yaml"
    )
    assert issues == []
    assert isinstance(data, dict)
    assert len(data["sources"]) == 3000
    assert data["sources"][2999] == {"interval": "6h", "timeout": "30s", "select": "article", "id": "s2999"}


def test_an_alias_bomb_is_refused_before_it_is_expanded() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    with pytest.raises(WatchlistError, match=r"w\.yaml:\d+: \w\[0\]: aliases expand this file to over"):
        compose("\n".join(lines) + "\n", "w.yaml")


@pytest.mark.parametrize("nested", ["[" * 40 + "]" * 40, "[" * 10_000 + "]" * 10_000])
def test_deep_nesting_is_an_error_on_both_readers(nested: str) -> None:
    for text in (f"sources: {nested}\n", f"x: &x 1\nsources: {nested}\n"):  # events, then nodes
        with pytest.raises(
            WatchlistError, match=r"w\.yaml:\d+: sources\[0\]\[0\]: nested more than 32 levels"
        ):
            compose(text, "w.yaml")


def test_a_control_character_is_named_with_its_line_and_key() -> None:
    with pytest.raises(WatchlistError) as caught:
        compose("sources:\n  - id: a\n    url: x\x07y\n", "w.yaml")
    assert (
        str(caught.value)
        == "w.yaml:3: sources[0].url: control character U+0007 is not allowed in YAML; remove it"
    )


def test_bytes_that_are_not_utf8_are_named_with_their_line_and_key() -> None:
    with pytest.raises(WatchlistError) as caught:
        decode(b"sources:\n  - id: a\n    select: caf\xe9\n", "w.yaml")
    assert (
        str(caught.value) == "w.yaml:3: sources[0].select: not UTF-8 text (byte e9); save the file as UTF-8"
    )
