"""monitor.alerts.send: through apprise to real local SMTP and HTTP receivers; secrets never leak."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import apprise
import pytest
from apprise.plugins.slack import NotifySlack
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from receivers import Endpoint, Mailbox, free_port, smtp_server
from sqlalchemy import text

from monitor.alerts.deliver import deliver_due
from monitor.alerts.send import notify_type
from monitor.cli import App
from monitor.commands.alerts import alerts_group
from monitor.events import Severity
from monitor.store import outbox
from monitor.store.repo import Store
from tests.alert_events import (
    PLEDGE,
    T0,
    TITLE,
    URL,
    WriteWatchlist,
    add,
    deliver,
    mailto,
    routes_yaml,
    statuses,
    weakened,
)


@pytest.fixture
def mail() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as server:
        yield server


def test_severity_sets_the_notification_type() -> None:
    assert notify_type("critical") == apprise.NotifyType.FAILURE
    assert notify_type("high") == notify_type("warning") == apprise.NotifyType.WARNING
    assert notify_type("info") == notify_type(Severity.INFO) == apprise.NotifyType.INFO


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
    assert deliver(store, watchlist, T0).sent == 5
    assert len(mailbox.messages) == 5
    # Throttled, apprise sleeps 5.5 s before each email after the first: every gap would be at least
    # that, however fast or slow the machine. One gap below it shows the sends were not spaced.
    gaps = [b - a for a, b in itertools.pairwise(mailbox.arrived)]
    assert min(gaps) < 5.5, f"every email waited 5.5 s or more ({gaps}): apprise throttling is back"


def test_a_closed_port_is_a_failed_target(store: Store, write_watchlist: WriteWatchlist) -> None:
    watchlist = write_watchlist(routes_yaml(email=mailto(free_port())))
    add(store, watchlist, weakened())
    summary = deliver(store, watchlist, T0)
    assert summary.retrying == 1
    assert summary.errors[0].startswith("mailto://127.0.0.1:")


def test_rendering_and_delivering_load_apprise_only_when_a_message_is_sent() -> None:
    code = (
        "import sys; import monitor.alerts.deliver, monitor.alerts.render, monitor.schedule; "
        "print('apprise' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"
