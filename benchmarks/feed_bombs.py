"""Hostile feeds and listings are refused within a second each (issue 11; the tests assert only the refusal).

    .venv/bin/python benchmarks/feed_bombs.py            # exits 1 if any takes a second or more
    .venv/bin/python benchmarks/feed_bombs.py --no-fail  # report, never exit 1

Each body goes through the same parser a check uses (``parse_feed``, ``parse_listing``) and must
be refused with a FeedError; the time is wall-clock for that one call, the best of three.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from monitor.errors import FeedError
from monitor.feeds import MAX_BODY_BYTES, parse_feed, parse_listing

TARGET_SECONDS = 1.0
URL = "https://example.org/rss"
_LOL = "".join(f'  <!ENTITY lol{n} "{("&lol" + str(n - 1 or "") + ";") * 10}">\n' for n in range(1, 10))
BILLION_LAUGHS = (
    f'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n  <!ENTITY lol "lol">\n{_LOL}]>\n'
    "<rss version='2.0'><channel><title>&lol9;</title></channel></rss>"
).encode()
CASES: dict[str, Callable[[], object]] = {
    "billion laughs": lambda: parse_feed(BILLION_LAUGHS, url=URL),
    "100,000 nested elements": lambda: parse_feed(
        b"<rss>" + b"<x>" * 100_000 + b"</x>" * 100_000 + b"</rss>", url=URL
    ),
    "100,000 unclosed elements": lambda: parse_feed(
        b"<rss><channel><item><title>" + b"<x>" * 100_000, url=URL
    ),
    "a body over the limit": lambda: parse_feed(b"<rss>" + b" " * MAX_BODY_BYTES + b"</rss>", url=URL),
    "10,000 NUL bytes": lambda: parse_feed(b"\x00" * 10_000, url=URL),
    "a listing nested 100,000 deep": lambda: parse_listing(
        b"<div>" * 100_000 + b"<a href='/x'>x</a>", url="https://example.org/", item_select="a"
    ),
}


def refused_in(action: Callable[[], object]) -> float:
    """Seconds to refuse, best of three; a body that is accepted is a failure of its own."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        try:
            action()
        except FeedError:
            best = min(best, time.perf_counter() - started)
        else:
            raise SystemExit("accepted a hostile body")
    return best


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-fail", action="store_true", help="report only; never exit 1")
    args = parser.parse_args()
    slow = 0
    for name, action in CASES.items():
        seconds = refused_in(action)
        slow += seconds >= TARGET_SECONDS
        print(f"{name:<32} refused in {seconds * 1000:8.1f} ms")
    print(f"target: each under {TARGET_SECONDS:.0f} s: {'met' if not slow else f'{slow} missed'}")
    return 1 if slow and not args.no_fail else 0


if __name__ == "__main__":
    raise SystemExit(main())
