"""The dashboard's pages over a recorded history, served by a real uvicorn: read-only by default."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
import requests
from sqlalchemy import insert
from warcio.archiveiterator import ArchiveIterator

from monitor.audit.history import summary
from monitor.store import models as m
from monitor.store.audit_queries import AuditStore
from monitor.store.repo import Store
from monitor.web.app import CSP
from tests.audit_history import PLEDGE, XSS_SCRIPT, Recorded, copy_of, open_store, record
from tests.web_server import serving


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def store(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Store:
    return open_store(copy_of(recorded, tmp_path_factory.mktemp("db")))


@pytest.fixture(scope="module")
def url(store: Store) -> Iterator[str]:
    with serving(store) as base:
        yield base


def get(url: str, path: str, status: int = 200) -> requests.Response:
    response = requests.get(url + path, timeout=30)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return response


def test_the_tracker_lists_each_pledge_with_its_state_deadline_and_last_good_check(
    url: str, store: Store
) -> None:
    html = get(url, "/").text
    assert "No facial recognition sales to US police" in html
    pledge = next(p for p in store.pledges() if p.id == PLEDGE)
    assert f'<span class="state state-{pledge.state}">{pledge.state}</span>' in html  # as `status` shows it
    last_good = store.source_row("policy").last_good_at
    assert last_good is not None
    assert f"{last_good:%Y-%m-%d %H:%M} UTC" in html
    assert f'href="/pledge/{PLEDGE}"' in html


def test_the_tracker_filters_by_company_tag_and_state(url: str) -> None:
    assert "No facial recognition sales" in get(url, "/?company=Example+Corp").text
    assert "No pledges match." in get(url, "/?company=Nobody").text
    assert "No pledges match." in get(url, "/?state=removed").text
    assert "No pledges match." in get(url, "/?tag=no-such-tag").text


def test_the_pledge_page_has_the_attestation_clauses_and_timeline(url: str, store: Store) -> None:
    audit = AuditStore(store)
    expected = summary(audit.history(audit.scope(pledge_id=PLEDGE)))
    html = get(url, f"/pledge/{PLEDGE}").text
    assert f'<p class="attest" id="attestation">{expected}</p>' in html
    assert 'id="clauses"' in html
    assert "state-intact" in html
    assert 'href="/change/2"' in html
    assert 'href="/change/2/warc"' in html
    assert "pledge.weakened" in html


def test_a_change_page_shows_the_word_diff_escaped(url: str) -> None:
    html = get(url, "/change/2").text
    assert "<ins>currently</ins>" in html.replace("<ins>currently </ins>", "<ins>currently</ins>")
    assert XSS_SCRIPT not in html  # page content is text, never markup
    assert 'class="diff-side-by-side' in html


def test_a_change_page_links_its_archive_copy(url: str, store: Store) -> None:
    assert "Archive copy" not in get(url, "/change/2").text  # none saved yet
    copy = "https://web.archive.org/web/20261206120000/https://example.org/policy"
    with store.engine.begin() as db:
        db.execute(
            insert(m.Archive).values(
                change_id=2, url="https://example.org/policy", status="saved", archive_url=copy,
                next_attempt_at=datetime(2026, 12, 6, tzinfo=UTC),
            )
        )  # fmt: skip
    html = get(url, "/change/2").text
    assert f'<a href="{copy}" rel="noopener">{copy}</a>' in html


def test_the_warc_of_a_change_downloads_with_both_versions(url: str, recorded: Recorded) -> None:
    response = get(url, "/change/2/warc")
    assert response.headers["content-disposition"] == 'attachment; filename="change-2.warc.gz"'
    kinds = [r.rec_type for r in ArchiveIterator(io.BytesIO(response.content))]
    assert kinds.count("response") == 2
    assert "metadata" in kinds


def test_a_raw_snapshot_downloads_byte_for_byte_and_is_never_rendered(url: str, recorded: Recorded) -> None:
    response = get(url, "/snapshot/1/raw")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.content in recorded.served["policy"] + recorded.served["news"]


def test_every_page_carries_a_strict_csp_and_no_script(url: str) -> None:
    for path in (
        "/",
        f"/pledge/{PLEDGE}",
        "/change/2",
        "/snapshot/3",
        "/changes",
        "/events",
        "/sources",
        "/source/policy",
        "/alerts",
        "/event/1",
        "/company/Example%20Corp",
    ):
        response = get(url, path)
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script" not in response.text.lower(), path


def test_read_only_pages_have_no_forms_that_post_and_posts_are_refused(url: str) -> None:
    for path in ("/", f"/pledge/{PLEDGE}", "/event/1", "/source/policy", "/alerts"):
        html = get(url, path).text
        assert 'method="post"' not in html, path
        assert "Sign in" not in html
    get(url, "/login", 404)
    for path in ("/events/1/ack", "/mutes", "/login", "/api/events/1/ack", "/api/mutes", f"/pledge/{PLEDGE}"):
        response = requests.post(url + path, data={"note": "x"}, timeout=30)
        assert response.status_code in (404, 405), path


def test_changes_are_searchable_by_word_and_paged(url: str) -> None:
    html = get(url, "/changes?q=currently").text
    assert re.findall(r'href="/change/(\d+)"', html) == ["3", "2"]
    first = get(url, "/changes?limit=1").text
    assert re.findall(r'href="/change/(\d+)"', first) == ["3"]
    older = re.search(r'rel="next" href="([^"]+)"', first)
    assert older is not None
    second = get(url, older.group(1).replace("&amp;", "&")).text
    assert re.findall(r'href="/change/(\d+)"', second) == ["2"]
    assert "No changes match “no-such-words”." in get(url, "/changes?q=no-such-words").text


def test_events_are_searchable_and_link_to_their_pages(url: str) -> None:
    listed = get(url, "/events?q=weakened").text.split('id="events"')[1]
    assert "pledge.weakened" in listed
    assert "source.failing" not in listed
    event = get(url, "/event/1").text
    assert "Alerts" in event
    assert "No route took this event." in event


def test_the_atom_feeds_list_events_of_everything_a_pledge_and_a_company(url: str, store: Store) -> None:
    every = feedparser.parse(get(url, "/feed.xml").content)
    assert not every.bozo
    assert len(every.entries) == len(store.events())
    mine = feedparser.parse(get(url, f"/pledge/{PLEDGE}/feed.xml").content)
    assert {e.title for e in mine.entries} == {e.title for e in store.events(pledge_id=PLEDGE)}
    company = feedparser.parse(get(url, "/company/Example%20Corp/feed.xml").content)
    assert len(company.entries) == len(mine.entries) > 0
    assert mine.entries[0].link.startswith(url + "/event/")


def test_the_calendar_is_icalendar(url: str) -> None:
    response = get(url, "/calendar.ics")
    assert response.headers["content-type"].startswith("text/calendar")
    assert response.text.startswith("BEGIN:VCALENDAR\r\n")
    assert response.text.endswith("END:VCALENDAR\r\n")


def test_unknown_records_are_404_pages(url: str) -> None:
    assert "no pledge &#39;nope&#39;" in get(url, "/pledge/nope", 404).text
    get(url, "/change/999", 404)
    assert get(url, "/api/changes/999", 404).json() == {"error": "no change with id 999"}


def test_behind_a_proxy_under_a_path_prefix_links_keep_the_prefix(store: Store) -> None:
    with serving(store, root_path="/pledges") as base:
        html = requests.get(base + "/", timeout=30).text
        assert f'href="/pledges/pledge/{PLEDGE}"' in html
        page = requests.get(base + f"/pledge/{PLEDGE}", timeout=30)
        assert page.status_code == 200
        feed = feedparser.parse(requests.get(base + "/feed.xml", timeout=30).content)
        assert feed.entries[0].link.startswith(base + "/pledges/event/")
        assert "/pledges/api/changes/2" in requests.get(base + "/change/2", timeout=30).text


def test_forwarded_proto_and_host_make_absolute_links(store: Store, tmp_path: Path) -> None:
    with serving(store) as base:
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        feed = feedparser.parse(requests.get(base + "/feed.xml", headers=headers, timeout=30).content)
        assert feed.entries[0].link.startswith("https://")


def test_calendar_lines_fold_at_75_octets_and_text_is_escaped() -> None:
    from datetime import UTC, date, datetime

    from monitor.web.feeds import ics

    pledge = {
        "id": "p1",
        "company": "Ünïcode, Inc; “Example”",
        "title": "A very long pledge title " * 5,
        "state": "intact",
        "active": True,
        "expires_on": date(2027, 6, 10),
        "spec": {"effective_expiry": "2027-12-31"},
    }
    text = ics([pledge], "https://pledges.example/", datetime(2026, 1, 1, tzinfo=UTC))
    lines = text.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    assert "DTSTART;VALUE=DATE:20271231" in lines  # the deadline after renewal
    unfolded = text.replace("\r\n ", "")
    assert "SUMMARY:Ünïcode\\, Inc\\; “Example”: A very long pledge title" in unfolded


def test_a_pledge_renewed_indefinitely_has_no_deadline() -> None:
    from datetime import date

    from monitor.web.feeds import deadline

    base = {"expires_on": date(2021, 6, 10)}
    assert deadline({**base, "spec": {"effective_expiry": None, "renewed": True}}) is None
    assert deadline({**base, "spec": {"effective_expiry": "2022-06-10"}}) == date(2022, 6, 10)
    assert deadline({**base, "spec": {}}) == date(2021, 6, 10)
