"""The watchlist's values: durations, sizes, ids, URLs, selectors, dates, and what each one says
when it is wrong.

Each value is an annotated type whose validator raises a message in the maintainer's words
(``expected a duration like 30m, 6h or 1d, got '6 hours'``); the loader adds the file, line and key.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator
from pydantic_core import PydanticCustomError
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from monitor.alerts.schemes import is_sendable
from monitor.events import EVENT_KINDS, SEVERITY_NAMES, Severity, pattern_matches_any_kind
from monitor.secrets import ENV_REF, SCHEME, has_literal_secret, redact_url
from monitor.weakening import LANGUAGES

_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DURATION_HINT = "expected a duration like 30m, 6h or 1d"
_SIZE = re.compile(r"(\d+)\s*([kmg]i?b|b)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
SLUG = re.compile(r"[a-z0-9][a-z0-9._-]*")


YEAR = timedelta(days=365)
_UNIT_SECONDS = (7 * 86400, 86400, 3600, 60, 1)


def parse_duration(text: str, *, at_most: timedelta = YEAR) -> timedelta:
    """Read ``30s``, ``10m``, ``6h``, ``1d``, ``2w`` or combinations such as ``1h30m``.

    Bounded (a year unless said otherwise): a longer interval is a typo, and a huge one would
    overflow date arithmetic on the first check.
    """
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{_DURATION_HINT}, got {text!r}")
    seconds = sum(int(g or 0) * unit for g, unit in zip(match.groups(), _UNIT_SECONDS, strict=True))
    if seconds > at_most.total_seconds():
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise ValueError(f"expected a duration of at most {at_most.days}d, got {shown!r}")
    return timedelta(seconds=seconds)


def fail(message: str) -> PydanticCustomError:
    # The message travels in the context so that "${ENV_VAR}" is never read as a placeholder.
    return PydanticCustomError("watchlist", "{message}", {"message": message})


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise fail(f"{_DURATION_HINT}, got {show(value)}")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise fail("expected a duration longer than zero, like 30s or 6h")
    return value


def _byte_size(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise fail(f"expected a size like 10MB, 512KB or 1GiB, got {show(value)}")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def one_or_many(value: object) -> object:
    """Let a single string stand for a one-item list (``remove: .ads``)."""
    return [value] if isinstance(value, str) else value


def _text(value: str) -> str:
    if not value.strip():
        raise fail("expected non-empty text")
    return value.strip()


def _slug(value: str) -> str:
    if not SLUG.fullmatch(value):
        raise fail(f"expected a lowercase id like 'ibm-letter' (a-z, 0-9, '.', '_', '-'), got {value!r}")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise fail(f"invalid regular expression '{value}': {exc}") from None
    return value


@functools.cache
def _probe_page() -> LexborHTMLParser:
    return LexborHTMLParser("<p></p>")


def _css(value: str) -> str:
    """A selector the parser cannot read would fail every check of its source: say so now."""
    try:
        _probe_page().css(value)
    except SelectolaxError:
        raise fail(f"invalid CSS selector '{value}'; expected one like article or div.policy") from None
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(f"expected an http(s) URL with a host, like https://example.org/policy, got {value!r}")
    return value.strip()


def _date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise fail(f"expected a date like 2020-06-10, got {show(value)}")


def _until(value: object) -> date | None:
    if value == "indefinite":
        return None
    try:
        return _date(value)
    except PydanticCustomError:
        raise fail(f"expected a date like 2021-06-10 or 'indefinite', got {show(value)}") from None


def _severity(value: object) -> Severity:
    if isinstance(value, Severity):
        return value
    if isinstance(value, str) and value.strip().lower() in SEVERITY_NAMES:
        return Severity.parse(value)
    raise fail(f"expected one of {', '.join(SEVERITY_NAMES)}, got {show(value)}")


def _language(value: str) -> str:
    """A pledge's language picks its weakening rules: one we have rules for, as a BCP 47 tag."""
    tag = value.strip().replace("_", "-")
    primary = tag.split("-")[0].lower()
    if not re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*", tag) or primary not in LANGUAGES:
        raise fail(
            f"expected a language with weakening rules ({', '.join(LANGUAGES)}, or a tag like 'fr-CA'), "
            f"got {show(value)}"
        )
    return tag.lower()


def _event_pattern(value: str) -> str:
    if not pattern_matches_any_kind(value):
        raise fail(
            f"{value!r} matches no event kind{did_you_mean(value, EVENT_KINDS)}; "
            f"valid kinds: {', '.join(EVENT_KINDS)} (or globs like 'pledge.*', '*')"
        )
    return value


def _header_pairs(value: object) -> object:
    if not isinstance(value, Mapping):
        raise fail(f"expected a mapping of header names to values, got {show(value)}")
    for name, text in value.items():
        if not isinstance(text, str):
            raise fail(f"expected text for header {name!r}, got {show(text)}")
    return tuple(value.items())


def _reminders(value: object) -> object:
    days = [value] if isinstance(value, int) else value
    if isinstance(days, list) and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in days):
        return tuple(sorted(set(days), reverse=True))
    raise fail(f"expected a list of whole numbers of days, like [30, 7], got {show(value)}")


def _route_url(value: str) -> str:
    """Keep the template as written; refuse secrets written out in it."""
    scheme, sep, _ = value.partition("://")
    whole_url_from_env = ENV_REF.match(value) is not None  # "${SLACK_WEBHOOK_URL}"
    if not whole_url_from_env and (not sep or not SCHEME.fullmatch(scheme)):
        raise fail("expected an apprise URL like 'slack://...' or 'mailtos://...' (value not shown)")
    if "${" in ENV_REF.sub("", value):
        raise fail(
            f"malformed ${{...}} reference in {redact_url(value)}; write secrets as ${{ENV_VAR}} references"
        )
    if has_literal_secret(value):
        raise fail(f"{redact_url(value)} holds a literal password; write secrets as ${{ENV_VAR}} references")
    if not whole_url_from_env and not ENV_REF.search(scheme) and not is_sendable(scheme.lower()):
        raise fail(
            f"unknown alert scheme {scheme!r}{did_you_mean(scheme.lower(), _apprise_schemes())}; "
            "expected console:// or one apprise sends to (https://github.com/caronc/apprise/wiki)"
        )
    return value


def _apprise_schemes() -> frozenset[str]:
    from monitor.alerts.send import sendable_schemes  # an unknown scheme: apprise's own list, to suggest

    return sendable_schemes()


def show(value: object) -> str:
    """A value as a message quotes it: short, and never a whole mapping or list."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(wanted: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(wanted, [str(c) for c in choices], n=1)  # an enum as its value
    return f" (did you mean {close[0]!r}?)" if close else ""


Text = Annotated[str, AfterValidator(_text)]
Slug = Annotated[str, AfterValidator(_slug)]
Css = Annotated[str, AfterValidator(_text), AfterValidator(_css)]
Regex = Annotated[str, AfterValidator(_regex)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Duration = Annotated[timedelta, PlainValidator(_duration)]
PositiveDuration = Annotated[timedelta, PlainValidator(_duration), AfterValidator(_positive)]
DateValue = Annotated[date, PlainValidator(_date)]
Until = Annotated[date | None, PlainValidator(_until)]
Count = Annotated[int, Field(strict=True, ge=1)]
ByteSize = Annotated[int, PlainValidator(_byte_size)]
Reminders = Annotated[tuple[int, ...], PlainValidator(_reminders)]
SeverityValue = Annotated[Severity, PlainValidator(_severity)]
Language = Annotated[str, AfterValidator(_language)]
EventPattern = Annotated[str, AfterValidator(_event_pattern)]
RouteUrl = Annotated[str, AfterValidator(_route_url)]
HeaderPairs = Annotated[tuple[tuple[str, str], ...], BeforeValidator(_header_pairs)]
Texts = Annotated[tuple[Text, ...], BeforeValidator(one_or_many)]
Slugs = Annotated[tuple[Slug, ...], BeforeValidator(one_or_many)]
Selectors = Annotated[tuple[Css, ...], BeforeValidator(one_or_many)]
Regexes = Annotated[tuple[Regex, ...], BeforeValidator(one_or_many)]


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: str) -> str:
    """The name of an environment variable (``${NAME}`` is read as NAME), never a credential."""
    name = value.strip()
    match = ENV_REF.fullmatch(name)
    name = match.group(1) if match else name
    if not _ENV_NAME.fullmatch(name):
        raise fail(
            "expected the name of an environment variable, like PLEDGE_MONITOR_IA_SECRET "
            "(value not shown: put the credential itself in that variable)"
        )
    return name


EnvName = Annotated[str, AfterValidator(_env_name)]
