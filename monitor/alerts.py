"""Alerts: Events rendered into messages, and the outbox delivered through apprise.

Routing is in ``monitor.routes`` and the outbox rows in ``monitor.store.outbox``; this module
renders (Jinja2 templates in ``monitor/templates``: plain text, HTML, Slack mrkdwn) and sends.
Sending happens outside any transaction; each result is recorded right after, so a crash loses
at most the alert in flight, and that one is sent again (at-least-once).

Secrets: route URLs are ``${VAR}`` templates, resolved only here, just before sending. What is
stored, logged or shown names a target by ``redact_url`` only, and every error text is scrubbed
of the resolved URL and of the values of the variables it used (apprise logs them at DEBUG).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from functools import cache
from typing import Any, TextIO
from urllib.parse import quote, quote_plus, unquote, urlsplit

import apprise
from apprise.plugins.custom_json import NotifyJSON
from apprise.plugins.email import NotifyEmail
from apprise.plugins.slack import NotifySlack
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine

from monitor.errors import AlertError
from monitor.events import Severity
from monitor.secrets import redact_url, referenced_env_vars, resolve_url
from monitor.store import outbox
from monitor.store.actions import active_mutes
from monitor.store.models import Event
from monitor.watchlist import RouteSpec, Watchlist

log = logging.getLogger(__name__)

CONSOLE = "console://"
KEY_HEADER = "X-Pledge-Monitor-Key"
MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=30)  # renewed by the worker's heartbeat while it sends (monitor.worker)
DIGEST_AT = clock(8, 0)  # UTC
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)
SLACK_MAX = 2900

NOTIFY_TYPES = {
    Severity.CRITICAL: apprise.NotifyType.FAILURE,
    Severity.HIGH: apprise.NotifyType.WARNING,
    Severity.WARNING: apprise.NotifyType.WARNING,
    Severity.INFO: apprise.NotifyType.INFO,
}

WHAT = {
    "pledge.reworded": "The pledge's wording changed on the page.",
    "pledge.weakened": "The pledge's wording changed, and the change may weaken it.",
    "pledge.restored": "The pledge's original wording is back on the page.",
    "pledge.removed": "The pledge's clause is no longer on the page (a re-check confirmed it).",
    "pledge.expiring": "The pledge's deadline is near.",
    "pledge.expired": "The pledge's deadline has passed and no renewal was recorded.",
    "source.changed": "The watched text changed; no clause of a pledge is affected.",
    "source.gone": "The page is gone.",
    "source.moved": "The page moved to a new address.",
    "source.failing": "Checks of this page keep failing.",
    "source.recovered": "Checks of this page succeed again.",
    "statement.new": "A new statement mentions a pledge.",
    "test": "This is a test alert from pledge-monitor: if you read it, the route works.",
}

# details shown in their own section of a message; the others are listed as facts
_SHOWN = {
    "clause", "passage", "previous_passage", "previous_state", "similarity", "word_ops", "signals",
    "url", "last_passage", "first_missed", "confirmed", "summary", "added", "removed",
    "clause_marks", "passage_marks", "related", "now_before", "now_after",
}  # fmt: skip


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Message:
    """One alert rendered for every kind of target; ``key`` makes a re-send recognisable."""

    key: str
    title: str
    text: str  # plain text with markdown marks: console, JSON webhooks, other services
    html: str  # email
    slack: str  # Slack mrkdwn
    severity: Severity
    data: dict[str, Any] = field(compare=False)


def idempotency_key(event_id: int, route: str) -> str:
    return f"pm-{event_id}-{route}"


@cache
def sendable_schemes() -> frozenset[str]:
    """Every URL scheme apprise can send to (loading its plugins takes a second: only when asked)."""
    from apprise.plugins import N_MGR

    return frozenset(str(s) for s in N_MGR.schemas())


def notify_type(severity: str | Severity) -> apprise.NotifyType:
    return NOTIFY_TYPES[severity if isinstance(severity, Severity) else _severity(severity)]


def render_event(event: Event, route: str, *, key: str | None = None) -> Message:
    view = event_view(event)
    key = key or idempotency_key(event.id, route)
    return _message(
        "alert", {"v": view, "key": key}, key, event.title, _severity(event.severity), _data(event, key)
    )


def render_digest(route: str, events: Sequence[Event]) -> Message:
    """One message listing every event held for a daily digest, most severe first."""
    ordered = sorted(events, key=lambda e: (-_severity(e.severity), e.id))
    ids = ",".join(str(e.id) for e in sorted(events, key=lambda e: e.id))
    key = f"pm-digest-{route}-{hashlib.sha256(ids.encode()).hexdigest()[:12]}"
    worst = max((_severity(e.severity) for e in events), default=Severity.INFO)
    noun = "event" if len(events) == 1 else "events"
    title = f"pledge-monitor daily digest for {route}: {len(events)} {noun} ({worst.label} at most)"
    context = {"views": [event_view(e) for e in ordered], "key": key, "title": title}
    data = {"key": key, "route": route, "events": [_data(e, idempotency_key(e.id, route)) for e in ordered]}
    return _message("digest", context, key, title, worst, data)


def render_test(route: str, now: datetime) -> Message:
    event = Event(
        id=0,
        kind="test",
        severity="info",
        created_at=now,
        title=f"pledge-monitor: test alert for route {route}",
        details={"route": route},
    )
    return render_event(event, route, key=f"pm-test-{route}-{now.strftime('%Y%m%dT%H%M%S')}")


def event_view(event: Event) -> dict[str, Any]:
    """What the templates show of an Event: plain values, no markup (templates add and escape it)."""
    details = event.details or {}
    url = details.get("url") or None
    return {
        "title": event.title,
        "kind": event.kind,
        "severity": event.severity,
        "what": WHAT.get(event.kind, event.kind),
        "when": _when(event.created_at),
        "url": url,
        "link": bool(url) and str(url).startswith(("http://", "https://")),
        "event_id": event.id,
        "change_id": event.change_id,
        "clause": _clause_view(details),
        "signals": [_explanation(s) for s in details.get("signals") or () if s],
        "removed": _removed_view(details) if event.kind == "pledge.removed" else None,
        "changed": _changed_view(details) if event.kind == "source.changed" else None,
        "facts": [(k.replace("_", " "), _fact(v)) for k, v in details.items() if k not in _SHOWN],
    }


def _clause_view(details: Mapping[str, Any]) -> dict[str, Any] | None:
    """The clause as pledged and the passage as published, each with its changed words marked.

    ``clause_marks`` and ``passage_marks`` are spans of the exact texts, so punctuation, case and
    possessives show as on the page and only the words that changed are marked. Events recorded
    before marks existed fall back to ``word_ops`` (words only, joined by spaces).
    """
    ops = [(int(op), str(words)) for op, words in details.get("word_ops") or ()]
    passage = details.get("passage")
    if not ops and not passage:
        return None
    if "passage_marks" in details and passage:
        clause = str(details.get("clause") or "")
        before = _marked(clause, details.get("clause_marks") or ())
        after = _marked(str(passage), details.get("passage_marks") or ())
    else:
        ops = ops or [(0, str(passage))]
        before, after = _side(ops, -1), _side(ops, 1)
    similarity = details.get("similarity")
    return {
        "before": before,
        "after": after,
        "removed_words": [w for kind, w in before if kind == "changed"],
        "added_words": [w for kind, w in after if kind == "changed"],
        "similarity": f"{float(similarity):.0%}" if similarity is not None else None,
        "related": bool(details.get("related")),
    }


def _marked(text: str, marks: Sequence[Sequence[int]]) -> list[tuple[str, str]]:
    """``text`` as runs of ("same" | "changed", exact text): the runs joined give ``text`` back."""
    runs: list[tuple[str, str]] = []
    at = 0
    for start, end in sorted((int(a), int(b)) for a, b in marks):
        start, end = max(start, at), min(end, len(text))
        if start >= end:
            continue
        if start > at:
            runs.append(("same", _one_line(text[at:start])))
        runs.append(("changed", _one_line(text[start:end])))
        at = end
    if at < len(text):
        runs.append(("same", _one_line(text[at:])))
    return runs


def _one_line(text: str) -> str:
    """A quote is one line: line breaks inside a passage read as spaces."""
    return re.sub(r"\s+", " ", text)


def _side(ops: Sequence[tuple[int, str]], keep: int) -> list[tuple[str, str]]:
    """One side of a word diff as runs of ("same" | "changed", words), spaces between runs."""
    runs: list[tuple[str, str]] = []
    for op, text in ops:
        words = " ".join(text.split())
        if op not in (0, keep) or not words:
            continue
        kind = "same" if op == 0 else "changed"
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, f"{runs[-1][1]} {words}")
        else:
            runs.append((kind, words))
    spaced: list[tuple[str, str]] = []
    for index, (kind, words) in enumerate(runs):
        if index:
            spaced.append(("same", " "))
        spaced.append((kind, words))
    return spaced


def _explanation(signal: object) -> str:
    return str(signal.get("explanation", signal)) if isinstance(signal, dict) else str(signal)


def _removed_view(details: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "clause": details.get("clause"),
        "last_passage": details.get("last_passage"),
        "now_before": details.get("now_before") or None,
        "now_after": details.get("now_after") or None,
        "stands": "now_before" in details or "now_after" in details,
        "first_missed": _when(details.get("first_missed")),
        "confirmed": _when(details.get("confirmed")),
    }


def _changed_view(details: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "summary": details.get("summary"),
        "added": [str(x) for x in details.get("added") or ()],
        "removed": [str(x) for x in details.get("removed") or ()],
    }


def _fact(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _when(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return _when(datetime.fromisoformat(value))
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _severity(name: str) -> Severity:
    try:
        return Severity.parse(name)
    except KeyError:
        return Severity.INFO


def _data(event: Event, key: str) -> dict[str, Any]:
    """The structured alert for JSON webhooks."""
    return {
        "key": key,
        "event_id": event.id,
        "kind": event.kind,
        "severity": event.severity,
        "title": event.title,
        "created_at": event.created_at.isoformat() if event.created_at else None,
        "pledge_id": event.pledge_id,
        "source_id": event.source_id,
        "change_id": event.change_id,
        "show": f"pledge-monitor show {event.change_id}" if event.change_id else None,
        "details": event.details,
    }


def _message(
    name: str, context: dict[str, Any], key: str, title: str, severity: Severity, data: dict[str, Any]
) -> Message:
    def render(suffix: str, values: dict[str, Any]) -> str:
        return _templates().get_template(f"{name}.{suffix}").render(values).strip() + "\n"

    return Message(
        key=key,
        title=title,
        text=render("txt", context),
        html=render("html", context),
        slack=_fit_slack(render("slack", _slack_escaped(context))),
        severity=severity,
        data=data,
    )


def _fit_slack(text: str) -> str:
    """A Slack section holds 3000 characters; a long digest is cut at a line, saying so."""
    if len(text) <= SLACK_MAX:
        return text
    cut = text.rfind("\n", 0, SLACK_MAX - 200)
    return (
        text[: cut if cut > 0 else SLACK_MAX - 200]
        + "\n… (cut; `pledge-monitor history` lists every event)\n"
    )


@cache
def _templates() -> Environment:
    """``.html`` templates are autoescaped; Slack ones get values escaped beforehand."""
    return Environment(
        loader=PackageLoader("monitor", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _slack_escaped(value: Any) -> Any:
    """Page text is untrusted: a literal ``<!channel>`` must not notify a whole channel."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, dict):
        return {k: _slack_escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_slack_escaped(v) for v in value)
    return value


# --------------------------------------------------------------------------- sending


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
    return ok, None if error is None else scrub(error)


def _to_console(message: Message, stream: TextIO | None) -> tuple[bool, str | None]:
    out = stream if stream is not None else sys.stdout
    try:
        out.write(f"[{message.severity.label}] {message.text}\n")
        out.flush()
    except (OSError, ValueError) as exc:
        return False, f"cannot write to the console: {exc}"
    return True, None


def _notify(url: str, message: Message) -> tuple[bool, str | None]:
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


def _scrubber(template: str, url: str, env: Mapping[str, str]) -> Callable[[str], str]:
    """Replace the resolved URL and every secret in it by ``***``, in any text."""
    secrets = {url}
    for name in referenced_env_vars(template):
        secrets.add(env.get(name, ""))
    with suppress(ValueError):
        secrets.add(unquote(urlsplit(url).password or ""))
    variants = {v for s in secrets if len(s) >= 3 for v in (s, quote(s, safe=""), quote_plus(s))}
    ordered = sorted(variants, key=len, reverse=True)
    safe = redact_url(template)

    def scrub(text: str) -> str:
        text = text.replace(url, safe)
        for secret in ordered:
            text = text.replace(secret, "***")
        return text[:500]

    return scrub


class _ScrubFilter(logging.Filter):
    def __init__(self, scrub: Callable[[str], str]) -> None:
        super().__init__()
        self.scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if record.exc_info:
            text = f"{text}\n{logging.Formatter().formatException(record.exc_info)}"
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = self.scrub(text), None
        return True


_SECRET_LOGGERS = ("apprise", "urllib3.connectionpool")


@contextmanager
def _scrubbed_logs(scrub: Callable[[str], str]) -> Iterator[None]:
    """apprise (at DEBUG) and urllib3 log URLs with their tokens: scrub them while we send.

    apprise keeps a send's warnings (our error text) only when its logger lets WARNING through,
    so a quieter logging setup would leave failures unexplained: let WARNING through meanwhile.
    """
    filters = [(logging.getLogger(name), _ScrubFilter(scrub)) for name in _SECRET_LOGGERS]
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


# --------------------------------------------------------------------------- delivery


@dataclass
class DeliverySummary:
    """What one delivery pass did, counted in alerts (a digest message carries several)."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    muted: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliverySummary) -> None:
        """Count another pass in."""
        self.claimed += other.claimed
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.held += other.held
        self.muted += other.muted
        self.messages += other.messages
        self.errors += other.errors

    def line(self) -> str:
        parts = [f"{self.sent} sent", f"{self.retrying} to retry", f"{self.failed} failed"]
        if self.held:
            parts.append(f"{self.held} held for a digest")
        if self.muted:
            parts.append(f"{self.muted} muted (kept, not sent)")
        return "alerts: " + ", ".join(parts)


def deliver_due(
    store: Any,
    watchlist: Watchlist,
    *,
    now: datetime,
    worker: str = "pledge-monitor",
    env: Mapping[str, str] | None = None,
    batch: int = 100,
    max_attempts: int = MAX_ATTEMPTS,
    lease: timedelta = LEASE,
    digest_at: clock = DIGEST_AT,
    stream: TextIO | None = None,
    rng: random.Random | None = None,
) -> DeliverySummary:
    """One delivery pass: claim due alerts, send them outside any transaction, record each result.

    ``store`` is an Engine or a Store. A route with ``digest: daily`` gets one message a day at
    ``digest_at`` (UTC) listing its events; its alerts wait as pending until then. The claims
    last ``lease``: a pass longer than that needs the worker's heartbeat (``monitor.worker``).
    """
    run = _Run(
        engine=store if isinstance(store, Engine) else store.engine,
        routes={r.name: r for r in watchlist.routes},
        now=now,
        worker=worker,
        env=os.environ if env is None else env,
        max_attempts=max_attempts,
        digest_at=digest_at,
        stream=stream,
        rng=rng or random.Random(),
    )
    mutes = active_mutes(run.engine, now)
    run.summary.muted = outbox.hold_muted(
        run.engine,
        sources={mute.target for mute in mutes if mute.target_kind == "source"},
        routes={mute.target for mute in mutes if mute.target_kind == "route"},
    )
    items = outbox.claim_due(run.engine, now=now, worker=worker, lease=lease, batch=batch)
    run.summary.claimed = len(items)
    for route, group in run.groups(items):
        run.deliver(route, group)
    return run.summary


@dataclass
class _Run:
    engine: Engine
    routes: dict[str, RouteSpec]
    now: datetime
    worker: str
    env: Mapping[str, str]
    max_attempts: int
    digest_at: clock
    stream: TextIO | None
    rng: random.Random
    started: float = field(default_factory=time.monotonic)
    summary: DeliverySummary = field(default_factory=DeliverySummary)

    def at(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self.started)

    def groups(
        self, items: Sequence[outbox.OutboxItem]
    ) -> Iterator[tuple[RouteSpec, list[outbox.OutboxItem]]]:
        """Alerts that go out as one message: one each, or a route's due digest."""
        digests: dict[tuple[str, frozenset[int]], list[outbox.OutboxItem]] = {}
        for item in items:
            route = self.routes.get(item.route)
            if route is None:
                self.fail([item], f"route '{item.route}' is not in the watchlist any more")
            elif item.attempts > self.max_attempts:
                self.fail(
                    [item],
                    f"{item.attempts - 1} attempts, the last without a result (a crash while sending?)",
                )
            elif route.digest is None:
                yield route, [item]
            elif item.fresh and next_digest(item.due_at, self.digest_at) > self.now:
                self.hold(item, next_digest(item.due_at, self.digest_at))
            else:
                digests.setdefault((route.name, item.progress.done), []).append(item)
        for (name, _), group in digests.items():
            yield self.routes[name], group

    def deliver(self, route: RouteSpec, items: list[outbox.OutboxItem]) -> None:
        mine = outbox.begin(self.engine, [i.alert_id for i in items], worker=self.worker)
        items = [i for i in items if i.alert_id in mine]  # a claim taken for lost is not sent
        if not items:
            return
        if route.digest is None:
            message = render_event(items[0].event, route.name)
        else:
            message = render_digest(route.name, [i.event for i in items])
        done = items[0].progress.done
        results = send_to_route(route, message, env=self.env, skip=done, stream=self.stream)
        self.summary.messages += 1
        self.record(message, items, results)

    def record(self, message: Message, items: list[outbox.OutboxItem], results: list[TargetResult]) -> None:
        ids = [i.alert_id for i in items]
        fields = {"event": items[0].event.id, "route": items[0].route}
        failures = [r for r in results if not r.ok]
        if not failures:
            outbox.mark_sent(self.engine, ids, self.at())
            self.summary.sent += len(ids)
            log.info(
                "alert %s sent to %s",
                message.key,
                ", ".join(r.target for r in results),
                extra={**fields, "result": "sent"},
            )
            return
        progress = outbox.Progress(
            items[0].progress.done | {r.index for r in results if r.ok},
            "; ".join(r.error or r.target for r in failures),
        )
        attempts = max(i.attempts for i in items)
        if attempts >= self.max_attempts:
            outbox.mark_failed(self.engine, ids, worker=self.worker, progress=progress)
            self.summary.failed += len(ids)
            log.warning(
                "alert %s failed for good after %d attempts: %s",
                message.key,
                attempts,
                progress.error,
                extra={**fields, "result": "failed"},
            )
        else:
            next_at = self.at() + backoff(attempts, self.rng)
            outbox.mark_retry(self.engine, ids, worker=self.worker, next_at=next_at, progress=progress)
            self.summary.retrying += len(ids)
            log.warning(
                "alert %s not delivered (attempt %d): %s",
                message.key,
                attempts,
                progress.error,
                extra={**fields, "result": "retry"},
            )
        self.summary.errors.append(progress.error or "")

    def fail(self, items: list[outbox.OutboxItem], error: str) -> None:
        progress = outbox.Progress(items[0].progress.done, error)
        outbox.mark_failed(self.engine, [i.alert_id for i in items], worker=self.worker, progress=progress)
        self.summary.failed += len(items)
        self.summary.errors.append(error)

    def hold(self, item: outbox.OutboxItem, until: datetime) -> None:
        outbox.hold(self.engine, [item.alert_id], worker=self.worker, until=until)
        self.summary.held += 1


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """1 min after the first failure, doubling, at most 6 h; plus up to 10% jitter."""
    base = min(FIRST_RETRY * (1 << max(attempts - 1, 0)), MAX_RETRY)
    return base * (1 + (rng or random).uniform(0, 0.1))


def next_digest(after: datetime, at: clock = DIGEST_AT) -> datetime:
    """The first digest time (``at``, UTC) at or after ``after``."""
    after = after.astimezone(UTC)
    slot = after.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return slot if slot >= after else slot + timedelta(days=1)


def alert_counts(engine: Engine) -> dict[str, int]:
    return outbox.alert_counts(engine)


def failed_alerts(engine: Engine, limit: int | None = None) -> list[outbox.FailedAlert]:
    return outbox.failed_alerts(engine, limit)
