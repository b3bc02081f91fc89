"""Every front goes through one lifecycle: a Slack @mention and an API `POST /chat/stream`
pass through the same steps, in the same order.

Both fronts run as users meet them: Slack through the real Bolt app over HTTP against the fake
Slack (the tests/slack harness), the API as the `shopmate api` process (the tests/api
fixture). The lifecycle logs each step a message reaches at DEBUG under a stable name
(`bot.lifecycle.STEPS`); the test reads those lines from each front's log, as an operator
would, so a front that skips a step, or takes one in another order, fails it.
"""

from __future__ import annotations

import logging
import re

from bot.lifecycle import STEPS
from fakes.claude import FakeClaude
from fakes.slack import FakeSlack
from tests.api.conftest import sse_events, start_api
from tests.slack.conftest import TEAM, start_harness, wait_until

STEP = re.compile(r"lifecycle (\w+): (\S+)")
QUESTION = "Where is ORD-1001?"


def steps_of(lines: list[str], message_key: str) -> list[str]:
    """The lifecycle steps logged for one message, in the order they were logged."""
    found = (STEP.search(line) for line in lines)
    return [match.group(1) for match in found if match and match.group(2) == message_key]


def slack_steps(services, fake_claude: FakeClaude, caplog) -> list[str]:
    with FakeSlack(team_id=TEAM) as slack:
        harness = start_harness(services, slack, fake_claude)
        try:
            with caplog.at_level(logging.DEBUG, logger="bot.lifecycle"):
                mention = harness.mention(QUESTION)
                harness.wait_answered(mention)
        finally:
            harness.server.stop()
    assert "RM493827651GB" in harness.reply_text(mention)
    event = mention["event"]
    return steps_of(caplog.messages, f"slack:{TEAM}:{event['channel']}:{event['ts']}")


def api_steps(tmp_path, fake_claude: FakeClaude) -> list[str]:
    db_path = tmp_path / "api" / "shopmate.db"
    db_path.parent.mkdir()
    server = start_api(db_path, fake_claude, {"SHOPMATE_LOG_LEVEL": "DEBUG"})
    try:
        key = server.new_key("widget")
        with server.client(key) as client:
            response = client.post(
                "/chat/stream", json={"message": QUESTION}, headers={"Idempotency-Key": "q1"}
            )
        assert response.status_code == 200
        [(_, done)] = [e for e in sse_events(response.text) if e[0] == "done"]
        assert "RM493827651GB" in done["reply"]
        message_key = "api-request:widget:q1"
        # The stream ends once the turn has ended; its last log lines may still be on the way.
        wait_until(lambda: "finish" in steps_of(list(server.log_lines), message_key))
        return steps_of(list(server.log_lines), message_key)
    finally:
        server.stop()


def test_a_mention_and_a_chat_stream_pass_through_the_same_steps_in_order(
    services, fake_claude, caplog, tmp_path
):
    from_slack = slack_steps(services, fake_claude, caplog)
    from_api = api_steps(tmp_path, fake_claude)
    assert from_slack == from_api
    assert (
        from_slack
        == list(STEPS)
        == [
            "claim",
            "access",
            "conversation",
            "limits",
            "input_cut",
            "engine",
            "store",
            "finish",
        ]
    )
