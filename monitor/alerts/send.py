"""Alerts sent: a Message to every target of a Route, through apprise (the only module that imports it).

apprise is imported when a message is sent or a scheme is checked, not before: a check that raises
no alert never loads it (its plugins take about a second).

Secrets: route URLs are ``${VAR}`` templates, resolved only here, just before sending. What is
stored, logged or shown names a target by ``redact_url`` only, and every error text is scrubbed
of the resolved URL and of the values of the variables it used (apprise logs them at DEBUG).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import unquote, urlsplit

from monitor.alerts.render import Message, severity_of
from monitor.alerts.schemes import CONSOLE
from monitor.errors import AlertError
from monitor.events import Severity
from monitor.secrets import Scrubber, ScrubFilter, redact_url, referenced_env_vars, resolve_url
from monitor.watchlist import RouteSpec

if TYPE_CHECKING:
    import apprise

KEY_HEADER = "X-Pledge-Monitor-Key"
ERROR_MAX = 500  # characters of a target's error kept in the outbox and shown
_SECRET_LOGGERS = ("apprise", "urllib3.connectionpool")


@cache
def sendable_schemes() -> frozenset[str]:
    """Every URL scheme apprise can send to (loading its plugins takes a second: only when asked)."""
    from apprise.plugins import N_MGR

    return frozenset(str(s) for s in N_MGR.schemas())


def notify_type(severity: str | Severity) -> apprise.NotifyType:
    import apprise

    kinds = {
        Severity.CRITICAL: apprise.NotifyType.FAILURE,
        Severity.HIGH: apprise.NotifyType.WARNING,
        Severity.WARNING: apprise.NotifyType.WARNING,
        Severity.INFO: apprise.NotifyType.INFO,
    }
    return kinds[severity if isinstance(severity, Severity) else severity_of(severity)]


@dataclass(frozen=True)
class TargetResult:
    """How one URL of a route took a message; ``target`` is redacted, ``error`` scrubbed."""

    index: int
    target: str
    ok: bool
    skipped: bool = False
    error: str | None = None


def send_to_route(
    route: RouteSpec,
    message: Message,
    *,
    env: Mapping[str, str],
    skip: frozenset[int] = frozenset(),
    stream: TextIO | None = None,
) -> list[TargetResult]:
    """Send to every target of a route but those in ``skip`` (they already have it)."""
    results = []
    for index, template in enumerate(route.urls):
        target = redact_url(template)
        if index in skip:
            results.append(TargetResult(index, target, ok=True, skipped=True))
            continue
        ok, error = _send_one(template, message, env, stream)
        results.append(TargetResult(index, target, ok=ok, error=None if ok else f"{target}: {error}"))
    return results


def _send_one(
    template: str, message: Message, env: Mapping[str, str], stream: TextIO | None
) -> tuple[bool, str | None]:
    if template.strip() == CONSOLE:
        return _to_console(message, stream)
    try:
        url = resolve_url(template, env)
    except AlertError as exc:
        return False, str(exc)
    scrub = _scrubber(template, url, env)
    try:
        with _scrubbed_logs(scrub):
            ok, error = _notify(url, message)
    except Exception as exc:  # apprise should not raise; if a plugin does, it is this target's failure
        ok, error = False, f"{type(exc).__name__}: {exc}"
    return ok, None if error is None else scrub(error)[:ERROR_MAX]


def _to_console(message: Message, stream: TextIO | None) -> tuple[bool, str | None]:
    out = stream if stream is not None else sys.stdout
    try:
        out.write(f"[{message.severity.label}] {message.text}\n")
        out.flush()
    except (OSError, ValueError) as exc:
        return False, f"cannot write to the console: {exc}"
    return True, None


def _notify(url: str, message: Message) -> tuple[bool, str | None]:
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return False, "not a URL apprise can send to (see https://github.com/caronc/apprise/wiki)"
    body, body_format = _fit(plugin, message)
    notifier = apprise.Apprise()
    notifier.add(plugin)
    kind = notify_type(message.severity)
    result = notifier.notify(body=body, title=message.title, notify_type=kind, body_format=body_format)
    if result:
        return True, None
    return False, _reason(result)


def _fit(plugin: Any, message: Message) -> tuple[str, apprise.NotifyFormat | None]:
    """The body each kind of service reads best, and the idempotency key where it can travel."""
    import apprise
    from apprise.plugins.custom_json import NotifyJSON
    from apprise.plugins.email import NotifyEmail
    from apprise.plugins.slack import NotifySlack

    # apprise sleeps request_rate_per_sec (5.5 s for email, 1.2 s for Slack) between two sends
    # of one plugin object: one object per send does not wait, and this stops the wait between
    # the channels of one Slack URL too. A service that minds answers 429, and we retry.
    plugin.request_rate_per_sec = 0
    if isinstance(plugin, NotifyEmail):
        plugin.headers[KEY_HEADER] = message.key
        return message.html, apprise.NotifyFormat.HTML  # apprise adds a text/plain part
    if isinstance(plugin, NotifySlack):
        plugin.use_blocks = True  # mrkdwn passed through as written: the template escaped page text
        return message.slack, None
    if isinstance(plugin, NotifyJSON):
        plugin.headers[KEY_HEADER] = message.key
        plugin.payload_extras.update({"key": message.key, "alert": message.data})
        return message.text, apprise.NotifyFormat.TEXT
    return message.text, apprise.NotifyFormat.MARKDOWN


def _reason(result: object) -> str:
    """apprise's own warnings for this send (apprise >= 2 keeps them in the result)."""
    logs = getattr(result, "logs", None)
    lines: list[str] = []
    if callable(logs):
        lines = [e.message for e in logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
    return "; ".join(dict.fromkeys(lines)) or "the service did not accept the message"


def _scrubber(template: str, url: str, env: Mapping[str, str]) -> Scrubber:
    """The resolved URL reads as its redacted form; every secret in it becomes ``***``."""
    secrets = {url}
    for name in referenced_env_vars(template):
        secrets.add(env.get(name, ""))
    with suppress(ValueError):
        secrets.add(unquote(urlsplit(url).password or ""))
    return Scrubber(secrets, replace={url: redact_url(template)})


@contextmanager
def _scrubbed_logs(scrub: Scrubber) -> Iterator[None]:
    """apprise (at DEBUG) and urllib3 log URLs with their tokens: scrub them while we send.

    apprise keeps a send's warnings (our error text) only when its logger lets WARNING through,
    so a quieter logging setup would leave failures unexplained: let WARNING through meanwhile.
    """
    filters = [
        (logging.getLogger(name), ScrubFilter(lambda text: scrub(text)[:ERROR_MAX]))
        for name in _SECRET_LOGGERS
    ]
    for logger, flt in filters:
        logger.addFilter(flt)
    apprise_logger = filters[0][0]
    level = apprise_logger.level
    if apprise_logger.getEffectiveLevel() > logging.WARNING:
        apprise_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        apprise_logger.setLevel(level)
        for logger, flt in filters:
            logger.removeFilter(flt)
