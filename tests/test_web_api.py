"""The JSON API: every endpoint, its paging, the OpenAPI description, and the same data as export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from monitor import diff as differ
from monitor.audit.export import COLUMNS, record
from monitor.store.audit_queries import AuditStore
from monitor.store.repo import Store
from tests.audit_history import PLEDGE, Recorded, copy_of, open_store
from tests.audit_history import record as record_history
from tests.web_server import serving


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    recorded: Recorded = record_history(tmp_path_factory.mktemp("history"))
    return open_store(copy_of(recorded, tmp_path_factory.mktemp("db")))


@pytest.fixture(scope="module")
def url(store: Store) -> Iterator[str]:
    with serving(store) as base:
        yield base


def get(url: str, path: str, status: int = 200) -> Any:
    response = requests.get(url + path, timeout=30)
    assert response.status_code == status, (path, response.text[:300])
    assert response.headers["content-type"] == "application/json"
    return response.json()


def every_page(url: str, path: str) -> list[dict[str, Any]]:
    items, seen = [], 0
    while path:
        page = get(url, path)
        items += page["items"]
        path = page["next"]
        seen += 1
        assert seen < 1000
    return items


@pytest.mark.parametrize("what", ["checks", "changes", "events"])
def test_lists_carry_exports_records_newest_first_through_every_page(
    url: str, store: Store, what: str
) -> None:
    audit = AuditStore(store)
    rows = {"checks": audit.export_checks, "changes": audit.export_changes, "events": audit.export_events}[
        what
    ]
    exported = [record(r, COLUMNS[what]) for r in rows(None)]
    items = every_page(url, f"/api/{what}?limit=7")
    for item in items:
        item.pop("acks", None)
    assert items == list(reversed(exported))


def test_pledges_and_one_pledge_with_its_clause_states(url: str, store: Store) -> None:
    exported = [record(r, COLUMNS["pledges"]) for r in AuditStore(store).export_pledges()]
    assert get(url, "/api/pledges")["items"] == exported
    one = get(url, f"/api/pledges/{PLEDGE}")
    assert one["id"] == PLEDGE
    assert one["state"] == exported[0]["state"]
    assert [c["source_id"] for c in one["clause_states"]] == ["policy"]
    assert get(url, "/api/pledges?company=Nobody")["items"] == []
    get(url, "/api/pledges/nope", 404)


def test_sources_and_one_source(url: str) -> None:
    assert [s["id"] for s in every_page(url, "/api/sources?limit=1")] == ["policy", "news"]
    assert get(url, "/api/sources/policy")["health"] == "ok"
    assert [s["id"] for s in get(url, "/api/sources?q=new")["items"]] == ["news"]


def test_a_change_carries_its_word_diff(url: str, store: Store) -> None:
    change = get(url, "/api/changes/2")
    assert change["diff"]["added"] == ["currently"]
    before = store.snapshot_text(change["from_snapshot_id"])
    after = store.snapshot_text(change["to_snapshot_id"])
    rebuilt = "".join(text for op, text in change["diff"]["ops"] if op != differ.DELETE)
    assert rebuilt == after
    assert before != after
    assert change["warc"] == "/change/2/warc"


def test_an_event_carries_its_acks_and_alerts(url: str, store: Store) -> None:
    weakened = next(e for e in store.events() if e.kind == "pledge.weakened")
    event = get(url, f"/api/events/{weakened.id}")
    assert (event["kind"], event["acks"], event["alerts"]) == ("pledge.weakened", [], [])
    assert [e["kind"] for e in get(url, "/api/events?kind=pledge.weakened")["items"]] == ["pledge.weakened"]
    assert get(url, f"/api/events?pledge={PLEDGE}")["items"]


def test_alerts_mutes_and_actions_list(url: str) -> None:
    assert get(url, "/api/alerts") == {"items": [], "next": None}
    assert get(url, "/api/mutes") == {"items": [], "next": None}
    assert get(url, "/api/actions") == {"items": [], "next": None}
    get(url, "/api/alerts?status=lost", 400)


def test_bad_paging_is_a_400_that_says_why(url: str) -> None:
    assert get(url, "/api/checks?limit=0", 400) == {"error": "limit must be between 1 and 500"}
    assert get(url, "/api/checks?before=x", 400) == {"error": "before must be a whole number"}


def test_the_openapi_description_covers_every_endpoint_and_each_answers(url: str, store: Store) -> None:
    doc = get(url, "/api/openapi.json")
    assert doc["openapi"] == "3.1.0"
    ids = {"pledge_id": PLEDGE, "source_id": "policy", "change_id": "2", "event_id": "1"}
    for path, item in doc["paths"].items():
        assert set(item) == {"get"}, path  # read-only: no actions described
        concrete = path
        for key, value in ids.items():
            concrete = concrete.replace("{" + key + "}", value)
        body = get(url, concrete)
        schema = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        if "items" in schema.get("properties", {}):
            assert set(body) == {"items", "next"}
        else:
            name = schema["$ref"].rsplit("/", 1)[1]
            assert set(doc["components"]["schemas"][name].get("required", [])) <= set(body), path
    assert set(get(url, "/api/")) >= {
        "openapi",
        "pledges",
        "sources",
        "checks",
        "changes",
        "events",
        "alerts",
    }


def test_with_actions_the_description_has_the_posts(store: Store) -> None:
    with serving(store, actions=True) as base:
        doc = requests.get(base + "/api/openapi.json", timeout=30).json()
    assert "post" in doc["paths"]["/api/events/{event_id}/ack"]
    assert "post" in doc["paths"]["/api/mutes"]
    assert "get" in doc["paths"]["/api/mutes"]
