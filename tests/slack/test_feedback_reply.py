"""Where SlackReply puts the feedback buttons on each path an answer can end by."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.events import TextDelta, TurnComplete, Usage
from bot.slack.budget import CallBudget
from bot.slack.reply import ReplyOptions, ReplyTarget, SlackReply
from fakes.slack import FakeSlack
from tests.slack.conftest import CHANNEL, TEAM, USER

THREAD = "1700000000.000100"
TEXT = "ORD-1001 has shipped."


def make_reply(
    slack: FakeSlack, budget: CallBudget, *, native: bool, flush_interval: float = 0.0
) -> SlackReply:
    client = WebClient(token="xoxb-test", base_url=slack.api_url)
    target = ReplyTarget(team=TEAM, channel=CHANNEL, thread_ts=THREAD, user=USER)
    options = ReplyOptions(native_streaming=native, flush_interval=flush_interval)
    return SlackReply(client, budget, target, options=options)


def done(turn_id: int | None = 7) -> TurnComplete:
    return TurnComplete(TEXT, [], Usage(), "end_turn", turn_id=turn_id)


def feedback_values(slack: FakeSlack) -> list[str]:
    [message] = slack.messages(CHANNEL, THREAD)
    return [
        button["value"]
        for block in message.blocks
        if block["type"] == "context_actions"
        for element in block["elements"]
        for button in (element["positive_button"], element["negative_button"])
    ]


def test_an_answer_already_shown_in_full_still_gets_its_buttons_by_one_update(
    fake_slack: FakeSlack,
) -> None:
    reply = make_reply(fake_slack, CallBudget(), native=False)
    reply.handle(TextDelta(TEXT))  # posted at once: the whole answer is visible
    reply.handle(done())

    assert feedback_values(fake_slack) == ["positive:7", "negative:7"]
    [message] = fake_slack.messages(CHANNEL, THREAD)
    assert message.text == TEXT
    assert len(fake_slack.calls_to("chat.update")) == 1


def test_an_answer_posted_whole_at_the_end_carries_the_buttons(fake_slack: FakeSlack) -> None:
    budget = CallBudget(minute_s=6.0)  # this channel's post slot comes back in 0.1 s
    assert budget.try_acquire(TEAM, "chat.postMessage", channel=CHANNEL)  # taken by another
    reply = make_reply(fake_slack, budget, native=False)
    reply.handle(TextDelta(TEXT))  # no slot to open a message: the text waits
    assert fake_slack.calls_to("chat.postMessage") == []
    reply.handle(done())

    assert feedback_values(fake_slack) == ["positive:7", "negative:7"]
    assert fake_slack.messages(CHANNEL, THREAD)[0].text == TEXT


def test_a_turn_without_a_stored_id_gets_no_buttons(fake_slack: FakeSlack) -> None:
    reply = make_reply(fake_slack, CallBudget(), native=True)
    reply.handle(TextDelta(TEXT))
    reply.handle(done(turn_id=None))

    assert feedback_values(fake_slack) == []
    assert "blocks" not in fake_slack.calls_to("chat.stopStream")[0].args


def test_blocks_slack_refuses_never_cost_the_answer(fake_slack: FakeSlack, caplog) -> None:
    fake_slack.fail_next("chat.stopStream", error="invalid_blocks")
    reply = make_reply(fake_slack, CallBudget(), native=True, flush_interval=60.0)
    reply.handle(TextDelta("ORD-1001 "))  # the first words go out at once
    reply.handle(TextDelta("has shipped."))  # not due yet: the stop call carries it
    with caplog.at_level(logging.ERROR, logger="bot.slack.reply"):
        reply.handle(done())

    [message] = fake_slack.messages(CHANNEL, THREAD)
    assert message.text == TEXT and not message.streaming
    assert feedback_values(fake_slack) == []
    assert "refused the feedback blocks" in caplog.text
