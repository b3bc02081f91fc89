"""The Slack app end to end: signed events over HTTP in, what users see in Slack out."""

from __future__ import annotations

import itertools
import json
import logging
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from bot import prompts
from fakes.claude import Pace, http_error, reply, tool_call
from fakes.slack.events import mention_event, message_event, next_ts, sign
from tests.slack.conftest import CHANNEL, DM, TEAM, USER, start_harness, wait_until
from tests.slack.processes import ShopMateProcess, environment

ORDER_QUESTION = "Hi, where is my order ORD-1001?"


def test_a_mention_is_answered_in_its_thread_with_a_growing_streamed_reply(harness):
    # Claude writes at a pace, so the flushes (every 50 ms here) show the answer growing.
    harness.claude.pace = Pace(first_token_s=0.0, tokens_per_s=40)
    mention = harness.mention(ORDER_QUESTION)
    harness.wait_answered(mention)
    replies = harness.replies(mention)
    assert len(replies) == 1
    message = replies[0]
    assert message.thread_ts == mention["event"]["ts"], "reply goes in the mention's thread"
    assert "RM493827651GB" in message.text
    assert not message.streaming, "the stream was stopped"
    states = [v.text for v in message.history]
    assert len(states) >= 3, f"several visible states before the final text, got {states}"
    assert all(b.startswith(a) for a, b in itertools.pairwise(states)), "it grows"
    assert states[-1] == message.text


def test_native_streaming_names_the_recipient_and_status_shows_first(harness):
    mention = harness.mention(ORDER_QUESTION)
    harness.wait_answered(mention)
    start = harness.slack.calls_to("chat.startStream")[0]
    assert start.args["recipient_user_id"] == USER
    assert start.args["recipient_team_id"] == TEAM
    first_call = next(c for c in harness.slack.calls if c.method != "auth.test")
    assert first_call.method == "assistant.threads.setStatus", "ShopMate is working, at once"
    [message] = harness.replies(mention)
    assert [t["title"] for t in message.tasks] == [
        "ORD-1001 · shipped · Royal Mail RM493827651GB · due 2 Apr"
    ], "the tool call is visible as a step in the stream (tests/slack/test_task_steps.py)"
    assert harness.slack.current_status(CHANNEL, mention["event"]["ts"]) == ""


def test_a_mention_inside_a_thread_replies_in_that_thread(harness):
    parent = next_ts()
    mention = harness.mention("What about ORD-1002?", thread_ts=parent)
    harness.wait_answered(mention)
    assert harness.slack.messages(CHANNEL, parent)[0].thread_ts == parent


def test_a_dm_is_answered_in_the_thread_of_the_users_message(harness):
    dm = harness.dm("ORD-1003")
    harness.wait_answered(dm)
    replies = harness.replies(dm)
    assert replies and replies[0].channel == DM
    assert replies[0].thread_ts == dm["event"]["ts"]
    assert "RM381726495GB" in replies[0].text


def test_the_mention_is_stripped_before_claude_sees_the_text(harness):
    mention = harness.mention("<@UBOT> hello there")
    harness.wait_answered(mention)
    sent = json.dumps(harness.claude.requests[0].body["messages"])
    assert "<@UBOT>" not in sent and "hello there" in sent


def test_history_is_kept_per_thread_and_threads_are_isolated(harness):
    first = harness.mention("Where is ORD-1001?")
    harness.wait_answered(first)
    other = harness.mention("Where is ORD-1002?")
    harness.wait_answered(other)
    follow_up = harness.mention("And when will it arrive?", thread_ts=first["event"]["ts"])
    harness.wait_answered(follow_up)
    last_request = json.dumps(harness.claude.requests[-1].body["messages"])
    assert "ORD-1001" in last_request and "RM493827651GB" in last_request
    assert "ORD-1002" not in last_request, "another thread's conversation never leaks in"


def test_a_follow_up_without_mention_is_answered_in_a_thread_shopmate_joined(harness):
    first = harness.mention(ORDER_QUESTION)
    harness.wait_answered(first)
    follow_up = harness.say_in_thread(
        "Great, can I change the size to Large?", first["event"]["ts"]
    )
    harness.wait_answered(follow_up)
    assert prompts.ESCALATION_LINE in harness.reply_text(follow_up)


def test_channel_chatter_in_other_threads_is_ignored(harness):
    stranger = harness.say_in_thread("unrelated chat", next_ts())
    top_level = message_event(
        team=TEAM,
        channel=CHANNEL,
        channel_type="channel",
        user=USER,
        text="hello all",
        ts=next_ts(),
    )
    assert harness.deliver(top_level) == 200
    harness.settle()
    assert harness.claude.requests == []
    assert harness.replies(stranger) == [] and harness.replies(top_level) == []
    assert harness.slack.calls_to("chat.startStream") == []


def test_a_retried_delivery_is_acked_and_answered_once(harness):
    mention = mention_event(
        team=TEAM, channel=CHANNEL, user=USER, text=ORDER_QUESTION, ts=next_ts()
    )
    assert harness.deliver(mention) == 200
    harness.wait_answered(mention)
    for retry in (1, 2, 3):
        assert harness.deliver(mention, retry_num=retry, retry_reason="http_timeout") == 200
    harness.settle()
    assert len(harness.replies(mention)) == 1
    one_answer = 1  # the pasted id is looked up before Claude is asked: one model call
    assert len(harness.claude.requests) == one_answer


def test_a_mention_delivered_as_app_mention_and_message_is_answered_once(harness):
    ts = next_ts()
    as_mention = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="hi there", ts=ts)
    as_message = message_event(
        team=TEAM,
        channel=CHANNEL,
        channel_type="channel",
        user=USER,
        text=as_mention["event"]["text"],
        ts=ts,
    )
    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(harness.deliver, [as_mention, as_message]))
    assert statuses == [200, 200]
    harness.wait_answered(as_mention)
    harness.settle()
    assert len(harness.replies(as_mention)) == 1
    assert len(harness.claude.requests) == 1


def test_dedupe_survives_a_restart(harness, services, fake_slack, fake_claude, tmp_path):
    mention = harness.mention("hi there")
    harness.wait_answered(mention)
    asked = len(fake_claude.requests)
    harness.server.stop()
    services.close()
    # The restart is a new OS process on the same file: nothing in memory survives it.
    env = environment(services.settings.db_path, fake_slack.api_url, fake_claude.url)
    restarted = ShopMateProcess.serve(env, tmp_path, "restarted").ready()
    try:
        assert restarted.deliver(mention, retry_num=1, retry_reason="timeout") == 200
        key = f"slack:{TEAM}:{CHANNEL}:{mention['event']['ts']}"
        # The new process handled the re-delivery (and said why it did not answer it).
        assert restarted.wait_log(rf"Already answered or answering {key}; skipping")
        assert len(harness.replies(mention)) == 1
        assert len(fake_claude.requests) == asked
    finally:
        restarted.stop()


def test_bad_or_stale_signatures_are_refused_without_work(harness):
    payload = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="hi", ts=next_ts())
    assert harness.deliver(payload, signature="v0=" + "0" * 64) == 401
    stale = 1_000_000_000
    body = json.dumps(payload).encode()
    assert harness.deliver(payload, timestamp=stale, signature=sign("x", body, stale)) == 401
    assert harness.deliver(payload, timestamp=stale) == 401
    assert harness.pool.submitted == 0, "Bolt never dispatched them to a listener"
    harness.settle()
    assert harness.claude.requests == []
    assert harness.slack.calls_to("chat.startStream") == []


def test_own_messages_other_bots_and_edits_are_ignored(harness):
    own = message_event(
        team=TEAM, channel=DM, channel_type="im", user="UBOT", text="ORD-1001", ts=next_ts()
    )
    bot = message_event(
        team=TEAM,
        channel=DM,
        channel_type="im",
        user="U0OTHER",
        text="ORD-1001",
        ts=next_ts(),
        bot_id="B0OTHER",
        subtype="bot_message",
    )
    edit = message_event(
        team=TEAM,
        channel=DM,
        channel_type="im",
        user=USER,
        text="ORD-1001",
        ts=next_ts(),
        subtype="message_changed",
    )
    empty = message_event(
        team=TEAM, channel=DM, channel_type="im", user=USER, text="   ", ts=next_ts()
    )
    for payload in (own, bot, edit, empty):
        assert harness.deliver(payload) == 200
    harness.settle()
    assert harness.claude.requests == []
    assert [c.method for c in harness.slack.calls if c.method.startswith("chat.")] == []


def test_a_429_from_slack_is_waited_out_and_nothing_is_lost(harness):
    harness.claude.pace = Pace(first_token_s=0.0, tokens_per_s=40)  # streamed in several appends
    harness.slack.fail_next("chat.appendStream", retry_after=1)
    mention = harness.mention(ORDER_QUESTION)
    harness.wait_answered(mention)
    assert "RM493827651GB" in harness.reply_text(mention)
    assert any(c.status == 429 for c in harness.slack.calls_to("chat.appendStream"))


def test_a_long_reply_is_split_at_paragraphs_with_nothing_lost(harness):
    paragraphs = [f"Paragraph {i}: " + "organic-cotton-sustainability " * 10 for i in range(40)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 12_000
    harness.claude.enqueue(reply(text=text))
    mention = harness.mention("Tell me everything")
    harness.wait_answered(mention)
    replies = harness.replies(mention)
    assert len(replies) >= 4
    joined = "".join(m.text for m in replies)
    assert joined.split() == text.split(), "every word arrives, in order"
    for message in replies:
        assert len(message.text) <= 4_000
        assert message.text.strip().startswith("Paragraph"), "cuts fall between paragraphs"
    assert not [c for c in harness.slack.calls if c.error == "msg_too_long"]


def test_markdown_is_sent_as_markdown_never_as_mrkdwn(harness):
    mention = harness.mention(ORDER_QUESTION)
    harness.wait_answered(mention)
    for message in harness.replies(mention):
        assert message.format == "markdown"
    assert "**" in harness.reply_text(mention), "the scripted model writes Markdown bold"


def test_when_claude_is_down_the_thread_gets_a_plain_notice_and_recovers(harness, caplog):
    for _ in range(3):
        harness.claude.enqueue(http_error(529, "overloaded_error", "Overloaded"))
    mention = harness.mention(ORDER_QUESTION)
    harness.wait_answered(mention)
    text = harness.reply_text(mention)
    assert prompts.ESCALATION_LINE in text and "Traceback" not in text
    thread = mention["event"]["ts"]
    assert harness.slack.current_status(CHANNEL, thread) == "", "no status left spinning"
    assert all(not m.streaming for m in harness.replies(mention))

    follow_up = harness.mention("Can you try again? ORD-1001", thread_ts=thread)
    harness.wait_answered(follow_up)
    assert "RM493827651GB" in harness.reply_text(follow_up)


def test_slack_errors_are_logged_by_method_and_code_without_secrets(harness, caplog):
    caplog.set_level(logging.INFO)
    harness.slack.fail_next("chat.startStream", error="internal_error")
    mention = harness.mention(ORDER_QUESTION)
    harness.wait_answered(mention)
    assert "RM493827651GB" in harness.reply_text(mention), "it fell back and kept serving"
    logged = caplog.text
    assert "method=chat.startStream error=internal_error" in logged
    assert "xoxb-" not in logged and "test-key" not in logged and "signing-secret" not in logged


def test_without_native_streaming_it_posts_and_updates(services, fake_claude):
    from fakes.slack import FakeSlack

    with FakeSlack(team_id=TEAM, streaming_supported=False) as slack:
        h = start_harness(services, slack, fake_claude)
        fake_claude.pace = Pace(first_token_s=0.0, tokens_per_s=40)  # several updates
        try:
            mention = h.mention(ORDER_QUESTION)
            h.wait_answered(mention)
            message = h.replies(mention)[0]
            assert "RM493827651GB" in message.text
            assert len(message.history) >= 3, "updates show the text growing"
            assert slack.calls_to("chat.update")
        finally:
            h.server.stop()


def test_an_expired_stream_continues_in_a_new_message(services, fake_claude):
    from fakes.claude import Pace
    from fakes.slack import FakeSlack

    fake_claude.pace = Pace(first_token_s=0.0, tokens_per_s=60)
    text = "One two three four five six seven eight nine ten. " * 6
    fake_claude.enqueue(reply(text=text))
    with FakeSlack(team_id=TEAM, stream_ttl_s=0.5) as slack:
        h = start_harness(services, slack, fake_claude)
        try:
            mention = h.mention("Count for me")
            h.wait_answered(mention)
            replies = h.replies(mention)
            assert len(replies) == 2, "the expired stream keeps its text; the rest follows"
            assert "".join(m.text for m in replies).split() == text.split()
            assert any(c.error == "message_not_in_streaming_state" for c in slack.calls)
        finally:
            h.server.stop()


def test_twenty_threads_at_once_each_get_only_their_own_answer(harness, services):
    orders = [
        {
            "order_id": f"ORD-{2000 + i}",
            "status": "shipped",
            "item": f"Test Tee number {i}",
            "eta": "5 May",
            "tracking": f"RM{100000000 + i}GB",
        }
        for i in range(20)
    ]
    services.storage.orders.upsert_many(orders)
    payloads = [
        mention_event(
            team=TEAM,
            channel=f"C{1000 + i}",
            user=USER,
            text=f"Where is ORD-{2000 + i}?",
            ts=next_ts(),
        )
        for i in range(20)
    ]
    with ThreadPoolExecutor(20) as pool:
        assert set(pool.map(harness.deliver, payloads)) == {200}
    for payload in payloads:
        harness.wait_answered(payload, timeout=60)
    for i, payload in enumerate(payloads):
        text = harness.reply_text(payload)
        assert f"RM{100000000 + i}GB" in text
        others = [f"RM{100000000 + j}GB" for j in range(20) if j != i]
        assert not any(o in text for o in others)
    assert harness.slack.count_429 == 0


def test_messages_in_one_thread_are_answered_in_order(harness):
    first = harness.mention(ORDER_QUESTION)
    thread = first["event"]["ts"]
    # Slack gives no order guarantee between deliveries; once the app has accepted the first
    # message (and so joined its thread: a follow-up needs no mention), a second one written
    # while it is still answering must wait its turn. Waiting for the claim alone raced the
    # join and lost the un-mentioned follow-up on a loaded machine.
    thread_key = f"slack:{TEAM}:{CHANNEL}:{thread}"
    assert wait_until(lambda: harness.services.storage.conversations.exists(thread_key))
    second = harness.say_in_thread("And ORD-1002?", thread)
    harness.wait_answered(first)
    harness.wait_answered(second)
    asked = [json.dumps(r.body["messages"]) for r in harness.claude.requests]
    second_asked = next(i for i, a in enumerate(asked) if "And ORD-1002?" in a)
    # Each id is looked up before Claude is asked, so each turn is one call.
    assert second_asked == 1, "the second turn started only after the first ended"
    assert "RM493827651GB](" in asked[1], "and it was sent the first turn's finished answer"
    user_turns = [
        m
        for m in harness.services.storage.conversations.history(thread_key)
        if m["role"] == "user" and m["content"][0]["type"] == "text"
    ]
    assert [m["content"][0]["text"] for m in user_turns] == [ORDER_QUESTION, "And ORD-1002?"]


def test_healthz_answers_when_ready(harness):
    with urllib.request.urlopen(f"{harness.server.url}/healthz", timeout=5) as response:
        assert response.status == 200


def test_a_tool_call_shows_in_the_reply_before_the_answer(harness):
    harness.claude.enqueue(
        reply(
            text="Let me look that up.",
            tool_calls=[tool_call("get_order", {"order_id": "ORD-1001"})],
        )
    )
    harness.claude.enqueue(reply(text="It shipped."))
    mention = harness.mention(ORDER_QUESTION)
    harness.wait_answered(mention)
    assert harness.reply_text(mention) == "Let me look that up.\n\nIt shipped."


def test_an_event_type_without_a_listener_is_acknowledged_quietly(harness):
    payload = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="hi", ts=next_ts())
    payload["event"]["type"] = "reaction_added"
    assert harness.deliver(payload) == 200, "a 404 would make Slack re-send it"
    harness.settle()
    assert harness.claude.requests == []
