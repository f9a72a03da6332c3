"""The HTTP stage: one source URL in, a Fetched (raw bytes and how we got them) or a FetchError out.

One Transport per Fetcher (monitor/transport.py: pools, TLS, proxies), shared by the check threads;
its headers are set once here and never changed per request. Redirects are followed by hand so
every hop is recorded as evidence (a pledge page that moves is news); one fetch carries the
cookies its hops set (a consent or session redirect works) and no fetch sees another's, and each
hop has its own retries and size limit. The body is never decoded to text: that is the extractor's job,
and ``requests`` guesses ISO-8859-1 for charset-less HTML, which garbles UTF-8.

Failures say whether they are likely transient (timeouts, 5xx, 429, bot challenges, empty bodies):
those must never be read as a pledge lapse.
"""

from __future__ import annotations

import email.utils
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
import urllib3.exceptions
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar, get_cookie_header
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict
from requests.utils import requote_uri

from monitor.challenge import ERROR_BODY_LIMIT, header_value, looks_like_bot_challenge
from monitor.errors import FetchError
from monitor.transport import CONNECTION, Transport, prepared_url

if TYPE_CHECKING:
    from monitor.browser import Browser

MAX_REDIRECTS = 10
DEFAULT_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
DEFAULT_ACCEPT_LANGUAGE = "en-US,en;q=0.9"
CHUNK_SIZE = 64 * 1024
RETRY_KINDS = frozenset({"timeout", "connection"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Validators:
    """What the server gave us to ask "changed since?" next time."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Redirect:
    """One hop of a redirect chain, kept as evidence of where the page went."""

    url: str
    status: int
    location: str

    @property
    def permanent(self) -> bool:
        """301 and 308 say "update your links": the basis of ``source.moved``."""
        return self.status in (301, 308)


@dataclass(frozen=True)
class Fetched:
    """A successful fetch: the raw body exactly as received (after Content-Encoding) and its context."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    redirects: tuple[Redirect, ...]
    elapsed: float
    not_modified: bool
    attempts: int
    sent_validators: Validators | None = None
    request_headers: Mapping[str, str] = field(default_factory=dict)  # as sent on the last hop: evidence
    screenshot: bytes | None = None  # a PNG of the watched part, when the browser was asked for one

    def header(self, name: str) -> str | None:
        """Header lookup ignoring case, as HTTP does (``headers`` keeps the server's spelling)."""
        return header_value(self.headers, name)

    @property
    def content_type(self) -> str | None:
        """The media type alone, lowercased: what the extractor dispatches on."""
        media_type = (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()
        return media_type or None

    @property
    def charset(self) -> str | None:
        """The declared charset, lowercased; None when the server did not say (the extractor sniffs)."""
        for param in (self.header("Content-Type") or "").split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                return value.strip().strip("\"'").lower() or None
        return None

    @property
    def validators(self) -> Validators:
        """Validators for the next conditional GET; a 304 that omits them keeps the ones we sent."""
        sent = self.sent_validators if self.not_modified and self.sent_validators else Validators()
        return Validators(
            etag=self.header("ETag") or sent.etag,
            last_modified=self.header("Last-Modified") or sent.last_modified,
        )

    @property
    def permanently_moved(self) -> bool:
        """Every hop was permanent and we ended somewhere else: the source has a new address."""
        return (
            bool(self.redirects)
            and all(hop.permanent for hop in self.redirects)
            and self.final_url != self.url
        )


@dataclass(frozen=True)
class _Reply:
    """One HTTP exchange, read and closed; a redirect carries its decoded Location."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    location: str | None
    request_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Trip:
    """The state of one fetch across its redirect hops and retries."""

    url: str
    cookies: RequestsCookieJar = field(default_factory=RequestsCookieJar)
    hops: list[Redirect] = field(default_factory=list)
    retries: int = 0

    @property
    def attempts(self) -> int:
        """Requests sent, not counting redirect hops: the retry budget is per fetch."""
        return self.retries + 1

    def where(self, url: str) -> str:
        """Name the hop that failed when it is not the URL the caller asked for."""
        return f" at {url}" if url != self.url else ""

    def tries(self, kind: str) -> str:
        """Say how hard we tried when we give up after retries."""
        if self.attempts < 2:
            return ""
        # "timed out after 30s after 3 attempts" reads badly.
        return f" ({self.attempts} attempts)" if kind == "timeout" else f" after {self.attempts} attempts"


class Fetcher:
    """Fetches source URLs; safe to share between the threads of a check pool."""

    def __init__(
        self,
        *,
        user_agent: str,
        pool_size: int = 10,
        max_body: int = 10 * 1024 * 1024,
        retries: int = 2,
        backoff: float = 1.0,
        max_retry_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        browser_pages: int = 2,
    ) -> None:
        self._transport = Transport(pool_size)
        self._headers = _default_headers(user_agent)
        self._user_agent = user_agent
        self._browser_pages = browser_pages
        self._browser: Browser | None = None
        self._browser_lock = threading.Lock()
        self._max_body = max_body
        self._retries = retries
        self._backoff = backoff
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()
        if self._browser is not None:
            self._browser.close()

    @property
    def browser(self) -> Browser:
        """The headless Chromium for ``browser: true`` sources, started on first use (monitor/browser.py)."""
        with self._browser_lock:
            if self._browser is None:
                from monitor.browser import Browser

                self._browser = Browser(
                    user_agent=self._user_agent, pages=self._browser_pages, max_body=self._max_body
                )
            return self._browser

    def fetch(
        self,
        url: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        validators: Validators | None = None,
    ) -> Fetched:
        """GET ``url`` following redirects; raises FetchError on any failure, 304 included as success."""
        started = time.perf_counter()
        problem = _url_problem(url)
        if problem:
            raise FetchError(url, f"invalid URL: {problem}", transient=False, kind="invalid_url")
        request_headers = _request_headers(self._headers, headers, validators)
        trip = _Trip(url)
        reply = self._get_retrying(trip, url, timeout, request_headers)
        while reply.location is not None:
            reply = self._get_retrying(trip, self._redirect(trip, reply), timeout, request_headers)
        return self._result(trip, reply, validators, time.perf_counter() - started)

    def _redirect(self, trip: _Trip, reply: _Reply) -> str:
        """Record the hop and return the next URL, refusing loops past MAX_REDIRECTS and odd targets."""
        assert reply.location is not None
        trip.hops.append(Redirect(reply.url, reply.status, reply.location))
        if len(trip.hops) > MAX_REDIRECTS:
            raise FetchError(
                trip.url,
                f"more than {MAX_REDIRECTS} redirects (last to {reply.location})",
                transient=True,
                status=reply.status,
                kind="redirects",
            )
        target = urljoin(reply.url, requote_uri(reply.location))
        problem = _url_problem(target)
        if problem:
            raise FetchError(
                trip.url,
                f"HTTP {reply.status} redirect{trip.where(reply.url)} to an invalid URL "
                f"{reply.location!r}: {problem}",
                transient=True,
                status=reply.status,
                kind="redirects",
            )
        return target

    def _result(self, trip: _Trip, reply: _Reply, validators: Validators | None, elapsed: float) -> Fetched:
        """Turn the last reply into a Fetched, or the FetchError it amounts to."""
        if 300 <= reply.status < 400 and reply.status != 304:
            raise FetchError(
                trip.url,
                f"HTTP {_status_text(reply.status)} without a Location header{trip.where(reply.url)}",
                transient=True,
                status=reply.status,
                kind="redirects",
            )
        if reply.status >= 400 or reply.status < 200:
            raise _status_error(trip, reply)
        if reply.status != 304 and not reply.body:
            raise FetchError(
                trip.url,
                f"HTTP {_status_text(reply.status)} with an empty body{trip.where(reply.url)}",
                transient=True,
                status=reply.status,
                kind="empty",
            )
        if reply.status != 304 and looks_like_bot_challenge(reply.status, reply.headers, reply.body):
            raise _status_error(trip, reply)
        return Fetched(
            url=trip.url,
            final_url=reply.url,
            status=reply.status,
            headers=reply.headers,
            body=b"" if reply.status == 304 else reply.body,
            redirects=tuple(trip.hops),
            request_headers=reply.request_headers,
            elapsed=elapsed,
            not_modified=reply.status == 304,
            attempts=trip.attempts,
            sent_validators=validators,
        )

    def _get_retrying(self, trip: _Trip, url: str, timeout: float, headers: dict[str, str]) -> _Reply:
        """One hop, retried with backoff on timeouts, connection errors, 408, 429 and 5xx."""
        while True:
            retry_after: float | None = None
            try:
                reply = self._exchange(trip, url, timeout, headers)
            except FetchError as error:
                if error.kind not in RETRY_KINDS:
                    raise
                failure = error
            else:
                if not _retryable_status(reply.status) or looks_like_bot_challenge(
                    reply.status, reply.headers, reply.body
                ):
                    return reply
                failure = _status_error(trip, reply)
                retry_after = _retry_after(reply.headers)
            wait = self._wait(trip.retries, retry_after)
            if wait is None:
                raise _annotated(failure, f"; the server asked to wait {retry_after:.0f}s")
            if trip.retries >= self._retries:
                raise _annotated(failure, trip.tries(failure.kind))
            self._sleep(wait)
            trip.retries += 1

    def _wait(self, retries: int, retry_after: float | None) -> float | None:
        """Exponential backoff, or the server's Retry-After; None when it asks for more than we wait."""
        if retry_after is not None:
            return retry_after if retry_after <= self._max_retry_wait else None
        return float(min(self._backoff * 2**retries, self._max_retry_wait))

    def _exchange(self, trip: _Trip, url: str, timeout: float, headers: dict[str, str]) -> _Reply:
        """Send one GET and read its body within the limits; every library error becomes a FetchError."""
        deadline = time.perf_counter() + timeout
        try:
            target = prepared_url(url)
            sent = _with_cookies(trip, target, headers)
            response = self._transport.send(target, sent, timeout)
            try:
                return self._reply(trip, url, target, sent, response, deadline)
            finally:
                _release(response)
        except TimeoutError:
            raise _timed_out(trip, url, timeout) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException) as exc:
            raise _wrap(trip, url, exc, timeout) from exc

    def _reply(
        self,
        trip: _Trip,
        url: str,
        target: str,
        sent: dict[str, str],
        response: urllib3.BaseHTTPResponse,
        deadline: float,
    ) -> _Reply:
        headers = dict(response.headers)
        status = response.status
        if 200 <= status < 300:
            return _Reply(url, status, headers, self._read_body(trip, url, response, deadline), None, sent)
        body, _ = _read(response, ERROR_BODY_LIMIT, deadline)
        location = _location(status, response.headers)
        if location is not None:
            extract_cookies_to_jar(trip.cookies, _cookie_request(target, sent), response)  # for the next hop
        return _Reply(url, status, headers, body, location, sent)

    def _read_body(self, trip: _Trip, url: str, response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
        """Read a success body, refusing early when Content-Length or the bytes read pass max_body."""
        limit = _format_size(self._max_body)
        declared = _content_length(response.headers.get("Content-Length"))
        if declared is not None and declared > self._max_body:
            raise FetchError(
                trip.url,
                f"body of {declared} bytes is larger than the {limit} limit{trip.where(url)}",
                transient=False,
                status=response.status,
                kind="too_large",
            )
        body, complete = _read(response, self._max_body, deadline)
        if not complete:
            raise FetchError(
                trip.url,
                f"body larger than {limit} limit{trip.where(url)}",
                transient=False,
                status=response.status,
                kind="too_large",
            )
        return body


def _default_headers(user_agent: str) -> dict[str, str]:
    """What every GET says about us, in the order ``requests`` sent it (recorded as evidence)."""
    return {
        "User-Agent": user_agent,
        "Accept-Encoding": "gzip, deflate",
        "Accept": DEFAULT_ACCEPT,
        "Connection": CONNECTION,
        "Accept-Language": DEFAULT_ACCEPT_LANGUAGE,
    }


def _request_headers(
    defaults: Mapping[str, str], headers: Mapping[str, str] | None, validators: Validators | None
) -> dict[str, str]:
    """Our headers, then the source's (which win, whatever their case), then the validators."""
    extra = dict(headers or {})
    if validators and validators.etag:
        extra["If-None-Match"] = validators.etag
    if validators and validators.last_modified:
        extra["If-Modified-Since"] = validators.last_modified
    overridden = {name.lower() for name in extra}
    return {**{k: v for k, v in defaults.items() if k.lower() not in overridden}, **extra}


def _cookie_request(url: str, headers: Mapping[str, str]) -> PreparedRequest:
    """The request as the cookie rules read it (domain, path, secure): only URL and headers matter."""
    request = PreparedRequest()
    request.url = url
    request.headers = CaseInsensitiveDict(headers)
    return request


def _with_cookies(trip: _Trip, url: str, headers: dict[str, str]) -> dict[str, str]:
    """The headers of this hop, with the cookies earlier hops of the same fetch set for it."""
    if not trip.hops:
        return headers
    cookie = get_cookie_header(trip.cookies, _cookie_request(url, headers))
    return {**headers, "Cookie": cookie} if cookie else headers


def _location(status: int, headers: Mapping[str, str]) -> str | None:
    """A redirect's target as sent; UTF-8 that arrived as Latin-1 (as servers send it) is repaired."""
    location = headers.get("Location") if status in REDIRECT_STATUSES else None
    if location is None:
        return None
    try:
        return location.encode("latin1").decode("utf8")
    except UnicodeError:
        return location


def _release(response: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back; one with unread bytes is closed first, so no other GET reads them."""
    if not response.closed:
        response.close()
    response.release_conn()


def _read(response: urllib3.BaseHTTPResponse, limit: int, deadline: float) -> tuple[bytes, bool]:
    """Stream at most ``limit`` bytes (plus one chunk); False when there was more. Raises TimeoutError."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.stream(CHUNK_SIZE, decode_content=True):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], False
        if time.perf_counter() > deadline:
            raise TimeoutError
    return b"".join(chunks), True


def _url_problem(url: str) -> str | None:
    """What makes ``url`` unfetchable before any network traffic, or None."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        return str(exc)
    if parts.scheme.lower() not in ("http", "https"):
        return "not an http(s) URL"
    if not parts.hostname:
        return "no host name"
    return None


def _retryable_status(status: int) -> bool:
    return status in (408, 429) or 500 <= status < 600


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait (delta-seconds or an HTTP-date), or None."""
    value = (header_value(headers, "Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())


def _status_error(trip: _Trip, reply: _Reply) -> FetchError:
    return status_error(trip.url, reply.status, reply.headers, reply.body, trip.where(reply.url))


def status_error(
    url: str, status: int, headers: Mapping[str, str], body: bytes, where: str = ""
) -> FetchError:
    """The FetchError an HTTP status amounts to: challenge pages and overload are transient."""
    if looks_like_bot_challenge(status, headers, body):
        return FetchError(
            url,
            f"HTTP {_status_text(status)}: a bot challenge page, likely bot blocking{where}",
            transient=True,
            status=status,
            kind="bot_challenge",
        )
    return FetchError(
        url,
        f"HTTP {_status_text(status)}{where}",
        transient=_retryable_status(status),
        status=status,
        kind="http",
    )


def _annotated(error: FetchError, suffix: str) -> FetchError:
    return FetchError(
        error.url, error.reason + suffix, transient=error.transient, status=error.status, kind=error.kind
    )


def _timed_out(trip: _Trip, url: str, timeout: float) -> FetchError:
    return FetchError(
        trip.url, f"timed out after {timeout:g}s{trip.where(url)}", transient=True, kind="timeout"
    )


_INVALID_URL_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    urllib3.exceptions.LocationValueError,
)
# urllib3's NewConnectionError (refused, no such host) is a ConnectTimeoutError too: it is tested first
_NOT_CONNECTED = (urllib3.exceptions.ProxyError, urllib3.exceptions.NewConnectionError)
_TIMEOUTS = (TimeoutError, urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.ReadTimeoutError)
_BROKEN = (urllib3.exceptions.ProtocolError, http.client.HTTPException, OSError)


def _wrap(trip: _Trip, url: str, exc: Exception, timeout: float) -> FetchError:
    """Classify a urllib3 (or URL) failure; only a malformed URL is not worth trying again."""
    where = trip.where(url)
    if isinstance(exc, _INVALID_URL_ERRORS):
        return FetchError(trip.url, f"invalid URL{where}: {exc}", transient=False, kind="invalid_url")
    if isinstance(exc, urllib3.exceptions.SSLError):
        return FetchError(trip.url, f"{_describe_tls(exc)}{where}", transient=True, kind="tls")
    if not isinstance(exc, _NOT_CONNECTED) and _caused_by(exc, *_TIMEOUTS):
        return _timed_out(trip, url, timeout)
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return FetchError(trip.url, f"could not decompress the body{where}", transient=True, kind="decoding")
    if isinstance(exc, (*_NOT_CONNECTED, *_BROKEN)):
        return FetchError(
            trip.url, f"{_describe_connection(url, exc)}{where}", transient=True, kind="connection"
        )
    return FetchError(trip.url, f"request failed{where}: {exc}", transient=True, kind="error")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (requests nests urllib3 nests socket errors)."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        first_arg = current.args[0] if current.args else None
        inners = (current.__cause__, current.__context__, reason, first_arg)
        pending.extend(inner for inner in inners if isinstance(inner, BaseException))


def _caused_by(exc: BaseException, *types: type[BaseException]) -> bool:
    return any(isinstance(cause, types) for cause in _causes(exc))


_CONNECTION_PHRASES: tuple[tuple[type[BaseException], str], ...] = (
    (socket.gaierror, "could not resolve host {host}"),
    (http.client.RemoteDisconnected, "the server closed the connection without responding"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset by the server"),
    (http.client.IncompleteRead, "connection broken before the whole body arrived"),
    (urllib3.exceptions.ProtocolError, "connection broken before the whole body arrived"),
)


def _describe_connection(url: str, exc: BaseException) -> str:
    causes = list(_causes(exc))
    for kind, phrase in _CONNECTION_PHRASES:
        if any(isinstance(cause, kind) for cause in causes):
            return phrase.format(host=urlsplit(url).hostname)
    for cause in causes:
        if isinstance(cause, OSError) and cause.strerror:
            return f"connection failed: {cause.strerror}"
    return "connection failed"


def _describe_tls(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {cause.verify_message}"
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed: {cause.reason or cause}"
    return "TLS handshake failed"


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _format_size(size: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def _content_length(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


@dataclass(frozen=True)
class ServiceReply:
    """A service's answer (a Time-Stamp Authority, a web archive): status, headers, body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def call_service(
    method: str,
    url: str,
    *,
    timeout: float,
    data: bytes | Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    limit: int = 1_000_000,
) -> ServiceReply:
    """One request to a service pledge-monitor reports to (not a watched page): no redirects, no
    retries (the caller's queue retries later), and any failure a transient FetchError whose text
    holds no header values (they may carry credentials)."""
    try:
        with requests.request(
            method, url, data=data, headers=dict(headers or {}), timeout=timeout, allow_redirects=False,
            stream=True,
        ) as response:  # fmt: skip
            body = response.raw.read(limit + 1, decode_content=True)
            status, received = response.status_code, dict(response.headers)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if _caused_by(exc, socket.timeout, TimeoutError, requests.Timeout):
            raise FetchError(url, f"no answer within {timeout:g}s", transient=True, kind="timeout") from None
        raise FetchError(url, _describe_connection(url, exc), transient=True, kind="connection") from None
    if len(body) > limit:
        raise FetchError(url, f"answer larger than {_format_size(limit)}", transient=True, status=status)
    return ServiceReply(status, received, body)
