"""The JSON API under ``/api/``: the same records as ``export``, paged, by stable id.

Lists are newest (highest id) first: ``{"items": [...], "next": "/api/...?before=ID"}``; follow
``next`` until it is null. Records carry export's columns under export's names (see
``monitor.audit.export``), plus what a page shows: a change's diff, an event's
acknowledgements and alerts. Actions are POSTs with ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from monitor import diff as differ
from monitor.audit.export import COLUMNS, iso_time, record
from monitor.errors import NotFoundError
from monitor.store.actions import ActionRow, Mute
from monitor.store.web_queries import Page
from monitor.web.app import BadRequest, Refused, base, int_param, page_size, web_of
from monitor.web.forms import check_target, parse_until
from monitor.web.openapi import document
from monitor.web.pages import ALERT_STATUSES

MAX_BODY = 16 * 1024
SOURCE_FIELDS = (
    "id",
    "url",
    "kind",
    "active",
    "health",
    "failures",
    "last_check_at",
    "last_good_at",
    "next_check_at",
    "moved_to",
    "parent_id",
)


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def _list(request: Request, items: list[dict[str, Any]], page: Page) -> JSONResponse:
    nxt = None
    if page.next_before is not None:
        params = dict(request.query_params)
        params["before"] = str(page.next_before)
        from urllib.parse import urlencode

        nxt = f"{base(request)}{request.url.path[len(base(request)) :]}?{urlencode(params)}"
    return _json({"items": items, "next": nxt})


def _times(row: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {k: iso_time(row[k]) if k in names else row[k] for k in row}


def action_json(a: ActionRow) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "actor": a.actor,
        "at": iso_time(a.at),
        "target_kind": a.target_kind,
        "target": a.target,
        "until": iso_time(a.until),
        "note": a.note,
    }


def mute_json(mt: Mute) -> dict[str, Any]:
    data = asdict(mt)
    data["until"], data["at"] = iso_time(mt.until), iso_time(mt.at)
    return data


# -- reads --------------------------------------------------------------------------------------


def index(request: Request) -> Response:
    root = base(request)
    names = ("pledges", "sources", "checks", "changes", "events", "alerts", "mutes", "actions")
    return _json({"openapi": f"{root}/api/openapi.json", **{n: f"{root}/api/{n}" for n in names}})


def openapi(request: Request) -> Response:
    return _json(document(base(request), web_of(request).actions_enabled))


def pledges(request: Request) -> Response:
    web = web_of(request)
    q = request.query_params
    rows = [
        p
        for p in web.pledges()
        if (not q.get("company") or p["company"] == q["company"])
        and (not q.get("tag") or q["tag"] in (p["spec"] or {}).get("tags", ()))
        and (not q.get("state") or p["state"] == q["state"])
    ]
    rows.sort(key=lambda p: p["id"], reverse=True)
    if q.get("before"):
        rows = [p for p in rows if p["id"] < q["before"]]
    size = page_size(request)
    page = Page(rows[:size], rows[size - 1]["id"] if len(rows) > size else None)
    return _list(request, [record(p, COLUMNS["pledges"]) for p in page.rows], page)


def pledge(request: Request) -> Response:
    web = web_of(request)
    pledge_id = request.path_params["pledge_id"]
    row = web.queries.pledge(pledge_id)
    if row is None:
        raise NotFoundError(f"no pledge '{pledge_id}'")
    clauses = [
        {
            "clause": c.clause,
            "source_id": c.source_id,
            "state": c.state,
            "pending": c.pending,
            "passage": c.passage,
            "similarity": c.similarity,
            "updated_at": iso_time(c.updated_at),
        }
        for c in web.store.clause_states(pledge_id)
    ]
    return _json({**record(row, COLUMNS["pledges"]), "clause_states": clauses})


def sources(request: Request) -> Response:
    web = web_of(request)
    page = web.queries.sources(
        request.query_params.get("q"), request.query_params.get("before"), page_size(request)
    )
    times = ("last_check_at", "last_good_at", "next_check_at")
    return _list(request, [_times(r, times) for r in page.rows], page)


def source(request: Request) -> Response:
    row = web_of(request).queries.source(request.path_params["source_id"])
    if row is None:
        raise NotFoundError(f"no source '{request.path_params['source_id']}'")
    return _json(_times(row, ("last_check_at", "last_good_at", "next_check_at")))


def checks(request: Request) -> Response:
    web = web_of(request)
    page = web.queries.checks(
        request.query_params.get("source"), int_param(request, "before"), page_size(request)
    )
    return _list(request, [record(r, COLUMNS["checks"]) for r in page.rows], page)


def changes(request: Request) -> Response:
    web = web_of(request)
    source_id = request.query_params.get("source")
    page = web.queries.changes(
        q=request.query_params.get("q") or None,
        source_ids=[source_id] if source_id else None,
        before=int_param(request, "before"),
        limit=page_size(request),
    )
    return _list(request, [record(r, COLUMNS["changes"]) for r in page.rows], page)


def change(request: Request) -> Response:
    web = web_of(request)
    change_id = request.path_params["change_id"]
    row, stored = web.queries.change(change_id), web.queries.change_delta(change_id)
    if row is None or stored is None:
        raise NotFoundError(f"no change with id {change_id}")
    text_hash, delta = stored
    diff = differ.from_delta(web.store.load_text(text_hash), delta)
    root = base(request)
    return _json(
        {
            **record(row, COLUMNS["changes"]),
            "diff": {
                "ops": [[op, text] for op, text in diff.ops],
                "added": diff.added(),
                "removed": diff.removed(),
            },
            "warc": f"{root}/change/{change_id}/warc",
            "page": f"{root}/change/{change_id}",
        }
    )


def events(request: Request) -> Response:
    web = web_of(request)
    q = request.query_params
    page = web.queries.events(
        q=q.get("q") or None,
        kind=q.get("kind") or None,
        pledge_ids=[q["pledge"]] if q.get("pledge") else None,
        source_id=q.get("source") or None,
        before=int_param(request, "before"),
        limit=page_size(request),
    )
    acks = web.actions.acks([r["id"] for r in page.rows])
    items = [
        {**record(r, COLUMNS["events"]), "acks": [action_json(a) for a in acks.get(r["id"], [])]}
        for r in page.rows
    ]
    return _list(request, items, page)


def event(request: Request) -> Response:
    web = web_of(request)
    event_id = request.path_params["event_id"]
    row = web.queries.event(event_id)
    if row is None:
        raise NotFoundError(f"no event with id {event_id}")
    alerts = web.queries.alerts(event_ids=[event_id], limit=100).rows
    return _json(
        {
            **record(row, COLUMNS["events"]),
            "acks": [action_json(a) for a in web.actions.acks([event_id]).get(event_id, [])],
            "alerts": [alert_json(a) for a in alerts],
        }
    )


def alert_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "route": row["route"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": iso_time(row["next_attempt_at"]),
        "sent_at": iso_time(row["sent_at"]),
        "kind": row["kind"],
        "severity": row["severity"],
        "title": row["title"],
        "source_id": row["source_id"],
        "pledge_id": row["pledge_id"],
    }


def alerts(request: Request) -> Response:
    web = web_of(request)
    status = request.query_params.get("status") or None
    if status and status not in ALERT_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(ALERT_STATUSES)}")
    page = web.queries.alerts(
        status=status,
        route=request.query_params.get("route") or None,
        before=int_param(request, "before"),
        limit=page_size(request),
    )
    return _list(request, [alert_json(r) for r in page.rows], page)


def mutes(request: Request) -> Response:
    web = web_of(request)
    return _json({"items": [mute_json(mt) for mt in web.actions.active_mutes(web.clock())], "next": None})


def actions(request: Request) -> Response:
    web = web_of(request)
    return _json({"items": [action_json(a) for a in web.actions.actions(page_size(request))], "next": None})


# -- actions ------------------------------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequest(f"the body is larger than {MAX_BODY} bytes")
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


async def _actor_name(request: Request) -> str:
    web = web_of(request)
    actor = await run_in_threadpool(web.bearer_actor, request)
    if actor is None:
        has = bool(request.headers.get("authorization"))
        raise Refused("this token is not valid" if has else "send Authorization: Bearer TOKEN", status=401)
    return actor.name


async def ack(request: Request) -> Response:
    web = web_of(request)
    name = await _actor_name(request)
    data = await _body(request)
    note = " ".join(str(data.get("note", "")).split())
    if not note or len(note) > 500:
        raise BadRequest("note is required, at most 500 characters")
    done = await run_in_threadpool(
        web.actions.acknowledge, request.path_params["event_id"], actor=name, note=note, now=web.clock()
    )
    return _json(action_json(done), status=201)


async def mute(request: Request) -> Response:
    web = web_of(request)
    name = await _actor_name(request)
    data = await _body(request)
    kind, target = str(data.get("target_kind", "")), str(data.get("target", ""))
    now = web.clock()
    until = parse_until(str(data.get("until", "")), now)
    check_target(web, kind, target)
    note = " ".join(str(data.get("note", "")).split())[:500]
    done = await run_in_threadpool(
        web.actions.mute, kind, target, until=until, actor=name, note=note, now=now
    )
    return _json(action_json(done), status=201)


ROUTES: list[BaseRoute] = [
    Route("/api/", index),
    Route("/api/openapi.json", openapi),
    Route("/api/pledges", pledges),
    Route("/api/pledges/{pledge_id}", pledge),
    Route("/api/sources", sources),
    Route("/api/sources/{source_id}", source),
    Route("/api/checks", checks),
    Route("/api/changes", changes),
    Route("/api/changes/{change_id:int}", change),
    Route("/api/events", events),
    Route("/api/events/{event_id:int}", event),
    Route("/api/alerts", alerts),
    Route("/api/mutes", mutes, methods=["GET"]),
    Route("/api/actions", actions),
]
ACTION_ROUTES: list[BaseRoute] = [
    Route("/api/events/{event_id:int}/ack", ack, methods=["POST"]),
    Route("/api/mutes", mute, methods=["POST"]),
]
