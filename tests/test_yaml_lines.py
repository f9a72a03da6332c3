"""YAML -> plain data with the line of every key path, by both readers (events and nodes)."""

from __future__ import annotations

import textwrap
from datetime import date

import pytest

from monitor.errors import WatchlistError
from monitor.yaml_lines import compose, key_text

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
