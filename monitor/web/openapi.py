"""The OpenAPI 3.1 description of ``/api/``, built from export's columns so the two cannot drift."""

from __future__ import annotations

from typing import Any

from monitor.audit.export import COLUMNS, Column
from monitor.events import ActionKind, ActionTarget, AlertStatus
from monitor.store.actions import TARGET_KINDS

KIND_SCHEMA: dict[str, dict[str, Any]] = {
    "text": {"type": ["string", "null"]},
    "int": {"type": ["integer", "null"]},
    "time": {"type": ["string", "null"], "format": "date-time"},
    "date": {"type": ["string", "null"], "format": "date"},
    "bool": {"type": "boolean"},
    "json": {},
}
PAGE_PARAMS: list[dict[str, Any]] = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        "description": "Items per page.",
    },
    {
        "name": "before",
        "in": "query",
        "schema": {"type": "string"},
        "description": "Only items with a smaller id: the cursor `next` carries.",
    },
]
ACTION = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": [k.value for k in ActionKind]},
        "actor": {"type": "string", "description": "the name of the token used"},
        "at": {"type": "string", "format": "date-time"},
        "target_kind": {"type": "string", "enum": [t.value for t in ActionTarget]},
        "target": {"type": "string"},
        "until": {"type": ["string", "null"], "format": "date-time"},
        "note": {"type": "string"},
    },
}
ALERT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "event_id": {"type": "integer"},
        "route": {"type": "string"},
        "status": {"type": "string", "enum": [s.value for s in AlertStatus]},
        "attempts": {"type": "integer"},
        "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
        "sent_at": {"type": ["string", "null"], "format": "date-time"},
        "kind": {"type": "string"},
        "severity": {"type": "string"},
        "title": {"type": "string"},
        "source_id": {"type": ["string", "null"]},
        "pledge_id": {"type": ["string", "null"]},
    },
}
SOURCE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "url": {"type": "string"},
        "kind": {"type": "string"},
        "active": {"type": "boolean"},
        "health": {"type": "string"},
        "failures": {"type": "integer"},
        "last_check_at": {"type": ["string", "null"], "format": "date-time"},
        "last_good_at": {"type": ["string", "null"], "format": "date-time"},
        "next_check_at": {"type": ["string", "null"], "format": "date-time"},
        "moved_to": {"type": ["string", "null"]},
        "parent_id": {"type": ["string", "null"]},
    },
}


def record_schema(columns: tuple[Column, ...], **extra: Any) -> dict[str, Any]:
    props = {c.name: {**KIND_SCHEMA[c.kind], "description": c.doc} for c in columns}
    return {"type": "object", "properties": {**props, **extra}, "required": [c.name for c in columns]}


def schemas() -> dict[str, Any]:
    return {
        "Pledge": record_schema(
            COLUMNS["pledges"], clause_states={"type": "array", "items": {"type": "object"}}
        ),
        "Source": SOURCE,
        "Check": record_schema(COLUMNS["checks"]),
        "Change": record_schema(
            COLUMNS["changes"],
            diff={
                "type": "object",
                "description": "word diff: ops are [op, text] with op -1 removed, 0 kept, 1 added",
                "properties": {
                    "ops": {"type": "array", "items": {"type": "array"}},
                    "added": {"type": "array", "items": {"type": "string"}},
                    "removed": {"type": "array", "items": {"type": "string"}},
                },
            },
            warc={"type": "string", "description": "path of the change's WARC file"},
        ),
        "Event": record_schema(
            COLUMNS["events"],
            acks={"type": "array", "items": {"$ref": "#/components/schemas/Action"}},
            alerts={"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
        ),
        "Alert": ALERT,
        "Action": ACTION,
        "Mute": {"type": "object"},
        "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
    }


def _list_of(name: str, summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [*params, *PAGE_PARAMS],
            "responses": {
                "200": {
                    "description": "A page, newest first; follow `next` for older items.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "items": {
                                        "type": "array",
                                        "items": {"$ref": f"#/components/schemas/{name}"},
                                    },
                                    "next": {"type": ["string", "null"]},
                                },
                            }
                        }
                    },
                },
                "400": _error("A parameter is not valid."),
            },
        }
    }


def _one(name: str, summary: str, key: str, key_type: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [{"name": key, "in": "path", "required": True, "schema": {"type": key_type}}],
            "responses": {
                "200": {
                    "description": summary,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
                },
                "404": _error("No such record."),
            },
        }
    }


def _error(text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _q(name: str, text: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string"}, "description": text}


def _post(summary: str, body: dict[str, Any], params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"token": []}],
            "parameters": params,
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "201": {
                    "description": "Recorded, and chained in the integrity ledger.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Action"}}},
                },
                "400": _error("The body is not valid."),
                "401": _error("No valid token."),
                "429": _error("Too many wrong tokens from this address."),
            },
        }
    }


def document(root: str, actions: bool) -> dict[str, Any]:
    """The description; the action operations only when the server takes actions."""
    paths: dict[str, Any] = {
        "/api/pledges": _list_of(
            "Pledge", "Pledges", [_q("company", "company"), _q("tag", "tag"), _q("state", "state")]
        ),
        "/api/pledges/{pledge_id}": _one(
            "Pledge", "A pledge and how each clause stands", "pledge_id", "string"
        ),
        "/api/sources": _list_of("Source", "Sources", [_q("q", "words in the id or URL")]),
        "/api/sources/{source_id}": _one("Source", "A source", "source_id", "string"),
        "/api/checks": _list_of("Check", "Checks", [_q("source", "a source id")]),
        "/api/changes": _list_of(
            "Change", "Changes", [_q("q", "words in the summary"), _q("source", "a source id")]
        ),
        "/api/changes/{change_id}": _one("Change", "A change with its word diff", "change_id", "integer"),
        "/api/events": _list_of(
            "Event",
            "Events",
            [
                _q("q", "words in the title"),
                _q("kind", "event kind"),
                _q("pledge", "pledge id"),
                _q("source", "source id"),
            ],
        ),
        "/api/events/{event_id}": _one(
            "Event", "An event, its acknowledgements and alerts", "event_id", "integer"
        ),
        "/api/alerts": _list_of(
            "Alert", "Alerts (the outbox)", [_q("status", "status"), _q("route", "route")]
        ),
        "/api/mutes": _list_of("Mute", "Mutes in force", []),
        "/api/actions": _list_of("Action", "People's actions, newest first", []),
    }
    if actions:
        note = {
            "type": "object",
            "properties": {"note": {"type": "string", "maxLength": 500}},
            "required": ["note"],
        }
        event_id = [{"name": "event_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
        paths["/api/events/{event_id}/ack"] = _post("Acknowledge an event with a note", note, event_id)
        mute = {
            "type": "object",
            "properties": {
                "target_kind": {"type": "string", "enum": [t.value for t in TARGET_KINDS]},
                "target": {"type": "string"},
                "until": {"type": "string", "description": "YYYY-MM-DD (start of day, UTC), or now to lift"},
                "note": {"type": "string"},
            },
            "required": ["target_kind", "target", "until"],
        }
        paths["/api/mutes"].update(_post("Mute a source or a route until a date", mute, []))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pledge-monitor",
            "version": "1",
            "description": "Pledges, sources, checks, changes, events and alerts: the records of `export`.",
        },
        "servers": [{"url": root or "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
    }
