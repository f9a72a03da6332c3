"""Tokens, who is acting, CSRF and the rate limit on token checks.

A token is shown once, when created, and stored as its sha256 only. Browsers send it once to
``/login`` and then carry it in an HttpOnly, SameSite=Strict cookie; every form also carries a
CSRF value derived from the token's hash, and a POST whose Origin is another site is refused.
The API takes the token only as ``Authorization: Bearer``, never from a cookie, so a page on
another site cannot make a browser act through the API.

Token checks are rate limited per client address (the real one, behind a trusted proxy):
after ``MAX_FAILURES`` wrong tokens in ``WINDOW`` seconds every check from that address is
refused until the window has passed, so tokens cannot be guessed at speed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "pm_session"
MAX_FAILURES = 10
WINDOW = 600.0
PREFIX = "pm_"


def new_token() -> str:
    """A fresh token: 256 random bits, recognisable by its prefix in a leaked paste."""
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def csrf_value(token_digest: str) -> str:
    """The value each form carries: unknowable without the token, fixed for its session."""
    return hmac.new(token_digest.encode(), b"pledge-monitor csrf", hashlib.sha256).hexdigest()


def csrf_ok(token_digest: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_value(token_digest), sent or "")


class Throttled(Exception):
    """Too many wrong tokens from one address: refuse until the window passes."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong tokens: try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class RateLimit:
    """Failed token checks per client address, in a sliding window (per process)."""

    max_failures: int = MAX_FAILURES
    window: float = WINDOW
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, client: str) -> None:
        """Raise Throttled when ``client`` has used up its failures."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) >= self.max_failures:
                raise Throttled(max(1, int(recent[0] + self.window - self.clock()) + 1))

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(self.clock())

    def _recent(self, client: str) -> deque[float]:
        now = self.clock()
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if not recent:
            # forget quiet clients, so the table cannot grow without bound
            self._failures.pop(client, None)
            recent = self._failures.setdefault(client, deque())
        return recent


@dataclass(frozen=True)
class Actor:
    """Who is acting: a token's name, and the hash its CSRF values derive from."""

    name: str
    token_digest: str

    @property
    def csrf(self) -> str:
        return csrf_value(self.token_digest)


def resolve(
    token: str | None, client: str, limit: RateLimit, lookup: Callable[[str], str | None]
) -> Actor | None:
    """The actor a presented token names, or None; counts a wrong token against ``client``."""
    if not token:
        return None
    limit.check(client)
    token_digest = digest(token)
    name = lookup(token_digest)
    if name is None:
        limit.failed(client)
        return None
    return Actor(name, token_digest)
