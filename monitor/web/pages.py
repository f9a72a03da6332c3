"""The HTML pages: tracker, company, pledge, change, snapshot, source, lists of changes, events,
sources and alerts. GET only; each reads through the stores and renders a template."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from monitor import diff as differ
from monitor.audit.evidence import gather, write_warc
from monitor.audit.history import Entry, entry_link, summary
from monitor.audit.report import _as_text, _headers, web_link
from monitor.errors import NotFoundError
from monitor.events import ActionTarget, AlertStatus, EventKind, PledgeState
from monitor.pledge_state import OF_CLAUSE
from monitor.store.actions import ActionRow
from monitor.store.archives import archive_urls
from monitor.web.app import BadRequest, Web, base, health, int_param, page_size, web_of
from monitor.web.feeds import calendar, company_feed, deadline, events_feed, pledge_feed

TRACKER_PAGE = 100
ALERT_STATUSES = tuple(AlertStatus)


def next_href(request: Request, before: int | str | None, **keep: Any) -> str | None:
    """The link to the next (older) page, keeping the filters."""
    if before is None:
        return None
    params = {k: v for k, v in keep.items() if v not in (None, "")}
    if request.query_params.get("limit"):
        params["limit"] = request.query_params["limit"]
    params["before"] = before
    return f"{base(request)}{request.url.path[len(base(request)) :]}?{urlencode(params)}"


# -- pledges ------------------------------------------------------------------------------------


def pledge_rows(web: Web, pledges: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tracker rows: the state ``status`` shows, the deadline, the newest good check of its sources."""
    spec_sources = {p["id"]: list((p["spec"] or {}).get("sources", ())) for p in pledges}
    times = web.queries.source_times([sid for ids in spec_sources.values() for sid in ids])
    rows = []
    for p in pledges:
        spec = p["spec"] or {}
        goods = [t.last_good_at for sid in spec_sources[p["id"]] if (t := times.get(sid)) and t.last_good_at]
        rows.append(
            {
                **p,
                "tags": list(spec.get("tags", ())),
                "deadline": deadline(p),
                "last_good": max(goods) if goods else None,
            }
        )
    return rows


def with_acks(web: Web, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    acks = web.actions.acks([e["id"] for e in events])
    return [{**e, "acks": acks.get(e["id"], [])} for e in events]


def tracker(request: Request) -> Response:
    web = web_of(request)
    q = request.query_params
    company, tag, state = q.get("company", ""), q.get("tag", ""), q.get("state", "")
    everything = web.pledges()
    chosen = [
        p
        for p in everything
        if (not company or p["company"] == company)
        and (not tag or tag in (p["spec"] or {}).get("tags", ()))
        and (not state or p["state"] == state)
    ]
    start = int_param(request, "from") or 0
    shown = chosen[start : start + TRACKER_PAGE]
    more = start + TRACKER_PAGE < len(chosen)
    counts = Counter(p["state"] for p in chosen)
    latest = web.queries.events(limit=10).rows
    params = {"company": company, "tag": tag, "state": state, "from": start + TRACKER_PAGE}
    return web.page(
        request,
        "tracker.html",
        pledges=pledge_rows(web, shown),
        total=len(chosen),
        filtered=bool(company or tag or state),
        state_counts=[(s, counts[s]) for s in PledgeState if counts[s]],
        companies=sorted({p["company"] for p in everything}),
        tags=sorted({t for p in everything for t in (p["spec"] or {}).get("tags", ())}),
        states=tuple(PledgeState),
        company=company,
        tag=tag,
        state=state,
        events=with_acks(web, latest),
        q=None,
        next_href=f"{base(request)}/?{urlencode({k: v for k, v in params.items() if v})}" if more else None,
    )


def company_page(request: Request) -> Response:
    web = web_of(request)
    name = request.path_params["name"]
    pledges = [p for p in web.pledges() if p["company"] == name]
    if not pledges:
        raise NotFoundError(f"no pledges of a company named {name!r}")
    events = web.queries.events(pledge_ids=[p["id"] for p in pledges], limit=50).rows
    return web.page(
        request,
        "company.html",
        company=name,
        pledges=pledge_rows(web, pledges),
        events=with_acks(web, events),
        q=None,
    )


def pledge_page(request: Request) -> Response:
    web = web_of(request)
    pledge_id = request.path_params["pledge_id"]
    pledge = web.queries.pledge(pledge_id)
    if pledge is None:
        raise NotFoundError(f"no pledge '{pledge_id}'")
    spec = pledge["spec"] or {}
    history = web.audit.history(web.audit.scope(pledge_id=pledge_id))
    known = web.queries.source_times(list(spec.get("sources", ())))
    events = [e.ref for e in history.entries if e.kind == "event" and e.ref is not None]
    acks = web.actions.acks(events)
    return web.page(
        request,
        "pledge_page.html",
        pledge=pledge,
        deadline=deadline(pledge),
        clauses=spec.get("clauses", []),
        sources=[
            {"id": sid, "href": f"{base(request)}/source/{sid}"}
            for sid in spec.get("sources", ())
            if sid in known
        ],
        attestation=summary(history),
        entries=[entry_view(request, e, acks) for e in history.entries],
        clause_states=[
            {
                "clause": c.clause,
                "source_id": c.source_id,
                "state": OF_CLAUSE.get(c.state, c.state),
                "pending": OF_CLAUSE.get(c.pending or "", c.pending),
                "passage": c.passage,
                "similarity": c.similarity,
                "updated_at": c.updated_at,
            }
            for c in web.store.clause_states(pledge_id)
        ],
        changes=web.queries.changes(q=None, source_ids=list(known), before=None, limit=20).rows,
    )


def entry_view(request: Request, entry: Entry, acks: Mapping[int, list[ActionRow]]) -> dict[str, Any]:
    """A timeline line, linked to the dashboard's pages (the report links to its files)."""
    root = base(request)
    href, anchor = entry_link(entry, lambda kind, ref: f"{root}/{kind}/{ref}")
    event_href = f"{root}/event/{entry.ref}" if entry.kind == "event" else None
    return {
        "kind": entry.kind,
        "ref": entry.ref,
        "at": entry.at,
        "end": entry.end,
        "text": entry.text,
        "severity": entry.severity,
        "href": href,
        "anchor": anchor,
        "event_href": event_href,
        "acks": acks.get(entry.ref, []) if entry.kind == "event" and entry.ref is not None else [],
    }


# -- changes, snapshots, evidence ---------------------------------------------------------------


def change_page(request: Request) -> Response:
    web = web_of(request)
    change_id = request.path_params["change_id"]
    change = web.store.change(change_id)
    store, root = web.store, base(request)
    before, after = store.snapshot(change.from_snapshot_id), store.snapshot(change.to_snapshot_id)
    recorded = differ.from_delta(store.load_text(before.text_hash), change.delta)
    events = web.queries.events(change_id=change_id, limit=100).rows
    archive_url = archive_urls(store.engine, [change.id]).get(change.id)
    return web.page(
        request,
        "change_page.html",
        change=change,
        archive_url=archive_url,
        archive_href=web_link(archive_url) if archive_url else None,
        source_href=f"{root}/source/{change.source_id}",
        before={"id": before.id, "at": before.fetched_at, "href": f"{root}/snapshot/{before.id}"},
        after={"id": after.id, "at": after.fetched_at, "href": f"{root}/snapshot/{after.id}"},
        ledger=web.audit.ledger_entry("change", change.id),
        events=list(reversed(events)),
        inline=Markup(differ.render_html(recorded, context_lines=3)),  # escapes every fragment
        side_by_side=Markup(differ.render_side_by_side_html(recorded)),  # likewise
    )


def change_warc(request: Request) -> Response:
    web = web_of(request)
    change_id = request.path_params["change_id"]
    found = gather(web.audit, change_id)
    name = f"change-{change_id}.warc.gz"
    out = io.BytesIO()
    write_warc(found, out, filename=name)
    return Response(
        out.getvalue(),
        media_type="application/warc",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def snapshot_page(request: Request) -> Response:
    web = web_of(request)
    snap = web.store.snapshot(request.path_params["snapshot_id"])
    body = web.store.load_blob(snap.body_hash)
    headers = _headers(snap.headers)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    return web.page(
        request,
        "snapshot_page.html",
        snap=snap,
        source_href=f"{base(request)}/source/{snap.source_id}",
        ledger=web.audit.ledger_entry("snapshot", snap.id),
        text=web.store.load_text(snap.text_hash),
        headers=headers,
        body=_as_text(body, content_type),
        body_size=len(body),
        content_type=content_type,
    )


def snapshot_raw(request: Request) -> Response:
    """The body byte for byte as fetched, as a download: never rendered as a page of ours."""
    web = web_of(request)
    snap = web.store.snapshot(request.path_params["snapshot_id"])
    return Response(
        web.store.load_blob(snap.body_hash),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="snapshot-{snap.id}.body"',
            "X-Body-SHA256": snap.body_hash,
        },
    )


def changes_page(request: Request) -> Response:
    web = web_of(request)
    q = request.query_params.get("q", "").strip() or None
    found = web.queries.changes(
        q=q, source_ids=None, before=int_param(request, "before"), limit=page_size(request)
    )
    return web.page(
        request, "changes.html", changes=found.rows, q=q, next_href=next_href(request, found.next_before, q=q)
    )


# -- events, sources, alerts --------------------------------------------------------------------


def events_page(request: Request) -> Response:
    web = web_of(request)
    q = request.query_params.get("q", "").strip() or None
    kind = request.query_params.get("kind", "") or None
    found = web.queries.events(q=q, kind=kind, before=int_param(request, "before"), limit=page_size(request))
    return web.page(
        request,
        "events.html",
        events=with_acks(web, found.rows),
        q=q,
        kind=kind,
        kinds=tuple(EventKind),
        next_href=next_href(request, found.next_before, q=q, kind=kind),
    )


def event_page(request: Request) -> Response:
    web = web_of(request)
    event_id = request.path_params["event_id"]
    event = web.queries.event(event_id)
    if event is None:
        raise NotFoundError(f"no event with id {event_id}")
    return web.page(
        request,
        "event.html",
        event=event,
        details=json.dumps(event["details"], indent=2, ensure_ascii=False, sort_keys=True),
        acks=web.actions.acks([event_id]).get(event_id, []),
        alerts=web.queries.alerts(event_ids=[event_id], limit=100).rows,
    )


def sources_page(request: Request) -> Response:
    web = web_of(request)
    q = request.query_params.get("q", "").strip() or None
    before = request.query_params.get("before") or None
    found = web.queries.sources(q, before, page_size(request))
    mutes = web.actions.active_mutes(web.clock())
    muted = {mt.target for mt in mutes if mt.target_kind == ActionTarget.SOURCE}
    return web.page(
        request,
        "sources.html",
        sources=found.rows,
        q=q,
        muted=muted,
        next_href=next_href(request, found.next_before, q=q),
    )


def source_page(request: Request) -> Response:
    web = web_of(request)
    source_id = request.path_params["source_id"]
    source = web.queries.source(source_id)
    if source is None:
        raise NotFoundError(f"no source '{source_id}'")
    history = web.audit.history(web.audit.scope(source_id=source_id))
    carried = [p for p in web.pledges() if source_id in (p["spec"] or {}).get("sources", ())]
    mutes = [
        mt
        for mt in web.actions.active_mutes(web.clock())
        if (mt.target_kind, mt.target) == (ActionTarget.SOURCE, source_id)
    ]
    root = base(request)
    return web.page(
        request,
        "source_page.html",
        source={**source, "link": web_link(source["url"])},
        pledges=[{"id": p["id"], "href": f"{root}/pledge/{p['id']}"} for p in carried],
        snapshots=[
            {"id": sid, "at": at, "href": f"{root}/snapshot/{sid}"}
            for sid, at in web.queries.snapshots_of(source_id, 50)
        ],
        attestation=summary(history),
        entries=[entry_view(request, e, {}) for e in history.entries],
        mute=mutes[0] if mutes else None,
    )


def alerts_page(request: Request) -> Response:
    web = web_of(request)
    status = request.query_params.get("status", "") or None
    if status and status not in ALERT_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(ALERT_STATUSES)}")
    found = web.queries.alerts(status=status, before=int_param(request, "before"), limit=page_size(request))
    return web.page(
        request,
        "alerts.html",
        alerts=found.rows,
        status=status,
        statuses=ALERT_STATUSES,
        mutes=web.actions.active_mutes(web.clock()),
        routes=web.route_names(),
        next_href=next_href(request, found.next_before, status=status),
    )


# -- feeds --------------------------------------------------------------------------------------


def feed(request: Request) -> Response:
    return events_feed(request)


ROUTES: list[BaseRoute] = [
    Route("/", tracker),
    Route("/healthz", health),
    Route("/company/{name}", company_page),
    Route("/company/{name}/feed.xml", company_feed),
    Route("/pledge/{pledge_id}", pledge_page),
    Route("/pledge/{pledge_id}/feed.xml", pledge_feed),
    Route("/change/{change_id:int}", change_page),
    Route("/change/{change_id:int}/warc", change_warc),
    Route("/snapshot/{snapshot_id:int}", snapshot_page),
    Route("/snapshot/{snapshot_id:int}/raw", snapshot_raw),
    Route("/changes", changes_page),
    Route("/events", events_page),
    Route("/event/{event_id:int}", event_page),
    Route("/sources", sources_page),
    Route("/source/{source_id}", source_page),
    Route("/alerts", alerts_page),
    Route("/feed.xml", feed),
    Route("/calendar.ics", calendar),
]
