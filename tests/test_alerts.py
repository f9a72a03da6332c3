"""Alerts: rendering, and delivery through apprise to real local SMTP and HTTP receivers."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import apprise
import pytest
from apprise.plugins.slack import NotifySlack
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from receivers import Endpoint, Mailbox, free_port, smtp_server
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from monitor.alerts import (
    DeliverySummary,
    backoff,
    deliver_due,
    next_digest,
    notify_type,
    render_digest,
    render_event,
)
from monitor.cli import App
from monitor.commands.alerts import alerts_group
from monitor.events import Severity
from monitor.lifecycle import EventDraft
from monitor.lock import database_lock
from monitor.store import claims, outbox
from monitor.store import models as m
from monitor.store.repo import Store
from monitor.watchlist import Watchlist

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
PLEDGE = "amazon-rekognition-moratorium"
URL = "https://www.aboutamazon.com/news/moratorium?a=1&b=2"
TITLE = "Amazon: Moratorium on police use of Rekognition: clause weakened"

PLEDGES = """
sources:
  - id: amazon-post
    url: https://www.aboutamazon.com/news/moratorium
pledges:
  - id: amazon-rekognition-moratorium
    company: Amazon
    title: Moratorium on police use of Rekognition
    made_on: 2020-06-10
    sources: [amazon-post]
    clauses: ["a one-year moratorium on police use of facial recognition"]
"""

WriteWatchlist = Callable[[str], Watchlist]


def routes_yaml(**routes: str) -> str:
    """``name="url"`` or ``name="url1 url2 | digest"`` -> a routes section."""
    lines = ["routes:"]
    for name, spec in routes.items():
        urls, _, digest = spec.partition("|")
        lines.append(f"  {name.replace('_', '-')}:")
        lines.append(f"    urls: {json.dumps(urls.split())}")
        if digest.strip():
            lines.append(f"    digest: {digest.strip()}")
    return "\n".join(lines) + "\n" + PLEDGES


def weakened(n: int = 0, passage_extra: str = "") -> EventDraft:
    words: list[tuple[int, str]] = [(-1, "a one-year"), (1, "an indefinite")]
    words.append((0, "moratorium on police use of facial recognition"))
    if passage_extra:
        words.append((1, passage_extra))
    passage = " ".join(text for op, text in words if op != -1)
    return EventDraft(
        kind="pledge.weakened",
        severity=Severity.CRITICAL,
        title=TITLE if not n else f"{TITLE} ({n})",
        pledge_id=PLEDGE,
        source_id="amazon-post",
        details={
            "clause": "a one-year moratorium on police use of facial recognition",
            "passage": passage,
            "previous_passage": "a one-year moratorium on police use of facial recognition",
            "previous_state": "exact",
            "similarity": 0.78,
            "word_ops": [list(op) for op in words],
            "signals": [
                {"kind": "scope", "words": "indefinite", "explanation": "a deadline became open-ended"}
            ],
            "url": URL,
        },
    )


def add(store: Store, watchlist: Watchlist, *drafts: EventDraft, at: datetime = T0) -> list[int]:
    return store.add_events(drafts, watchlist, at)


def statuses(store: Store) -> list[tuple[str, int]]:
    with Session(store.engine) as s:
        return [(a.status, a.attempts) for a in s.scalars(select(m.Alert).order_by(m.Alert.id))]


def deliver(store: Store, watchlist: Watchlist, now: datetime, **kwargs: object) -> DeliverySummary:
    return deliver_due(store, watchlist, now=now, env=kwargs.pop("env", {}), **kwargs)  # type: ignore[arg-type]


def latest_retry(store: Store) -> datetime:
    with Session(store.engine) as s:
        due = s.scalar(select(m.Alert.next_attempt_at).order_by(m.Alert.next_attempt_at.desc()).limit(1))
    assert due is not None
    return due


@pytest.fixture
def mail() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as server:
        yield server


def mailto(port: int) -> str:
    return f"mailto://127.0.0.1:{port}?from=monitor@example.org&to=team@example.org"


# --------------------------------------------------------------------------- rendering


def event_row(draft: EventDraft, event_id: int = 7, change_id: int | None = 12) -> m.Event:
    return m.Event(
        id=event_id,
        kind=draft.kind,
        severity=draft.severity.label,
        created_at=T0,
        pledge_id=draft.pledge_id,
        source_id=draft.source_id,
        change_id=change_id,
        title=draft.title,
        details=draft.details,
    )


def test_a_message_says_what_changed_in_every_format() -> None:
    message = render_event(event_row(weakened()), "team")
    assert message.title == TITLE
    assert message.key == "pm-7-team"
    assert "Pledged:  ~~a one-year~~ moratorium on police use of facial recognition" in message.text
    assert "Page now: **an indefinite** moratorium on police use of facial recognition" in message.text
    for rendered in (message.text, message.html, message.slack):
        assert "a deadline became open-ended" in rendered
        assert "2026-03-01 10:00 UTC" in rendered
        assert "pledge-monitor show 12" in rendered
        assert "pm-7-team" in rendered
    assert "Source: " + URL in message.text
    assert '<del style="background:#fdd;color:#900">a one-year</del>' in message.html
    assert ">an indefinite</ins>" in message.html
    assert f'<a href="{URL.replace("&", "&amp;")}">' in message.html
    assert "~a one-year~ moratorium" in message.slack
    assert "*an indefinite* moratorium" in message.slack
    assert f"<{URL.replace('&', '&amp;')}|Source page>" in message.slack
    assert message.severity == Severity.CRITICAL


def test_page_text_is_escaped_for_html_and_slack() -> None:
    hostile = "<script>alert(1)</script> <!channel>"
    message = render_event(event_row(weakened(passage_extra=hostile)), "team")
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "<!channel>" not in message.slack
    assert "&lt;!channel&gt;" in message.slack
    assert "<script>alert(1)</script>" in message.text  # plain text stays as the page wrote it


def test_removed_and_changed_events_show_their_details() -> None:
    removed = EventDraft(
        "pledge.removed",
        Severity.CRITICAL,
        "Amazon: Moratorium on police use of Rekognition: clause removed",
        PLEDGE,
        "amazon-post",
        {
            "clause": "a one-year moratorium",
            "last_passage": "a one-year moratorium on police use",
            "url": URL,
            "first_missed": "2026-03-01T09:50:00+00:00",
            "confirmed": "2026-03-01T10:00:00+00:00",
        },
    )
    text = render_event(event_row(removed, change_id=None), "team").text
    assert "Last seen on the page: a one-year moratorium on police use" in text
    assert "Missing since 2026-03-01 09:50 UTC; confirmed 2026-03-01 10:00 UTC." in text
    assert "pledge-monitor show" not in text
    changed = EventDraft(
        "source.changed",
        Severity.INFO,
        "amazon-post: text changed (+2 -1 words)",
        None,
        "amazon-post",
        {
            "url": URL,
            "summary": "+2 -1 words",
            "added": ["new words"],
            "removed": ["old"],
            "pledges": [PLEDGE],
        },
    )
    text = render_event(event_row(changed), "team").text
    assert "- removed: old\n+ added: new words" in text
    assert f"Pledges: {PLEDGE}" in text


def narrowed_event(context: str | None = None) -> EventDraft:
    """A real assessment (Amazon's 2024 wording) turned into an event, as a check records it."""
    from monitor.clauses import find_clause, in_context
    from monitor.lifecycle import ClauseRecord, _clause_event

    clause = "a one-year moratorium on police use of Amazon's facial recognition technology"
    page = (
        "Rekognition FAQ\nAt this time, Amazon has implemented a moratorium on police departments’ use of"
        " Amazon Rekognition’s face comparison feature in connection with criminal investigations.\nContact."
    )
    match = in_context(find_clause(clause, page), page, context)
    assert match.passage is not None
    pledge = type("P", (), {"company": "Amazon", "title": "Moratorium", "id": PLEDGE})()
    fetched = type("F", (), {"final_url": URL})()
    source = type("S", (), {"id": "amazon-post"})()
    record = ClauseRecord(PLEDGE, clause, state="exact", passage=clause)
    return _clause_event("pledge.weakened", source, pledge, match, fetched, record)  # type: ignore[arg-type]


def test_quotes_are_exact_and_only_changed_words_are_marked() -> None:
    """Punctuation, case and possessives as published; the comma after "At this time" stays; the
    passage ends at the end of its phrase; "Pledged:" is the clause, not the sentence."""
    message = render_event(event_row(narrowed_event()), "team")
    assert (
        "Pledged:  a ~~one-year~~ moratorium on police use of ~~Amazon's facial recognition technology~~\n"
        in message.text
    )
    assert (
        "Page now: **At this time**, **Amazon has implemented** a moratorium on police **departments**’"
        " use of **Amazon Rekognition’s face comparison feature in connection with criminal"
        " investigations**\n"
    ) in message.text
    assert "the clause as pledged is gone, this passage stands in its place" in message.text
    assert "<del " in message.html
    assert "departments</ins>’ use of" in message.html
    assert "*departments*’ use of" in message.slack


def test_the_readme_example_a_narrowed_pledge() -> None:
    """The console alert README.md shows under "Alerts", from a real assessment."""
    from monitor.clauses import find_clause, in_context, sentences_of
    from monitor.lifecycle import ClauseRecord, _clause_event

    clause = (
        "Microsoft will not sell facial recognition technology to police departments in the United States"
        " until strong regulation, grounded in human rights, has been enacted"
    )
    before = f"Azure AI Face\nFace is a Limited Access service.\n{clause}.\nCustomers must apply for access."
    now = (
        "Microsoft does not currently sell facial recognition technology to police departments"
        " in the United States"
    )
    after = before.replace(clause, now)
    found = find_clause(clause, after, last_location=before.index("Microsoft"), stood=sentences_of(before))
    match = in_context(found, after, clause + ".")
    pledge = type("P", (), {"company": "Example Corp", "title": "No sales to US police", "id": PLEDGE})()
    source, fetched = type("S", (), {"id": "face-policy"})(), type("F", (), {"final_url": URL})()
    record = ClauseRecord(PLEDGE, clause, state="exact", passage=clause)
    draft = _clause_event("pledge.weakened", source, pledge, match, fetched, record)  # type: ignore[arg-type]
    text = render_event(event_row(draft, change_id=1), "console").text
    assert (
        "Pledged:  Microsoft ~~will~~ not sell facial recognition technology to police departments in the"
        " United States ~~until strong regulation~~, ~~grounded in human rights~~, ~~has been enacted~~\n"
        "Page now: Microsoft **does** not **currently** sell facial recognition technology to police"
        " departments in the United States\n"
        "(67% of the words still match: the clause as pledged is gone, this passage stands in its place)\n"
        "\n"
        "Why this may weaken the pledge:\n"
        '- hedge added: "currently"\n'
        '- commitment turned into a statement of present fact: "will" dropped\n'
        '- condition dropped: "until strong regulation grounded in human rights has been enacted"\n'
    ) in text


def test_words_that_stood_there_before_are_not_marked() -> None:
    """The sentence the clause was last found intact in said "At this time, Amazon has
    implemented": those words are not news, only the narrowing is."""
    intact = (
        "At this time, Amazon has implemented a one-year moratorium on police use of Amazon's facial"
        " recognition technology."
    )
    text = render_event(event_row(narrowed_event(intact)), "team").text
    assert (
        "Page now: At this time, Amazon has implemented a moratorium on police **departments**’ use" in text
    )


def test_a_removal_shows_what_stands_where_the_clause_stood() -> None:
    removed = EventDraft(
        "pledge.removed",
        Severity.CRITICAL,
        "Microsoft: No sales to US police: clause removed",
        PLEDGE,
        "amazon-post",
        {
            "clause": "will not sell facial recognition technology to police departments",
            "last_passage": "will not sell facial recognition technology to police departments",
            "url": URL,
            "first_missed": "2026-03-01T09:50:00+00:00",
            "confirmed": "2026-03-01T10:00:00+00:00",
            "now_before": "Face is a Limited Access service.",
            "now_after": "Customers must apply for access.",
        },
    )
    message = render_event(event_row(removed, change_id=5), "team")
    assert (
        "Where it stood, the page now reads:\n"
        "  before: Face is a Limited Access service.\n"
        "  after:  Customers must apply for access.\n"
    ) in message.text
    assert "Change 5: pledge-monitor show 5" in message.text
    assert "Now before" not in message.text  # not repeated as a raw fact
    assert "[the clause stood here]" in message.html
    assert ">Customers must apply for access." in message.slack


def test_severity_sets_the_notification_type() -> None:
    assert notify_type("critical") == apprise.NotifyType.FAILURE
    assert notify_type("high") == notify_type("warning") == apprise.NotifyType.WARNING
    assert notify_type("info") == notify_type(Severity.INFO) == apprise.NotifyType.INFO


def test_backoff_doubles_up_to_six_hours_and_digests_are_at_eight() -> None:
    assert timedelta(minutes=1) <= backoff(1) <= timedelta(minutes=1.1)
    assert timedelta(minutes=4) <= backoff(3) <= timedelta(minutes=4.4)
    assert timedelta(hours=6) <= backoff(30) <= timedelta(hours=6.6)
    assert next_digest(T0) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert next_digest(datetime(2026, 3, 2, 8, 0, tzinfo=UTC)) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- delivery


def test_email_has_subject_marked_words_and_escaped_page_text(
    store: Store, write_watchlist: WriteWatchlist, mail: tuple[int, Mailbox]
) -> None:
    port, mailbox = mail
    watchlist = write_watchlist(routes_yaml(email=mailto(port)))
    (event_id,) = add(store, watchlist, weakened(passage_extra="<script>alert(1)</script>"))
    summary = deliver(store, watchlist, T0)
    assert (summary.sent, summary.retrying, summary.failed) == (1, 0, 0)
    assert statuses(store) == [("sent", 1)]
    (received,) = mailbox.messages
    assert received["Subject"] == TITLE
    assert received["To"] == "team@example.org"
    assert received["X-Pledge-Monitor-Key"] == f"pm-{event_id}-email"
    html = received.get_body(("html",))
    plain = received.get_body(("plain",))
    assert isinstance(html, EmailMessage)
    assert isinstance(plain, EmailMessage)
    html_text = html.get_content()
    assert ">a one-year</del>" in html_text
    assert ">an indefinite</ins>" in html_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text
    assert "<script>" not in html_text
    assert "Words removed: “a one-year”" in plain.get_content()


def test_json_webhook_gets_the_message_and_the_structured_alert(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer
) -> None:
    hook = Endpoint(httpserver, "/hooks/pledges")
    watchlist = write_watchlist(routes_yaml(hook=f"json://{hook.url}"))
    (event_id,) = add(store, watchlist, weakened())
    assert deliver(store, watchlist, T0).sent == 1
    (body,) = hook.accepted
    assert body["title"] == TITLE
    assert body["type"] == "failure"
    assert "~~a one-year~~" in body["message"]
    assert "**an indefinite**" in body["message"]
    assert body["key"] == f"pm-{event_id}-hook"
    assert body["alert"]["kind"] == "pledge.weakened"
    assert body["alert"]["pledge_id"] == PLEDGE
    assert body["alert"]["details"]["word_ops"][0] == [-1, "a one-year"]
    assert hook.headers[0]["X-Pledge-Monitor-Key"] == f"pm-{event_id}-hook"


def test_slack_gets_mrkdwn_with_page_text_escaped(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the real Slack plugin, pointed at a real local receiver instead of hooks.slack.com
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{httpserver.port}/services")
    slack = Endpoint(httpserver, "/services/T0001/B0002/secretC")
    watchlist = write_watchlist(routes_yaml(slack="slack://${SLACK_A}/${SLACK_B}/${SLACK_C}/#pledges"))
    add(store, watchlist, weakened(passage_extra="<!channel>"))
    env = {"SLACK_A": "T0001", "SLACK_B": "B0002", "SLACK_C": "secretC"}
    assert deliver(store, watchlist, T0, env=env).sent == 1
    (body,) = slack.accepted
    header, section = body["attachments"][0]["blocks"][:2]
    assert header["text"]["text"] == TITLE
    assert section["text"]["type"] == "mrkdwn"
    mrkdwn = section["text"]["text"]
    assert "~a one-year~" in mrkdwn
    assert "*an indefinite*" in mrkdwn
    assert f"<{URL.replace('&', '&amp;')}|Source page>" in mrkdwn
    assert "&lt;!channel&gt;" in mrkdwn
    assert "<!channel>" not in mrkdwn
    assert body["channel"] == "#pledges"


def test_console_route_prints_the_plain_text(store: Store, write_watchlist: WriteWatchlist) -> None:
    watchlist = write_watchlist(routes_yaml(console="console://"))
    add(store, watchlist, weakened())
    out = io.StringIO()
    assert deliver(store, watchlist, T0, stream=out).sent == 1
    assert out.getvalue().startswith(f"[critical] {TITLE}\n")
    assert "~~a one-year~~" in out.getvalue()


def test_a_route_down_for_a_while_gets_every_alert_once(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer
) -> None:
    hook = Endpoint(httpserver, "/hook")
    watchlist = write_watchlist(routes_yaml(hook=f"json://{hook.url}"))
    ids = add(store, watchlist, weakened(1), weakened(2), weakened(3))
    hook.up = False
    assert deliver(store, watchlist, T0).retrying == 3
    assert deliver(store, watchlist, T0 + timedelta(seconds=30)).claimed == 0  # backoff: not yet
    assert deliver(store, watchlist, latest_retry(store)).retrying == 3
    assert statuses(store) == [("pending", 2)] * 3
    hook.up = True
    assert deliver(store, watchlist, latest_retry(store)).sent == 3
    assert deliver(store, watchlist, T0 + timedelta(days=7)).claimed == 0
    assert sorted(b["key"] for b in hook.accepted) == [f"pm-{i}-hook" for i in ids]
    assert hook.refused == 6


def test_a_failed_target_is_retried_alone(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer
) -> None:
    good, flaky = Endpoint(httpserver, "/good"), Endpoint(httpserver, "/flaky")
    watchlist = write_watchlist(routes_yaml(both=f"json://{good.url} json://{flaky.url}"))
    add(store, watchlist, weakened())
    flaky.up = False
    assert deliver(store, watchlist, T0).retrying == 1
    with Session(store.engine) as s:
        (last_error,) = s.scalars(select(m.Alert.last_error))
    assert outbox.Progress.load(last_error).done == {0}
    assert f"json://127.0.0.1:{httpserver.port}/***" in (outbox.Progress.load(last_error).error or "")
    flaky.up = True
    assert deliver(store, watchlist, latest_retry(store)).sent == 1
    assert len(good.accepted) == 1
    assert len(flaky.accepted) == 1


def test_a_worker_killed_after_claiming_is_replaced_and_sends_once(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer
) -> None:
    hook = Endpoint(httpserver, "/hook")
    watchlist = write_watchlist(routes_yaml(hook=f"json://{hook.url}"))
    add(store, watchlist, weakened())
    outbox.claim_due(store.engine, now=T0, worker="killed", lease=timedelta(minutes=15))  # ... and died
    assert deliver(store, watchlist, T0 + timedelta(minutes=5)).claimed == 0  # its lease still runs
    assert deliver(store, watchlist, T0 + timedelta(minutes=15)).sent == 1
    assert deliver(store, watchlist, T0 + timedelta(days=1)).claimed == 0
    assert len(hook.accepted) == 1
    assert statuses(store) == [("sent", 1)]


def test_after_max_attempts_an_alert_fails_until_retried(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer, tmp_path: Path
) -> None:
    hook = Endpoint(httpserver, "/hook")
    watchlist = write_watchlist(routes_yaml(hook=f"json://{hook.url}"))
    (event_id,) = add(store, watchlist, weakened())
    hook.up = False
    now = T0
    for _ in range(3):
        summary = deliver(store, watchlist, now, max_attempts=3)
        now = latest_retry(store)
    assert summary.failed == 1
    assert statuses(store) == [("failed", 3)]
    assert deliver(store, watchlist, now + timedelta(days=1), max_attempts=3).claimed == 0
    (failed,) = outbox.failed_alerts(store.engine)
    assert (failed.event_id, failed.route, failed.title) == (event_id, "hook", TITLE)
    assert failed.error is not None
    assert "error=500" in failed.error
    app = App(watchlist_path=tmp_path / "watchlist.yaml", db_url=str(store.engine.url))
    result = CliRunner().invoke(alerts_group, ["retry", "--failed"], obj=app)  # still down
    assert result.exit_code == 1, result.output
    first, error = result.output.splitlines()
    assert first == "1 alerts queued; alerts: 0 sent, 1 to retry, 0 failed"
    assert error.startswith(f"  json://127.0.0.1:{httpserver.port}/***: ")
    assert "error=500" in error
    hook.up = True
    app = App(watchlist_path=tmp_path / "watchlist.yaml", db_url=str(store.engine.url))
    result = CliRunner().invoke(alerts_group, ["retry"], obj=app)
    assert result.exit_code == 0, result.output
    assert result.output == "1 alerts queued; alerts: 1 sent, 0 to retry, 0 failed\n"
    assert len(hook.accepted) == 1
    assert statuses(store) == [("sent", 2)]
    assert claims.workers(store.engine) == []  # it was a worker while it sent, and left


def test_alerts_retry_beside_a_running_daemon_queues_for_it(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer, tmp_path: Path
) -> None:
    hook = Endpoint(httpserver, "/hook")
    watchlist = write_watchlist(routes_yaml(hook=f"json://{hook.url}"))
    add(store, watchlist, weakened())
    hook.up = False
    deliver(store, watchlist, datetime.now(UTC))  # to retry in a minute
    url = str(store.engine.url)
    with database_lock(url) or nullcontext():  # as `run` holds it
        app = App(watchlist_path=tmp_path / "watchlist.yaml", db_url=url)
        result = CliRunner().invoke(alerts_group, ["retry"], obj=app)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "1 alerts queued for the running daemon (another pledge-monitor run (pid "
    )
    assert result.output.endswith("; it sends them within 15 s\n")
    assert hook.refused == 1
    assert statuses(store) == [("pending", 1)]


def test_secrets_never_reach_the_database_logs_or_output(
    store: Store,
    write_watchlist: WriteWatchlist,
    mail: tuple[int, Mailbox],
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, _ = mail
    hook = Endpoint(httpserver, "/hook")
    hook.up = False
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{httpserver.port}/services")
    secret, token = "hunter2-secret", "hunter2SlackToken"
    for name in ("SMTP_PASS", "HOOK_PASS"):
        monkeypatch.setenv(name, secret)
    monkeypatch.setenv("SLACK_C", token)
    smtp = f"mailto://bob:${{SMTP_PASS}}@127.0.0.1:{port}?from=monitor@example.org&to=team@example.org"
    json_hook = f"json://bob:${{HOOK_PASS}}@{hook.url}"
    slack = "slack://T0001/B0002/${SLACK_C}/#pledges"  # the token is in the path urllib3 logs
    watchlist = write_watchlist(routes_yaml(leaky=f"{smtp} {json_hook} {slack}"))
    add(store, watchlist, weakened())
    caplog.set_level(1)  # everything, apprise's TRACE and urllib3's DEBUG included
    summary = deliver_due(store, watchlist, now=T0, max_attempts=1)  # env: os.environ
    assert summary.failed == 1
    app = App(watchlist_path=tmp_path / "watchlist.yaml", db_url=str(store.engine.url))
    result = CliRunner().invoke(alerts_group, ["test", "leaky"], obj=app)
    assert result.exit_code == 1
    assert f"FAILED  mailto://127.0.0.1:{port}/***: " in result.output
    assert f"FAILED  json://127.0.0.1:{httpserver.port}/***: " in result.output
    assert "FAILED  slack://***: " in result.output
    with store.engine.connect() as c:
        dump = "\n".join(
            str(row) for table in ("alerts", "events") for row in c.execute(text(f"SELECT * FROM {table}"))
        )
    (failed,) = outbox.failed_alerts(store.engine)
    assert failed.error is not None
    assert f"mailto://127.0.0.1:{port}/***" in failed.error
    # the receivers' own logs (werkzeug: "POST /services/T0001/B0002/<token>") are not ours
    logs = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert "unpacked as" in logs
    assert "/B0002/*** HTTP/1.1" in logs
    for place in (dump, result.output, logs, "\n".join(summary.errors)):
        assert secret not in place
        assert token not in place


def test_an_unset_variable_is_a_retry_that_names_it(store: Store, write_watchlist: WriteWatchlist) -> None:
    watchlist = write_watchlist(routes_yaml(hook="json://127.0.0.1:9/${HOOK_TOKEN}"))
    add(store, watchlist, weakened())
    summary = deliver(store, watchlist, T0)
    assert summary.retrying == 1
    assert "HOOK_TOKEN is not set" in summary.errors[0]


def test_bulk_email_is_not_throttled(
    store: Store, write_watchlist: WriteWatchlist, mail: tuple[int, Mailbox]
) -> None:
    port, mailbox = mail
    watchlist = write_watchlist(routes_yaml(email=mailto(port)))
    add(store, watchlist, *(weakened(n) for n in range(5)))
    started = time.monotonic()
    assert deliver(store, watchlist, T0).sent == 5
    elapsed = time.monotonic() - started
    assert len(mailbox.messages) == 5
    assert elapsed < 2.5, f"5 emails took {elapsed:.1f}s: apprise throttling is back"  # 22 s if throttled


def test_a_daily_digest_holds_alerts_and_sends_them_together(
    store: Store, write_watchlist: WriteWatchlist, httpserver: HTTPServer
) -> None:
    hook = Endpoint(httpserver, "/digest")
    watchlist = write_watchlist(routes_yaml(daily=f"json://{hook.url} | daily"))
    add(store, watchlist, weakened(1), weakened(2))
    add(store, watchlist, weakened(3), at=T0 + timedelta(hours=3))
    assert deliver(store, watchlist, T0 + timedelta(minutes=5)).held == 2
    assert deliver(store, watchlist, T0 + timedelta(hours=4)).held == 1
    assert statuses(store) == [("pending", 0)] * 3
    eight = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert latest_retry(store) == eight
    assert deliver(store, watchlist, eight - timedelta(minutes=1)).claimed == 0
    summary = deliver(store, watchlist, eight + timedelta(seconds=20))
    assert (summary.sent, summary.messages) == (3, 1)
    (body,) = hook.accepted
    assert body["title"] == "pledge-monitor daily digest for daily: 3 events (critical at most)"
    assert [e["title"] for e in body["alert"]["events"]] == [f"{TITLE} ({n})" for n in (1, 2, 3)]
    assert all(f"{TITLE} ({n})" in body["message"] for n in (1, 2, 3))
    with Session(store.engine) as s:
        assert len(set(s.scalars(select(m.Alert.sent_at)))) == 1


def test_a_digest_lists_the_worst_first() -> None:
    info = EventDraft("source.changed", Severity.INFO, "a: text changed", None, "a", {"summary": "+1 words"})
    message = render_digest("team", [event_row(info, 1), event_row(weakened(), 2)])
    assert message.text.index(TITLE) < message.text.index("a: text changed")
    assert message.severity == Severity.CRITICAL


def test_alerts_of_a_removed_route_fail_with_a_clear_reason(
    store: Store, write_watchlist: WriteWatchlist
) -> None:
    before = write_watchlist(routes_yaml(old="console://"))
    add(store, before, weakened())
    after = write_watchlist(routes_yaml(new="console://"))
    summary = deliver(store, after, T0)
    assert summary.failed == 1
    assert summary.errors == ["route 'old' is not in the watchlist any more"]


def test_alerts_test_reports_each_target(
    write_watchlist: WriteWatchlist, httpserver: HTTPServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hook = Endpoint(httpserver, "/hook")
    write_watchlist(routes_yaml(team=f"console:// json://{hook.url}"))
    app = App(watchlist_path=tmp_path / "watchlist.yaml", db_url=f"sqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(alerts_group, ["test", "team"], obj=app)
    assert result.exit_code == 0, result.output
    assert "[info] pledge-monitor: test alert for route team" in result.output
    assert result.output.endswith(f"ok      console://\nok      json://127.0.0.1:{httpserver.port}/***\n")
    assert hook.accepted[0]["title"] == "pledge-monitor: test alert for route team"
    hook.up = False
    with caplog.at_level(logging.CRITICAL):
        result = CliRunner().invoke(alerts_group, ["test", "team"], obj=app)
    assert result.exit_code == 1
    assert result.output.endswith(
        f"FAILED  json://127.0.0.1:{httpserver.port}/***: Failed to send JSON POST notification: "
        "Internal server error., error=500.\n"
    )
    result = CliRunner().invoke(alerts_group, ["test", "teem"], obj=app)
    assert result.exit_code == 1
    assert "no route 'teem'" in result.output
    assert "did you mean 'team'" in result.output


def test_a_closed_port_is_a_failed_target(store: Store, write_watchlist: WriteWatchlist) -> None:
    watchlist = write_watchlist(routes_yaml(email=mailto(free_port())))
    add(store, watchlist, weakened())
    summary = deliver(store, watchlist, T0)
    assert summary.retrying == 1
    assert summary.errors[0].startswith("mailto://127.0.0.1:")
