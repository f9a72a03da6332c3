"""Actions through ``serve --actions``: sign-in, CSRF-safe forms, the API's bearer tokens, rate limits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from monitor.store.actions import ActionStore
from monitor.store.audit_queries import AuditStore
from monitor.store.repo import Store
from monitor.web.auth import digest, new_token
from tests.audit_history import PLEDGE, Recorded, copy_of, open_store, record
from tests.web_server import serving


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("history"))


@pytest.fixture
def store(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Store:
    return open_store(copy_of(recorded, tmp_path_factory.mktemp("db")))


@pytest.fixture
def token(store: Store) -> str:
    value = new_token()
    ActionStore(store).add_token("alice", digest(value), datetime.now(UTC))
    return value


@pytest.fixture
def url(store: Store) -> Iterator[str]:
    with serving(store, actions=True, routes=["desk"]) as base:
        yield base


def signed_in(url: str, token: str) -> requests.Session:
    session = requests.Session()
    response = session.post(
        url + "/login", data={"token": token, "next": "/"}, allow_redirects=False, timeout=30
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    return session


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF value in the page"
    return found.group(1)


def weakened_id(store: Store) -> int:
    return next(e.id for e in store.events() if e.kind == "pledge.weakened")


def test_without_a_token_pages_offer_sign_in_but_no_actions_and_posts_are_refused(
    url: str, store: Store
) -> None:
    html = requests.get(url + f"/pledge/{PLEDGE}", timeout=30).text
    assert "Sign in" in html
    assert "ack-form" not in html
    assert 'name="csrf"' not in html
    event = weakened_id(store)
    form = requests.post(url + f"/events/{event}/ack", data={"note": "x"}, timeout=30)
    assert form.status_code == 401
    assert "sign in with an access token first" in form.text
    api = requests.post(url + f"/api/events/{event}/ack", json={"note": "x"}, timeout=30)
    assert api.status_code == 401
    assert api.json() == {"error": "send Authorization: Bearer TOKEN"}
    assert ActionStore(store).acks([event]) == {}


def test_acknowledging_through_the_form_shows_in_the_timeline_and_the_chain(
    url: str, store: Store, token: str
) -> None:
    session = signed_in(url, token)
    page = session.get(url + f"/pledge/{PLEDGE}", timeout=30).text
    assert "signed in as <strong>alice</strong>" in page
    assert token not in page
    event = weakened_id(store)
    sent = session.post(
        url + f"/events/{event}/ack",
        data={"csrf": csrf_of(page), "note": "confirmed weakening", "next": f"/pledge/{PLEDGE}"},
        allow_redirects=False,
        timeout=30,
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/pledge/{PLEDGE}"
    after = session.get(url + f"/pledge/{PLEDGE}", timeout=30).text
    assert "acknowledged by alice on" in after
    assert "“confirmed weakening”" in after
    public = requests.get(url + f"/event/{event}", timeout=30).text
    assert "by <strong>alice</strong>" in public
    head = AuditStore(store).head()
    assert head is not None
    assert head.record_type == "action"


def test_a_form_without_its_csrf_value_or_from_another_site_is_refused(
    url: str, store: Store, token: str
) -> None:
    session = signed_in(url, token)
    csrf = csrf_of(session.get(url + "/alerts", timeout=30).text)
    event = weakened_id(store)
    missing = session.post(url + f"/events/{event}/ack", data={"note": "x"}, timeout=30)
    assert missing.status_code == 403
    assert "expired or came from elsewhere" in missing.text
    forged = session.post(
        url + f"/events/{event}/ack",
        data={"note": "x", "csrf": csrf},
        headers={"Origin": "https://evil.example"},
        timeout=30,
    )
    assert forged.status_code == 403
    assert "sent from another site" in forged.text
    assert ActionStore(store).acks([event]) == {}


def test_muting_a_source_through_the_form_shows_it_muted(url: str, store: Store, token: str) -> None:
    session = signed_in(url, token)
    page = session.get(url + "/source/news", timeout=30).text
    done = session.post(
        url + "/mutes",
        data={
            "csrf": csrf_of(page),
            "target_kind": "source",
            "target": "news",
            "until": "2999-01-01",
            "note": "site rebuild",
            "next": "/source/news",
        },
        timeout=30,
    )
    assert done.status_code == 200
    assert "Alerts muted until 2999-01-01 00:00 UTC by alice" in done.text
    assert [m["target"] for m in requests.get(url + "/api/mutes", timeout=30).json()["items"]] == ["news"]
    past = session.post(
        url + "/mutes",
        data={"csrf": csrf_of(page), "target_kind": "source", "target": "news", "until": "2001-01-01"},
        timeout=30,
    )
    assert past.status_code == 400
    assert "until must be in the future" in past.text


def test_the_api_acts_with_a_bearer_token_only(url: str, store: Store, token: str) -> None:
    event = weakened_id(store)
    auth = {"Authorization": f"Bearer {token}"}
    made = requests.post(
        url + f"/api/events/{event}/ack", json={"note": "false alarm"}, headers=auth, timeout=30
    )
    assert made.status_code == 201
    assert made.json()["actor"] == "alice"
    assert requests.get(url + f"/api/events/{event}", timeout=30).json()["acks"][0]["note"] == "false alarm"
    muted = requests.post(
        url + "/api/mutes",
        json={"target_kind": "route", "target": "desk", "until": "2999-01-01"},
        headers=auth,
        timeout=30,
    )
    assert muted.status_code == 201
    unknown = requests.post(
        url + "/api/mutes",
        json={"target_kind": "route", "target": "nope", "until": "2999-01-01"},
        headers=auth,
        timeout=30,
    )
    assert unknown.status_code == 400
    assert "no route named 'nope'" in unknown.json()["error"]
    session = signed_in(url, token)  # a browser's cookie does not work on the API
    assert session.post(url + f"/api/events/{event}/ack", json={"note": "x"}, timeout=30).status_code == 401


def test_wrong_tokens_are_rate_limited_per_address(url: str, store: Store, token: str) -> None:
    event = weakened_id(store)
    for _ in range(10):
        wrong = requests.post(
            url + f"/api/events/{event}/ack",
            json={"note": "x"},
            headers={"Authorization": "Bearer pm_guess"},
            timeout=30,
        )
        assert wrong.status_code == 401
        assert wrong.json() == {"error": "this token is not valid"}
    blocked = requests.post(
        url + f"/api/events/{event}/ack",
        json={"note": "x"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    login = requests.post(url + "/login", data={"token": token}, allow_redirects=False, timeout=30)
    assert login.status_code == 429


def test_a_revoked_token_stops_working(url: str, store: Store, token: str) -> None:
    ActionStore(store).revoke_token("alice", datetime.now(UTC))
    response = requests.post(
        url + f"/api/events/{weakened_id(store)}/ack",
        json={"note": "x"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 401


def test_sign_in_never_redirects_off_site(url: str, token: str) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = requests.post(
            url + "/login", data={"token": token, "next": target}, allow_redirects=False, timeout=30
        )
        assert response.headers["location"] == "/"
