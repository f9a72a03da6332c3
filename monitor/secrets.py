"""Secrets in alert routes and source headers: ``${VAR}`` templates, resolved only when used.

Route URLs carry tokens and passwords. The watchlist and the database keep the templates; the
values are filled in by ``resolve_url`` just before apprise sends, and anything shown to people
(logs, errors, status) goes through ``redact_url``, which keeps the scheme and host only.

Source headers (``Authorization: Bearer ${TOKEN}``) work the same way: ``resolve_headers`` fills
them in for the request, and the headers a snapshot keeps as evidence (sent and received) go
through ``redact_headers`` first, so the database, WARC files, exports and reports hold
``Bearer ***``, never the token.

What may still carry a secret in text (log records, apprise's error messages) goes through a
``Scrubber``; ``ScrubFilter`` applies one to every record a logger or handler passes.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

from monitor.errors import AlertError, FetchError

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_HOST = re.compile(
    r"localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]"
    r"|(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_SECRET_QUERY_KEYS = {"pass", "password", "pwd", "secret", "token", "key", "apikey"}


def referenced_env_vars(template: str) -> set[str]:
    return set(ENV_REF.findall(template))


def resolve_url(template: str, env: Mapping[str, str]) -> str:
    """Fill in ``${VAR}`` references at send time; values in the userinfo are percent-encoded."""
    missing = sorted(name for name in referenced_env_vars(template) if not env.get(name))
    if missing:
        raise AlertError(
            f"environment variable {', '.join(missing)} is not set (needed by {redact_url(template)})"
        )
    userinfo_end = _authority(template)[1]

    def fill(match: re.Match[str]) -> str:
        value = env[match.group(1)]
        return quote(value, safe="") if match.start() < userinfo_end else value

    return ENV_REF.sub(fill, template)


def redact_url(url_or_template: str) -> str:
    """Scheme and host only (``mailtos://smtp.example.org/***``): safe to log, whatever the URL holds."""
    scheme, sep, rest = url_or_template.partition("://")
    if not sep or not SCHEME.fullmatch(scheme):
        return "***"
    if not rest:
        return f"{scheme}://"
    authority = _authority(url_or_template)[0]
    host_port = authority.rpartition("@")[2]
    if host_port.startswith("["):
        host, _, port = host_port.partition("]")
        host, port = host + "]", port.removeprefix(":")
    else:
        host, _, port = host_port.partition(":")
    if not _HOST.fullmatch(host) or (port and not port.isdigit()):
        return f"{scheme}://***"
    return f"{scheme}://{host}{':' + port if port else ''}/***"


def _authority(url: str) -> tuple[str, int]:
    """The ``user:pass@host:port`` part and the index in ``url`` where its userinfo ends."""
    if "://" not in url:
        return "", -1
    start = url.find("://") + 3
    end = len(url)
    for stop in "/?#":
        found = url.find(stop, start)
        end = found if found != -1 and found < end else end
    authority = url[start:end]
    at = authority.rfind("@")
    return authority, (start + at if at != -1 else -1)


def has_literal_secret(template: str) -> bool:
    authority = _authority(template)[0]
    userinfo = authority.rpartition("@")[0]
    password = userinfo.partition(":")[2]
    if password and not ENV_REF.fullmatch(password):
        return True
    query = template.partition("?")[2].partition("#")[0]
    return any(
        key.lower() in _SECRET_QUERY_KEYS and value and not ENV_REF.fullmatch(value)
        for key, value in parse_qsl(query, keep_blank_values=True)
    )


# --------------------------------------------------------------------------- headers

_SENSITIVE_HEADER = re.compile(
    r"^(?:authorization|proxy-authorization|cookie|set-cookie)$"
    r"|api[-_]?key|token|secret|passw|session|credential|auth|signature|[-_]key$",
    re.IGNORECASE,
)
_AUTH_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9-]*)\s+\S")
# what may stay written out around ${VAR} references: an auth scheme word and cookie names
_TEMPLATE_FRAME = re.compile(r"\s*(?:[A-Za-z][A-Za-z0-9-]*\s+)?(?:[^=;\s]+=\s*(?:;\s*)?)*")


def is_sensitive_header(name: str) -> bool:
    """Authorization, Cookie and API-key style headers: their values are credentials."""
    return _SENSITIVE_HEADER.search(name.strip()) is not None


def has_literal_header_secret(value: str) -> bool:
    """True when a sensitive header's value holds more than ``${VAR}`` references, a scheme word
    (``Bearer ${TOKEN}``) and cookie names (``session=${SESSION}``)."""
    rest = ENV_REF.sub("", value)
    if not rest.strip():
        return False
    if ENV_REF.search(value) is None:
        return True
    return _TEMPLATE_FRAME.fullmatch(rest) is None


def resolve_headers(headers: Mapping[str, str], env: Mapping[str, str], url: str) -> dict[str, str]:
    """Fill in ``${VAR}`` references for a request to ``url``.

    A variable not set fails the check as transient (fix the environment and it recovers), never
    as a page gone: ``source.failing`` after a few, not a lapse.
    """
    wanted = {name: referenced_env_vars(value) for name, value in headers.items()}
    missing = sorted({var for refs in wanted.values() for var in refs if not env.get(var)})
    if missing:
        needed = ", ".join(name for name, refs in wanted.items() if refs & set(missing))
        reason = f"environment variable {', '.join(missing)} is not set (needed by header {needed})"
        raise FetchError(url, reason, transient=True, kind="config")
    return {name: ENV_REF.sub(lambda m: env[m.group(1)], value) for name, value in headers.items()}


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers safe to store and show: credentials become ``***``, their shape stays."""
    return {
        name: redact_header_value(value) if is_sensitive_header(name) else value
        for name, value in headers.items()
    }


def redact_header_value(value: str) -> str:
    """``Bearer ***``, ``session=***; theme=***``, or ``***``."""
    if "=" in value and not _AUTH_SCHEME.match(value):
        parts = [part.strip() for part in value.split(";") if part.strip()]
        return "; ".join(f"{part.partition('=')[0].strip()}=***" if "=" in part else part for part in parts)
    scheme = _AUTH_SCHEME.match(value)
    return f"{scheme.group(1)} ***" if scheme else "***"


# --------------------------------------------------------------------------- scrubbing

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<pw>[^/\s@]+)@")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class Scrubber:
    """Replaces known secret values (also percent-encoded) and passwords in URLs by ``***``.

    ``replace`` maps whole texts to what shows instead (a resolved route URL to its redacted form);
    it applies first, so a URL reads as its target rather than as a row of stars.
    """

    def __init__(self, secrets: Iterable[str] = (), *, replace: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._replace = dict(replace or {})
        self._secrets: tuple[str, ...] = ()
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        """Swap the secret values (on reload: routes may use other variables now)."""
        variants = {v for s in secrets if len(s) >= 3 for v in (s, quote(s, safe=""), quote_plus(s))}
        kept = tuple(sorted(variants, key=len, reverse=True))
        with self._lock:
            self._secrets = kept

    def __call__(self, text: str) -> str:
        for old, new in self._replace.items():
            text = text.replace(old, new)
        text = _USERINFO.sub(r"\g<scheme>\g<user>:***@", text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class ScrubFilter(logging.Filter):
    """Scrubs a record's message, traceback and ``extra=`` fields before any handler writes it."""

    def __init__(self, scrub: Callable[[str], str]) -> None:
        super().__init__()
        self.scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.scrub(_message(record)), None
        if record.exc_info:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in record_fields(record).items():
            if isinstance(value, str):
                setattr(record, key, self.scrub(value))
        return True


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` values of a record."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a bad format string must not lose the record (nor raise in logging)
        return str(record.msg)
