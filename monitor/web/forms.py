"""The action forms (only when ``serve --actions``): sign in and out, acknowledge, mute.

Each POST needs the session cookie of a valid token and the CSRF value of that token's
forms, and is refused when its Origin (or Referer) names another site. Bodies are small
URL-encoded forms; anything else is refused before it is parsed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from urllib.parse import parse_qs, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from monitor.events import ActionTarget
from monitor.store.actions import TARGET_KINDS
from monitor.web.app import BadRequest, Refused, Web, base, client, web_of
from monitor.web.auth import COOKIE, Actor, csrf_ok, resolve

MAX_FORM = 16 * 1024
MAX_NOTE = 500
SESSION_DAYS = 30


async def read_form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadRequest("send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise BadRequest(f"the form is larger than {MAX_FORM} bytes")
    try:
        parsed = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form could not be read") from None
    return {k: v[0] for k, v in parsed.items()}


def same_origin(request: Request) -> None:
    """Refuse a POST that another site's page made (when the browser says so)."""
    origin = request.headers.get("origin")
    if origin == "null":
        raise Refused("this form was sent from another site (Origin: null)")
    sent = origin or request.headers.get("referer")
    if not sent:
        return
    parts = urlsplit(sent)
    if (parts.scheme, parts.netloc) != (request.url.scheme, request.url.netloc):
        raise Refused("this form was sent from another site")


def local_next(request: Request, value: str | None) -> str:
    """Where to go after a form: a path of this site only (never an open redirect)."""
    root = base(request)
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return root + "/"
    return value if value.startswith(root + "/") else root + value


async def form_actor(request: Request, form: dict[str, str]) -> Actor:
    web = web_of(request)
    same_origin(request)
    token = request.cookies.get(COOKIE)
    actor = await run_in_threadpool(resolve, token, client(request), web.limit, web.actions.token_name)
    if actor is None:
        raise Refused("sign in with an access token first", status=401 if not token else 403)
    if not csrf_ok(actor.token_digest, form.get("csrf")):
        raise Refused("this form has expired or came from elsewhere: reload the page and try again")
    return actor


def note_of(form: dict[str, str], required: bool) -> str:
    note = " ".join(form.get("note", "").split())
    if required and not note:
        raise BadRequest("write a short note (for instance “false alarm” or “confirmed weakening”)")
    if len(note) > MAX_NOTE:
        raise BadRequest(f"the note is longer than {MAX_NOTE} characters")
    return note


def parse_until(value: str, now: datetime) -> datetime:
    """``YYYY-MM-DD`` (the start of that day, UTC, in the future) or ``now`` (lift the mute)."""
    if value.strip().lower() == "now":
        return now
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"until must be a date like 2026-12-31, got {value!r}") from None
    until = datetime.combine(day, time(0, 0), tzinfo=UTC)
    if until <= now:
        raise BadRequest(f"until must be in the future, got {value}")
    return until


def check_target(web: Web, kind: str, target: str) -> None:
    if kind == ActionTarget.ROUTE and target not in web.route_names():
        raise BadRequest(f"no route named {target!r}; routes: {', '.join(web.route_names()) or 'none'}")
    if kind not in TARGET_KINDS:
        raise BadRequest("target_kind must be source or route")


# -- handlers -----------------------------------------------------------------------------------


def login_page(request: Request) -> Response:
    web = web_of(request)
    return web.page(
        request, "login.html", next=local_next(request, request.query_params.get("next")), message=None
    )


async def login(request: Request) -> Response:
    web = web_of(request)
    same_origin(request)
    form = await read_form(request)
    token = form.get("token", "").strip()
    actor = await run_in_threadpool(resolve, token, client(request), web.limit, web.actions.token_name)
    target = local_next(request, form.get("next"))
    if actor is None:
        return web.page(
            request, "login.html", http_status=401, next=target, message="That token is not valid."
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_DAYS * 86400,
        path=base(request) + "/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


async def logout(request: Request) -> Response:
    form = await read_form(request)
    await form_actor(request, form)
    response = RedirectResponse(base(request) + "/", status_code=303)
    response.delete_cookie(COOKIE, path=base(request) + "/")
    return response


async def acknowledge(request: Request) -> Response:
    web = web_of(request)
    form = await read_form(request)
    actor = await form_actor(request, form)
    note = note_of(form, required=True)
    event_id = request.path_params["event_id"]
    await run_in_threadpool(web.actions.acknowledge, event_id, actor=actor.name, note=note, now=web.clock())
    return RedirectResponse(local_next(request, form.get("next")), status_code=303)


async def mute(request: Request) -> Response:
    web = web_of(request)
    form = await read_form(request)
    actor = await form_actor(request, form)
    kind, target = form.get("target_kind", ""), form.get("target", "")
    now = web.clock()
    until = parse_until(form.get("until", ""), now)
    check_target(web, kind, target)
    note = note_of(form, required=False)
    await run_in_threadpool(web.actions.mute, kind, target, until=until, actor=actor.name, note=note, now=now)
    return RedirectResponse(local_next(request, form.get("next")), status_code=303)


ROUTES: list[BaseRoute] = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/events/{event_id:int}/ack", acknowledge, methods=["POST"]),
    Route("/mutes", mute, methods=["POST"]),
]
