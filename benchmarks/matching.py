"""How long clause matching and keyword matching take on big pages (the unit tests assert only results).

    python benchmarks/matching.py

Prints the best of several runs for: five clauses on a 300 KB page, searched near their last
locations and everywhere; ten keywords against 50 KB of text that holds none of them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere: the package is the repo's
    sys.path.insert(0, str(REPO))

from monitor.clauses import find_clause  # noqa: E402
from monitor.keywords import compile_keywords  # noqa: E402
from tests.test_clauses import _big_page  # noqa: E402
from tests.test_keywords import PLEDGE_KEYWORDS  # noqa: E402


def best_of(runs: int, action: Callable[[], object]) -> float:
    """The fastest of ``runs`` runs, in milliseconds: the least disturbed by the rest of the machine."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    page, clauses, locations = _big_page()
    near = best_of(5, lambda: [find_clause(c, page, last_location=locations[c]) for c in clauses])
    anywhere = best_of(5, lambda: [find_clause(c, page) for c in clauses])
    size = len(page) // 1000
    print(f"five clauses, {size} KB page: near last locations {near:.1f} ms, everywhere {anywhere:.1f} ms")
    sentence = "Lorem ipsum dolor sit amet — consectetur “adipiscing” elit, sed do eiusmod tempor’s labore. "
    text = sentence * (50_000 // len(sentence))
    matcher = compile_keywords([*PLEDGE_KEYWORDS, "Azure Face", "IBM", "law enforcement", "biometric"])
    keywords = best_of(20, lambda: matcher.match(title="Newsroom", summary="Deals", text=text))
    print(f"keywords against {len(text) // 1000} KB of text without them: {keywords:.2f} ms")


if __name__ == "__main__":
    main()
