"""The ASGI app: routes, security headers, errors, and what every handler shares.

Read-only unless ``actions`` is on: then (and only then) the sign-in page, the action forms and
the POST routes exist. Every response carries a Content-Security-Policy that allows no script
at all and no framing; pages are server-rendered from the report's autoescaped templates.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from jinja2 import ChoiceLoader, Environment, PackageLoader
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute

from monitor.audit import report
from monitor.errors import MonitorError, NotFoundError
from monitor.events import ActionTarget, AlertStatus
from monitor.store.repo import Store
from monitor.web.auth import COOKIE, Actor, RateLimit, Throttled, resolve

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
PLEDGES_FRESH_S = 10.0  # the pledge list changes only when the watchlist is synced


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Web:
    """What every handler shares: the stores, the settings, the templates, the rate limit."""

    store: Store
    actions_enabled: bool = False
    routes: Sequence[str] = ()
    clock: Callable[[], datetime] = utcnow
    limit: RateLimit = field(default_factory=RateLimit)

    def __post_init__(self) -> None:
        self.audit = self.store.audit
        self.queries = self.store.web
        self.actions = self.store.actions
        self.env = environment()
        self._pledges: tuple[float, list[dict[str, Any]]] | None = None

    def pledges(self) -> list[dict[str, Any]]:
        """Every pledge, re-read at most every ``PLEDGES_FRESH_S`` seconds: thousands of rows
        that the tracker, company pages, feeds and the calendar all filter in memory."""
        now = time.monotonic()
        cached = self._pledges
        if cached is None or now - cached[0] > PLEDGES_FRESH_S:
            cached = (now, self.queries.pledges())
            self._pledges = cached
        return cached[1]

    def route_names(self) -> list[str]:
        return sorted(set(self.routes) | set(self.queries.routes()))

    # -- who is asking ----------------------------------------------------------------------

    def cookie_actor(self, request: Request) -> Actor | None:
        """The signed-in person of a page request; a bad or throttled cookie is just nobody."""
        if not self.actions_enabled:
            return None
        try:
            return resolve(request.cookies.get(COOKIE), client(request), self.limit, self.actions.token_name)
        except Throttled:
            return None

    def bearer_actor(self, request: Request) -> Actor | None:
        """The API's actor: ``Authorization: Bearer TOKEN`` only (raises Throttled)."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return resolve(token.strip(), client(request), self.limit, self.actions.token_name)

    # -- rendering ---------------------------------------------------------------------------

    def page(self, request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        actor = context.pop("actor", None) or self.cookie_actor(request)
        html = self.env.get_template(template).render(
            base=base(request),
            generated=self.clock(),
            head=self.audit.head(),
            feed=True,
            root=base(request) + "/",
            actor=actor,
            actions_enabled=self.actions_enabled,
            request_path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=http_status)


def environment() -> Environment:
    """The report's environment (autoescape, filters), with the dashboard's templates first."""
    env = report.environment()
    env.loader = ChoiceLoader(
        [PackageLoader("monitor", "templates/web"), PackageLoader("monitor", "templates/report")]
    )
    env.filters.update(seg=seg)
    # `a.status == AlertStatus.MUTED`, `value="{{ ActionTarget.SOURCE }}"`: the members, not their spelling
    env.globals.update(AlertStatus=AlertStatus, ActionTarget=ActionTarget)
    return env


def seg(value: object) -> str:
    """One URL path segment: slashes and all escaped."""
    return quote(str(value), safe="")


def base(request: Request) -> str:
    """The path prefix the app is served under (``--root-path``), without a trailing slash."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def client(request: Request) -> str:
    """The client's address (uvicorn puts the forwarded one here for trusted proxies)."""
    return request.client.host if request.client else "unknown"


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def page_size(request: Request) -> int:
    try:
        size = int(request.query_params.get("limit", PAGE_SIZE))
    except ValueError:
        raise BadRequest("limit must be a whole number") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    return size


def int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value or "")
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None


class BadRequest(MonitorError):
    """A request the app cannot answer as asked: a 400 saying why."""


class Refused(MonitorError):
    """An action without a valid token or CSRF value: 401/403, saying why (never the token)."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith(("/api/",)) or request.method != "GET":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(base(request) + "/api/") or request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if _is_api(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    web = web_of(request)
    response = web.page(request, "error.html", http_status=status, code=status, message=message)
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(request, 404, str(exc) if isinstance(exc, NotFoundError) else "No such page.")


async def _bad_request(request: Request, exc: Exception) -> Response:
    return _error(request, 400, str(exc))


async def _refused(request: Request, exc: Exception) -> Response:
    status = exc.status if isinstance(exc, Refused) else 403
    headers = {"WWW-Authenticate": 'Bearer realm="pledge-monitor"'} if status == 401 else None
    return _error(request, status, str(exc), headers)


async def _throttled(request: Request, exc: Exception) -> Response:
    retry = exc.retry_after if isinstance(exc, Throttled) else 60
    return _error(request, 429, str(exc), {"Retry-After": str(retry)})


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    messages = {404: "No such page.", 405: "This method is not allowed here (the dashboard is read-only)."}
    return _error(request, status, messages.get(status, getattr(exc, "detail", "Error")))


def create_app(web: Web) -> Starlette:
    from starlette.exceptions import HTTPException

    from monitor.web import api, forms, pages

    routes: list[BaseRoute] = [*pages.ROUTES, *api.ROUTES]
    if web.actions_enabled:
        routes += [*forms.ROUTES, *api.ACTION_ROUTES]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            NotFoundError: _not_found,
            BadRequest: _bad_request,
            Refused: _refused,
            Throttled: _throttled,
            HTTPException: _http_error,
        },
    )
    app.state.web = web
    return app


def health(request: Request) -> Response:
    """For load balancers and compose: the database answers."""
    web_of(request).store.next_due_at()
    return PlainTextResponse("ok\n")
