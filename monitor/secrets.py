"""Secrets in alert routes: ``${VAR}`` templates, resolved only at the moment of sending.

Route URLs carry tokens and passwords. The watchlist and the database keep the templates; the
values are filled in by ``resolve_url`` just before apprise sends, and anything shown to people
(logs, errors, status) goes through ``redact_url``, which keeps the scheme and host only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote

from monitor.errors import AlertError

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
