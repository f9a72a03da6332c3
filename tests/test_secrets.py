"""Route secrets: ${VAR} templates resolved only when sending, and redacted everywhere else."""

from __future__ import annotations

import pytest

from monitor.errors import AlertError
from monitor.secrets import has_literal_secret, redact_url, referenced_env_vars, resolve_url

SLACK = "slack://${SLACK_TOKEN_A}/${SLACK_TOKEN_B}/${SLACK_TOKEN_C}/#pledge-alerts"
MAIL = "mailtos://${SMTP_USER}:${SMTP_PASS}@smtp.example.org?to=audit@example.org"
ENV = {
    "SLACK_TOKEN_A": "T1JJ3T3L2",
    "SLACK_TOKEN_B": "A1BRTD4JD",
    "SLACK_TOKEN_C": "TIiajkdnlazkcOXrIdevi7FQ",
    "SMTP_USER": "pledge-bot",
    "SMTP_PASS": "p@ss/w:rd",
}


def test_referenced_env_vars() -> None:
    assert referenced_env_vars(SLACK) == {"SLACK_TOKEN_A", "SLACK_TOKEN_B", "SLACK_TOKEN_C"}
    assert referenced_env_vars("console://") == set()


def test_resolve_url_fills_references_and_encodes_userinfo() -> None:
    assert resolve_url(SLACK, ENV) == "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#pledge-alerts"
    assert (
        resolve_url(MAIL, ENV) == "mailtos://pledge-bot:p%40ss%2Fw%3Ard@smtp.example.org?to=audit@example.org"
    )
    assert resolve_url("console://", {}) == "console://"


def test_resolve_url_names_the_missing_variable_never_a_value() -> None:
    env = {**ENV, "SMTP_PASS": ""}
    del env["SMTP_USER"]
    with pytest.raises(AlertError) as caught:
        resolve_url(MAIL, env)
    message = str(caught.value)
    assert "SMTP_PASS" in message and "SMTP_USER" in message
    assert "mailtos://smtp.example.org/***" in message
    assert "pledge-bot" not in message and "audit@example.org" not in message


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        (SLACK, "slack://***"),
        (MAIL, "mailtos://smtp.example.org/***"),
        ("json://127.0.0.1:8080/hooks/pledges?token=abc", "json://127.0.0.1:8080/***"),
        ("json://[::1]:8080/hooks", "json://[::1]:8080/***"),
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123", "tgram://***"),
        ("pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@aqxyzs5oqpvdmxbuusy78rl8shvzsy", "pover://***"),
        ("${SLACK_WEBHOOK_URL}", "***"),
        ("console://", "console://"),
        ("not a url", "***"),
    ],
)
def test_redact_url_keeps_scheme_and_host_only(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@pytest.mark.parametrize("template", [SLACK, MAIL])
def test_redacting_a_resolved_url_leaks_no_secret(template: str) -> None:
    redacted = redact_url(resolve_url(template, ENV))
    for secret in ENV.values():
        assert secret not in redacted
    assert "audit" not in redacted


@pytest.mark.parametrize(
    ("template", "literal"),
    [
        ("mailtos://bot:hunter2@smtp.example.org", True),
        ("mailtos://${SMTP_USER}:${SMTP_PASS}@smtp.example.org", False),
        ("json://127.0.0.1/hook?token=abc", True),
        ("json://127.0.0.1/hook?token=${HOOK_TOKEN}", False),
        ("mailtos://bot@smtp.example.org", False),
    ],
)
def test_literal_secrets_are_recognised(template: str, literal: bool) -> None:
    assert has_literal_secret(template) is literal
