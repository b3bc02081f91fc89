"""The fake Slack checks interactive blocks as Slack does, and lets tests click what is visible."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from fakes.slack import FakeSlack
from fakes.slack.clicks import click

CHANNEL = "C1"
THREAD = "1700000000.000100"
# Slack's own example (docs.slack.dev, context actions block), with a block_id.
FEEDBACK: dict[str, Any] = {
    "type": "context_actions",
    "block_id": "fb_1",
    "elements": [
        {
            "type": "feedback_buttons",
            "action_id": "feedback_buttons_1",
            "positive_button": {
                "text": {"type": "plain_text", "text": "👍"},
                "value": "positive_feedback",
            },
            "negative_button": {
                "text": {"type": "plain_text", "text": "👎"},
                "value": "negative_feedback",
                "accessibility_label": "Not helpful",
            },
        }
    ],
}
ANSWER = {"type": "markdown", "text": "It has shipped."}


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with FakeSlack(enforce_limits=False) as fake:
        yield fake


def client(slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.api_url)


def broken(change) -> list[dict[str, Any]]:
    block = copy.deepcopy(FEEDBACK)
    change(block)
    return [ANSWER, block]


def set_at(path: list, value: Any):
    def change(block: dict[str, Any]) -> None:
        target: Any = block
        for key in path[:-1]:
            target = target[key]
        if value is None:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


BUTTON = ["elements", 0, "positive_button"]


@pytest.mark.parametrize(
    ("blocks", "why"),
    [
        (broken(set_at(["elements"], [])), "no elements"),
        (broken(set_at(["elements"], FEEDBACK["elements"] * 6)), "more than 5 elements"),
        (broken(set_at(["elements", 0, "type"], "button")), "a button in context_actions"),
        (broken(set_at(["elements", 0, "negative_button"], None)), "one thumb only"),
        (broken(set_at([*BUTTON, "text", "type"], "mrkdwn")), "mrkdwn button text"),
        (broken(set_at([*BUTTON, "text", "text"], "x" * 76)), "button text over 75"),
        (broken(set_at([*BUTTON, "value"], "v" * 2001)), "value over 2,000"),
        (broken(set_at([*BUTTON, "value"], None)), "no value"),
        (broken(set_at([*BUTTON, "accessibility_label"], "l" * 76)), "label over 75"),
        (broken(set_at(["elements", 0, "action_id"], "a" * 256)), "action_id over 255"),
        (broken(set_at(["block_id"], "b" * 256)), "block_id over 255"),
        ([FEEDBACK, FEEDBACK], "the same block_id twice"),
    ],
)
def test_blocks_slack_would_refuse_are_refused_on_every_method(slack, blocks, why) -> None:
    web = client(slack)
    posted = web.chat_postMessage(channel=CHANNEL, thread_ts=THREAD, markdown_text="Hi")
    stream = web.chat_startStream(
        channel=CHANNEL, thread_ts=THREAD, recipient_team_id="T0001", recipient_user_id="U1"
    )
    calls = [
        lambda: web.chat_postMessage(channel=CHANNEL, thread_ts=THREAD, text="x", blocks=blocks),
        lambda: web.chat_update(channel=CHANNEL, ts=posted["ts"], text="x", blocks=blocks),
        lambda: web.chat_stopStream(channel=CHANNEL, ts=stream["ts"], blocks=blocks),
    ]
    for call in calls:
        with pytest.raises(SlackApiError) as refused:
            call()
        assert refused.value.response["error"] == "invalid_blocks", why


def test_feedback_buttons_are_taken_shown_under_the_text_and_clickable(slack) -> None:
    web = client(slack)
    ts = web.chat_postMessage(
        channel=CHANNEL, thread_ts=THREAD, text="It has shipped.", blocks=[ANSWER, FEEDBACK]
    )["ts"]
    assert slack.message(CHANNEL, ts).text == "It has shipped."  # the buttons carry no text

    payload = click(
        slack, CHANNEL, ts, user="U7", action_id="feedback_buttons_1", button="negative"
    )
    [action] = payload["actions"]
    assert payload["type"] == "block_actions" and payload["user"]["id"] == "U7"
    assert (action["type"], action["block_id"], action["value"]) == (
        "feedback_buttons",
        "fb_1",
        "negative_feedback",
    )
    assert action["action_ts"]
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": CHANNEL,
        "is_ephemeral": False,
        "thread_ts": THREAD,
    }
    assert payload["message"]["blocks"][1]["block_id"] == "fb_1"


def test_only_visible_buttons_can_be_clicked(slack) -> None:
    web = client(slack)
    ts = web.chat_postMessage(channel=CHANNEL, thread_ts=THREAD, markdown_text="No buttons")["ts"]
    with pytest.raises(LookupError):
        click(slack, CHANNEL, ts, user="U7", action_id="feedback_buttons_1", button="positive")
    with pytest.raises(LookupError):
        click(slack, CHANNEL, "1700000999.000100", user="U7", action_id="x")
