"""The cost of a missing clause on a 300 KB page: the search for a related passage.

    .venv/bin/python benchmarks/clauses.py [--runs 5]

benchmarks/matching.py times clauses that are found; this times the slower path a check takes
only when a clause is not found at the rewording threshold: its sentence was narrowed (found
below the threshold, by its content words) or deleted (the whole page is searched for a related
passage before it is called not found), plus reading the previous version's sentences (those
that stood beside the clause all along are not its rewording). The page is 300 KB of policy-like
prose with pledge sentences spread through it. Figures are the best of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere: the package is the repo's
    sys.path.insert(0, str(REPO))

from monitor.clauses import Outcome, find_clause, sentences_of  # noqa: E402

VOCABULARY = (
    "we our customers data services products privacy security policy terms may use share information "
    "with partners providers account settings access request law government review process report annual "
    "transparency principles responsible technology cloud storage retention period delete support team"
)

PLACED = [
    "Microsoft will not sell facial-recognition technology to police departments in the United States"
    " until we have a national law in place, grounded in human rights, that will govern this technology.",
    "IBM no longer offers general purpose IBM facial recognition or analysis software.",
    "We’re extending our moratorium on police use of Amazon’s facial recognition technology until"
    " further notice.",
    "We do not currently sell customer data to data brokers or advertisers.",
    "Government requests for customer content generally require a valid warrant.",
]
NARROWED_CLAUSE = (
    "Acme will not sell face identification services to police departments in the United States until"
    " strong regulation, grounded in human rights, has been enacted"
)
NARROWED = (
    "Acme does not currently sell face identification services to police departments in the United States."
)


def filler(chars: int, seed: int) -> str:
    rng = random.Random(seed)
    words = VOCABULARY.split(" ")
    out: list[str] = []
    while sum(len(s) + 1 for s in out) < chars:
        out.append(" ".join(rng.choice(words) for _ in range(rng.randint(8, 30))).capitalize() + ".")
    return " ".join(out)


def best_ms(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    parts = [filler(60_000, seed) for seed in range(5)]
    page = " ".join(part + " " + sentence for part, sentence in zip(parts, PLACED, strict=True))
    print(f"page: {len(page) / 1000:.0f} KB")

    before = page.replace(PLACED[3], PLACED[3] + " " + NARROWED_CLAUSE + ".")
    at = before.index(NARROWED_CLAUSE)
    stood = sentences_of(before)
    for label, after in (
        ("narrowed (a related passage)", before.replace(NARROWED_CLAUSE + ".", NARROWED)),
        ("deleted (searched everywhere)", before.replace(NARROWED_CLAUSE + ".", "")),
    ):
        match = find_clause(NARROWED_CLAUSE, after, last_location=at, stood=stood)
        expected = Outcome.WEAKENED if label.startswith("narrowed") else Outcome.NOT_FOUND
        verdict = "right" if match.outcome is expected else f"WRONG (expected {expected.value})"
        search = functools.partial(find_clause, NARROWED_CLAUSE, after, last_location=at, stood=stood)
        took = best_ms(runs, search)
        print(f"one clause {label}: {match.outcome.value}, {verdict}, {took:.1f} ms")
    history = best_ms(runs, lambda: sentences_of(before))
    print(f"the previous version's sentences (read when a changed check misses a clause): {history:.1f} ms")


if __name__ == "__main__":
    main()
