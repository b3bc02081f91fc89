"""No secret or token is ever written to the database or the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import prompts
from bot.cli.logging_setup import SecretMaskingFilter
from fakes.claude import FakeClaude, http_error
from fakes.slack import FakeSlack
from fakes.slack.events import mention_event
from tests.slack.conftest import CHANNEL, TEAM, USER
from tests.trust.conftest import open_services, start_app, trust_settings

API_KEY = "sk-ant-api03-FAKEKEY-SECRETMARK-0123456789abcdef"
BOT_TOKEN = "xoxb-1111-2222-FAKEBOT-SECRETMARK"
APP_TOKEN = "xapp-1-A1-FAKEAPP-SECRETMARK"
SIGNING_SECRET = "fake-signing-SECRETMARK-abcdef0123456789"
SECRETS = (API_KEY, BOT_TOKEN, APP_TOKEN, SIGNING_SECRET)


@pytest.fixture
def strict_fakes() -> Iterator[tuple[FakeClaude, FakeSlack]]:
    """Fakes that accept only the secret key and token, so the run provably used them."""
    with (
        FakeClaude(api_key=API_KEY) as claude,
        FakeSlack(team_id=TEAM, tokens={BOT_TOKEN: TEAM}) as slack,
    ):
        yield claude, slack


def leaked(text: str | bytes) -> list[str]:
    data = text.encode("utf-8", "backslashreplace") if isinstance(text, str) else text
    return [s for s in (*SECRETS, "SECRETMARK") if s.encode() in data]


def test_no_secret_reaches_the_database_or_the_logs(tmp_path: Path, strict_fakes, caplog):
    claude, slack = strict_fakes
    caplog.set_level(logging.DEBUG)
    settings = trust_settings(
        tmp_path / "secrets.db",
        claude.url,
        {
            "ANTHROPIC_API_KEY": API_KEY,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        },
    )
    services = open_services(settings)
    app = start_app(services, slack, claude)
    try:
        # An answer with a tool call, Claude failing, Slack failing, a refusal, bad bodies.
        answered = app.mention("Where is ORD-1001?")
        app.wait_answered(answered)
        assert "RM493827651GB" in app.reply_text(answered), "the secrets were really used"
        for _ in range(3):
            claude.enqueue(http_error(529, "overloaded_error", "Overloaded"))
        failed = app.mention("And ORD-1002?")
        app.wait_answered(failed)
        assert prompts.ESCALATION_LINE in app.reply_text(failed)
        slack.fail_next("chat.startStream", error="invalid_auth")
        slack_error = app.mention("And ORD-1003?")
        app.wait_answered(slack_error)
        refused = app.mention("hi", user="U0GUEST", user_team="T0OTHER")
        app.wait_answered(refused)
        assert app.deliver(b"{not json") == 400
        forged = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="hi")
        assert app.deliver(forged, signature="v0=" + "0" * 64) == 401
    finally:
        app.server.stop()
        services.close()

    stored = b"".join(p.read_bytes() for p in tmp_path.glob("secrets.db*"))
    assert b"ORD-1001" in stored, "the database was really written"
    assert leaked(stored) == []
    # Every record, at DEBUG, with arguments and tracebacks: what any handler could write.
    assert caplog.records and leaked(caplog.text) == []
    for record in caplog.records:
        assert leaked(record.getMessage()) == [], record.name


def test_the_log_filter_masks_tokens_a_library_might_log():
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "headers: %s",
        ({"Authorization": f"Bearer {API_KEY}"},),
        None,
    )
    SecretMaskingFilter().filter(record)
    assert leaked(record.getMessage()) == []
    for token in (BOT_TOKEN, APP_TOKEN, API_KEY):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, token, None, None)
        SecretMaskingFilter().filter(record)
        assert "[redacted]" in record.getMessage()
