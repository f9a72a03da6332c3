"""The README and docs/ hold what they promise: every relative link resolves, to a file and to a heading.

The docs are read as a newcomer reads them; a link that leads nowhere is the first thing that loses one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^( *)(```+|~~~+)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


def prose(text: str) -> str:
    """The text outside fenced blocks: links in examples are not links."""
    kept, fence = [], ""
    for line in text.splitlines():
        found = FENCE.match(line)
        if found and not fence:
            fence = found.group(2)
        elif found and line.strip().startswith(fence):
            fence = ""
        elif not fence:
            kept.append(line)
    return "\n".join(kept)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for line in prose(page.read_text()).splitlines():
        if line.startswith("#"):
            base = slug(line.lstrip("#"))
            name, n = base, 1
            while name in found:
                name, n = f"{base}-{n}", n + 1
            found.add(name)
    return found


def links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(page.read_text()))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto: are not ours to check
    ]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        goal = (page.parent / path).resolve() if path else page
        if not goal.exists():
            shown = goal.relative_to(REPO) if goal.is_relative_to(REPO) else goal
            broken.append(f"{target}: no file {shown}")
        elif anchor and goal.suffix == ".md" and anchor not in anchors(goal):
            broken.append(f"{target}: no heading #{anchor} in {goal.relative_to(REPO)}")
    assert not broken, f"{page_id(page)}: " + "; ".join(broken)


def test_every_page_of_the_manual_is_in_its_table_of_contents() -> None:
    index = (REPO / "docs" / "index.md").read_text()
    listed = {target.partition("#")[0] for target in links(REPO / "docs" / "index.md")}
    pages = [p.name for p in PAGES if p.parent.name == "docs" and p.name != "index.md"]
    missing = [name for name in pages if name not in listed]
    assert not missing, f"docs/index.md does not list {missing}"
    assert "(../README.md)" in index


def test_the_readme_links_into_the_manual() -> None:
    targets = {target.partition("#")[0] for target in links(REPO / "README.md")}
    assert "docs/index.md" in targets
    assert {"docs/watchlist.md", "docs/audit.md", "docs/running.md"} <= targets


def test_slugs_follow_github() -> None:
    assert slug(" After a crash (`kill -9`)") == "after-a-crash-kill--9"
    assert slug(" The dashboard: `serve`") == "the-dashboard-serve"
    assert slug(" 1. History: what was checked, what changed, what it attests") == (
        "1-history-what-was-checked-what-changed-what-it-attests"
    )
