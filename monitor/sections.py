"""Sections: the part of a page between two elements, when no single element wraps it.

A pledge is often one part of a long page: the text after the heading "Our commitments" and
before the next heading. Like Open Terms Archive's range selectors, a section starts before or
after the first element a CSS selector matches and ends before or after the first element another
selector matches further on. The section is returned as the largest whole subtrees that lie
between the two, in page order, so the extractor reads them exactly as it reads any element.

- Every element the start selector matches starts a section; a start inside an earlier section is
  part of that section, not a second copy of it.
- The end is the first element matching the end selector after the start (never the start itself
  nor inside it). When there is none, the section runs to the end of the start's parent: it never
  takes in the rest of the page (navigation, footer) because a heading went missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from selectolax.lexbor import LexborNode


class SectionRule(Protocol):
    """A section as the watchlist declares it."""

    @property
    def start(self) -> str: ...

    @property
    def end(self) -> str: ...

    @property
    def include_start(self) -> bool: ...  # start_before: the start element is part of the section

    @property
    def include_end(self) -> bool: ...  # end_after: the end element is part of the section

    def describe(self) -> str: ...


def section_nodes(
    starts: Sequence[LexborNode], ends: Sequence[LexborNode], rule: SectionRule, order: Mapping[int, int]
) -> list[LexborNode]:
    """The subtrees of every section the rule marks on a page, in page order.

    ``order`` is each node's position in the page (``page_order``); ``starts`` and ``ends`` are
    what the rule's two selectors match.
    """
    nodes: list[LexborNode] = []
    for start in starts:
        end = _end_after(start, ends, order)
        nodes.extend(_between(start, end, rule))
    return nodes


def page_order(root: LexborNode) -> dict[int, int]:
    """Each node's position in document order, text nodes included."""
    return {node.mem_id: i for i, node in enumerate(root.traverse(include_text=True))}


def _end_after(start: LexborNode, ends: Sequence[LexborNode], order: Mapping[int, int]) -> LexborNode | None:
    position = order.get(start.mem_id, -1)
    for end in ends:
        if order.get(end.mem_id, -1) > position and start.mem_id not in _ancestors(end):
            return end
    return None


def _ancestors(node: LexborNode) -> set[int]:
    found = set()
    parent = node.parent
    while parent is not None:
        found.add(parent.mem_id)
        parent = parent.parent
    return found


def _between(start: LexborNode, end: LexborNode | None, rule: SectionRule) -> list[LexborNode]:
    """Climb from the start: its following siblings, then its parent's, until the end's branch."""
    nodes = [start] if rule.include_start else []
    on_path = _ancestors(end) if end is not None else set()
    node = start
    while True:
        sibling = node.next
        while sibling is not None:
            if end is not None and sibling.mem_id == end.mem_id:
                return nodes + ([sibling] if rule.include_end else [])
            if sibling.mem_id in on_path:
                return nodes + _down_to(sibling, end, on_path, rule)
            nodes.append(sibling)
            sibling = sibling.next
        parent = node.parent
        if end is None or parent is None:
            return nodes
        node = parent


def _down_to(
    branch: LexborNode, end: LexborNode | None, on_path: set[int], rule: SectionRule
) -> list[LexborNode]:
    """Descend the end's branch, taking what comes before the end at each level."""
    nodes: list[LexborNode] = []
    node = branch.child
    while node is not None:
        if end is not None and node.mem_id == end.mem_id:
            return nodes + ([node] if rule.include_end else [])
        if node.mem_id in on_path:
            node = node.child
            continue
        nodes.append(node)
        node = node.next
    return nodes


def outermost(nodes: Sequence[LexborNode], order: Mapping[int, int]) -> list[LexborNode]:
    """Nodes in page order, each once, without those inside another one (read with it already)."""
    ids = {node.mem_id for node in nodes}
    kept: dict[int, LexborNode] = {}
    for node in nodes:
        if node.mem_id not in kept and not (_ancestors(node) & ids):
            kept[node.mem_id] = node
    return sorted(kept.values(), key=lambda n: order.get(n.mem_id, -1))
