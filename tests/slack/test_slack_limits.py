"""Slack's limits in a busy workspace: every answer arrives whole and once, and no 429 is provoked.

The fake Slack here models Slack's limits as token buckets (fakes/slack/limits.py) that are
stricter than the bot's own pacing and never reset during a test. Its "minute" is shortened to
MINUTE_S seconds and the bot's budget is told the same, so a minute of traffic takes seconds.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.slack.budget import CallBudget
from bot.wiring import Services
from fakes.claude import FakeClaude, Pace, reply
from fakes.slack import FakeSlack
from fakes.slack.events import mention_event, next_ts
from tests.slack.conftest import CHANNEL, TEAM, USER, Harness, start_harness, wait_until

MINUTE_S = 12.0  # one Slack minute, compressed fivefold for the fake and the bot alike
NO_STREAM = "C0NOSTREAM"


@pytest.fixture
def busy(services: Services, fake_claude: FakeClaude) -> Iterator[Harness]:
    """ShopMate against a strict fake Slack whose minute is MINUTE_S long, and so is the bot's."""
    with FakeSlack(team_id=TEAM, window_s=MINUTE_S, no_stream_channels={NO_STREAM}) as slack:
        h = start_harness(services, slack, fake_claude, CallBudget(minute_s=MINUTE_S))
        yield h
        h.server.stop()


def said(h: Harness, payload: dict) -> str:
    """What Claude wrote for the turn, as stored: the text every user must see."""
    event = payload["event"]
    key = f"slack:{TEAM}:{event['channel']}:{event.get('thread_ts') or event['ts']}"
    messages = h.services.storage.conversations.history(key)
    texts = [
        block["text"]
        for message in messages
        if message["role"] == "assistant"
        for block in message["content"]
        if block.get("type") == "text"
    ]
    return "\n\n".join(texts)


def assert_whole_and_once(h: Harness, payload: dict) -> None:
    """As Slack shows it: the full text once, in order, no message still streaming, and no
    message ever showing text it later took back."""
    replies = h.replies(payload)
    expected = said(h, payload)
    assert expected, "Claude wrote something"
    shown = "".join(m.text for m in replies)
    assert shown == expected, f"{payload['event']['text']!r}: shows {shown!r}"
    for message in replies:
        assert not message.streaming, f"{message.ts} left streaming"
        states = [v.text for v in message.history]
        assert all(b.startswith(a) for a, b in itertools.pairwise(states)), states


def mentions(count: int, channels: list[str]) -> list[dict]:
    orders = ("ORD-1001", "ORD-1002", "ORD-1003")
    return [
        mention_event(
            team=TEAM,
            channel=channels[i % len(channels)],
            user=f"U{1000 + i}",
            text=f"Where is {orders[i % 3]}? (person {i})",
            ts=next_ts(),
        )
        for i in range(count)
    ]


def deliver_at_once(h: Harness, payloads: list[dict]) -> None:
    with ThreadPoolExecutor(len(payloads)) as pool:
        assert set(pool.map(h.deliver, payloads)) == {200}


def test_thirty_people_at_once_all_get_their_whole_answer_without_a_429(busy):
    payloads = mentions(30, [f"C{2000 + i}" for i in range(6)])
    deliver_at_once(busy, payloads)
    for payload in payloads:
        busy.wait_answered(payload, timeout=90)
    for payload in payloads:
        assert_whole_and_once(busy, payload)
    assert busy.slack.count_429 == 0


def test_fifteen_in_one_channel_after_a_busy_minute_all_arrive_without_a_429(busy):
    warm_up = mentions(15, [f"C{3000 + i}" for i in range(15)])
    deliver_at_once(busy, warm_up)
    for payload in warm_up:
        busy.wait_answered(payload, timeout=90)
    # The fake's buckets remember that minute; the fifteen come straight after it.
    payloads = mentions(15, [CHANNEL])
    deliver_at_once(busy, payloads)
    for payload in payloads:
        busy.wait_answered(payload, timeout=90)
    for payload in [*warm_up, *payloads]:
        assert_whole_and_once(busy, payload)
    assert busy.slack.count_429 == 0


def post_and_update_only(h: Harness) -> None:
    """Replies without native streaming, and no progress edits: the first chat.update of a
    reply is its final one."""
    h.responder.options = dataclasses.replace(
        h.responder.options, native_streaming=False, flush_interval=600.0
    )


def test_a_final_update_refused_twice_is_retried_and_delivered(busy):
    post_and_update_only(busy)
    busy.claude.pace = Pace(first_token_s=0.0, tokens_per_s=200)
    busy.claude.enqueue(reply(text="Your parcel left our warehouse this morning. " * 3))
    busy.slack.fail_next("chat.update", retry_after=1, times=2)
    mention = busy.mention("Where is my parcel?")
    busy.wait_answered(mention, timeout=30)
    updates = busy.slack.calls_to("chat.update")
    assert [c.status for c in updates] == [429, 429, 200]
    assert len(busy.replies(mention)) == 1, "delivered in the message it started in"
    assert_whole_and_once(busy, mention)


def test_a_message_that_can_no_longer_be_edited_continues_in_a_new_one(busy):
    post_and_update_only(busy)
    busy.claude.pace = Pace(first_token_s=0.0, tokens_per_s=200)
    text = "Your parcel left our warehouse this morning and arrives on Friday."
    busy.claude.enqueue(reply(text=text))
    busy.slack.fail_next("chat.update", error="cant_update_message")
    mention = busy.mention("Where is my parcel?")
    busy.wait_answered(mention, timeout=30)
    replies = busy.replies(mention)
    assert len(replies) == 2, "the rest went in a new message in the thread"
    assert replies[0].text and text.startswith(replies[0].text)
    assert_whole_and_once(busy, mention)


def test_a_failed_stop_stream_is_retried_and_nothing_is_left_streaming(busy):
    busy.slack.fail_next("chat.stopStream", error="internal_error")
    mention = busy.mention("Where is ORD-1001?")
    busy.wait_answered(mention, timeout=30)
    stops = busy.slack.calls_to("chat.stopStream")
    assert [c.ok for c in stops] == [False, True]
    assert len(busy.replies(mention)) == 1
    assert_whole_and_once(busy, mention)


def test_a_channel_without_streaming_falls_back_alone(busy):
    refused = busy.mention("Where is ORD-1001?", channel=NO_STREAM)
    busy.wait_answered(refused, timeout=30)
    assert_whole_and_once(busy, refused)
    streamed = busy.mention("Where is ORD-1002?")
    busy.wait_answered(streamed, timeout=30)
    again = busy.mention("Where is ORD-1003?", channel=NO_STREAM)
    busy.wait_answered(again, timeout=30)
    assert_whole_and_once(busy, again)

    starts = busy.slack.calls_to("chat.startStream")
    in_refusing = [c for c in starts if c.args["channel"] == NO_STREAM]
    assert [c.error for c in in_refusing] == ["method_not_supported_for_channel_type"], (
        "asked once; the channel is remembered"
    )
    assert [c.ok for c in starts if c.args["channel"] == CHANNEL] == [True], (
        "another channel still streams"
    )
    assert not busy.replies(streamed)[0].streaming


def test_a_workspace_refusal_turns_streaming_off_for_the_workspace(busy):
    busy.slack.fail_next("chat.startStream", error="not_allowed")
    first = busy.mention("Where is ORD-1001?")
    busy.wait_answered(first, timeout=30)
    second = busy.mention("Where is ORD-1002?", channel="C0OTHER")
    busy.wait_answered(second, timeout=30)
    assert len(busy.slack.calls_to("chat.startStream")) == 1
    for payload in (first, second):
        assert_whole_and_once(busy, payload)


def test_a_429_that_still_comes_holds_every_reply_for_retry_after(busy):
    """Two replies edit their messages; one edit is answered 429 with Retry-After: 2. No
    chat.update from either reply may reach Slack before those 2 s have passed."""
    busy.responder.options = dataclasses.replace(
        busy.responder.options, native_streaming=False, flush_interval=0.05
    )
    busy.claude.pace = Pace(first_token_s=0.0, tokens_per_s=25)  # answers take ~8 s
    long = "Checking the carrier's scan history for you, one depot at a time. " * 15
    busy.claude.enqueue(reply(text=long), reply(text=long))
    first = busy.mention("Tell me everything", channel="C0FIRST", user=USER)
    second = busy.mention("Tell me everything too", channel="C0SECOND", user="U0OTHER")
    slack = busy.slack

    def edited(channel: str) -> bool:
        return any(c.ok and c.args.get("channel") == channel for c in slack.calls_to("chat.update"))

    assert wait_until(lambda: edited("C0FIRST") and edited("C0SECOND"), timeout=30)
    slack.fail_next("chat.update", retry_after=2)
    busy.wait_answered(first, timeout=60)
    busy.wait_answered(second, timeout=60)

    updates = slack.calls_to("chat.update")
    refused = next(c for c in updates if c.status == 429)
    during = [c for c in updates if refused.time < c.time < refused.time + 2.0]
    assert during == [], f"{len(during)} chat.update calls went out during Retry-After"
    after = {c.args["channel"] for c in updates if c.time >= refused.time + 2.0}
    assert after == {"C0FIRST", "C0SECOND"}, "both replies went on editing afterwards"
    for payload in (first, second):
        assert_whole_and_once(busy, payload)
