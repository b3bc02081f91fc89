"""The fake Slack Web API and the Events API helpers, driven by the real slack_sdk and Bolt."""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from fakes.slack import SLACK_BURSTS, SLACK_LIMITS, FakeSlack
from fakes.slack.events import (
    EventSender,
    block_actions_payload,
    mention_event,
    message_changed_event,
    message_event,
    next_ts,
    sign,
    url_verification,
)

TOKEN = "xoxb-test"
SECRET = "shh-signing-secret"
THREAD = "1700000000.000001"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback must never go through a proxy, whatever the environment says."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def client_for(slack: FakeSlack, token: str | None = TOKEN, **kwargs: Any) -> WebClient:
    return WebClient(token=token, base_url=slack.api_url, timeout=10, **kwargs)


def error_of(exc: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(exc.value.response["error"])


# ----------------------------------------------------------------------------- auth and plumbing


def test_auth_test_is_form_encoded_and_answers_like_slack(slack: FakeSlack) -> None:
    resp = client_for(slack).auth_test()
    assert resp["ok"] is True
    assert (resp["team_id"], resp["user_id"], resp["bot_id"]) == ("T0001", "UBOT", "BBOT")
    assert resp["url"].startswith("https://") and resp["team"] and resp["user"]
    (call,) = slack.calls_to("auth.test")
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.token_present and "token" not in call.args
    assert call.ok and call.status == 200


def test_form_arguments_are_parsed(slack: FakeSlack) -> None:
    client = client_for(slack)
    ts = slack.add_user_message("C1", "where is my order?", user="U1", ts=THREAD)
    client.chat_postMessage(channel="C1", thread_ts=ts, text="Looking it up")
    resp = client.conversations_replies(channel="C1", ts=ts)
    (call,) = slack.calls_to("conversations.replies")
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.args == {"channel": "C1", "ts": ts}
    assert [m["text"] for m in resp["messages"]] == ["where is my order?", "Looking it up"]
    assert resp["messages"][1]["bot_id"] == "BBOT"
    assert resp["has_more"] is False


def test_json_calls_are_recorded_with_args(slack: FakeSlack) -> None:
    client_for(slack).chat_postMessage(channel="C1", text="hi")
    (call,) = slack.calls
    assert call.method == "chat.postMessage"
    assert call.content_type == "application/json"
    assert call.args == {"channel": "C1", "text": "hi"}
    assert call.time <= time.monotonic()


@pytest.mark.parametrize(("token", "error"), [(None, "not_authed"), ("xoxp-user", "invalid_auth")])
def test_missing_or_invalid_token_is_refused_on_every_method(
    slack: FakeSlack, token: str | None, error: str
) -> None:
    client = client_for(slack, token=token)
    for call in (
        client.auth_test,
        lambda: client.chat_postMessage(channel="C1", text="x"),
        lambda: client.conversations_replies(channel="C1", ts=THREAD),
    ):
        with pytest.raises(SlackApiError) as exc:
            call()
        assert error_of(exc) == error
    assert slack.messages("C1") == []
    assert all(not c.token_present for c in slack.calls) == (token is None)


def test_token_map_assigns_workspaces(slack: FakeSlack) -> None:
    with FakeSlack(tokens={"xoxb-a": "TA", "xoxb-b": "TB"}) as multi:
        assert client_for(multi, "xoxb-b").auth_test()["team_id"] == "TB"
        with pytest.raises(SlackApiError) as exc:
            client_for(multi, "xoxb-c").auth_test()
        assert error_of(exc) == "invalid_auth"


def test_unknown_method(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as exc:
        client_for(slack).api_call("chat.doesNotExist", json={"channel": "C1"})
    assert error_of(exc) == "unknown_method"


def test_users_and_team_info(slack: FakeSlack) -> None:
    client = client_for(slack)
    user = client.users_info(user="U123")["user"]
    assert user["id"] == "U123" and user["is_bot"] is False and user["tz"]
    assert client.users_info(user="UBOT")["user"]["is_bot"] is True
    assert client.team_info()["team"]["id"] == "T0001"


# ----------------------------------------------------------------------------- posting


def test_post_and_update_track_visible_text_and_format(slack: FakeSlack) -> None:
    client = client_for(slack)
    resp = client.chat_postMessage(channel="C1", thread_ts=THREAD, text="Checking *now*…")
    ts = resp["ts"]
    assert resp["channel"] == "C1" and resp["message"]["text"] == "Checking *now*…"
    msg = slack.message("C1", ts)
    assert (msg.text, msg.format, msg.thread_ts, msg.streaming) == (
        "Checking *now*…",
        "mrkdwn",
        THREAD,
        False,
    )

    client.chat_update(channel="C1", ts=ts, markdown_text="Your order **shipped**.")
    msg = slack.message("C1", ts)
    assert (msg.text, msg.format) == ("Your order **shipped**.", "markdown")

    # `text` alone keeps the existing blocks on screen, as Slack documents for chat.update.
    client.chat_update(channel="C1", ts=ts, text="fallback only")
    assert slack.message("C1", ts).text == "Your order **shipped**."
    client.chat_update(channel="C1", ts=ts, text="plain now", blocks=[])
    msg = slack.message("C1", ts)
    assert (msg.text, msg.format) == ("plain now", "mrkdwn")
    assert [v.text for v in msg.history] == [
        "Checking *now*…",
        "Your order **shipped**.",
        "plain now",
    ]
    assert msg.history == sorted(msg.history, key=lambda v: v.time)
    assert [m.ts for m in slack.messages("C1", THREAD)] == [ts]


def test_blocks_decide_visible_text(slack: FakeSlack) -> None:
    client = client_for(slack)
    md = client.chat_postMessage(
        channel="C1", text="fallback", blocks=[{"type": "markdown", "text": "**hi**"}]
    )
    sec = client.chat_postMessage(
        channel="C2",
        text="fallback",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}],
    )
    assert (slack.message("C1", md["ts"]).text, slack.message("C1", md["ts"]).format) == (
        "**hi**",
        "markdown",
    )
    assert slack.message("C2", sec["ts"]).format == "mrkdwn"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_post_validation_errors(slack: FakeSlack) -> None:
    client = client_for(slack)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channel": "C1", "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": "C1", "markdown_text": "x" * 12_001}, "msg_too_long"),
        ({"channel": "C1", "markdown_text": "**a**", "text": "a"}, "markdown_text_conflict"),
        ({"channel": "C1"}, "no_text"),
        ({"channel": "", "text": "x"}, "channel_not_found"),
        (
            {
                "channel": "C1",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            },
            "invalid_blocks",
        ),
        (
            {
                "channel": "C1",
                "blocks": [{"type": "markdown", "text": "x" * 6001}] * 2,
            },
            "invalid_blocks",
        ),
    ]
    for i, (args, error) in enumerate(cases):
        if args.get("channel"):
            args["channel"] = f"CV{i}"  # failed posts count against the per-channel limit too
        with pytest.raises(SlackApiError) as exc:
            client.api_call("chat.postMessage", json=args)
        assert error_of(exc) == error, args
    # At the limits everything is accepted.
    client.chat_postMessage(channel="C2", text="x" * 40_000)
    client.chat_postMessage(channel="C3", blocks=[{"type": "markdown", "text": "x" * 6000}] * 2)
    ts = client.chat_postMessage(channel="C4", text="short")["ts"]
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C4", ts=ts, text="x" * 4001)
    assert error_of(exc) == "msg_too_long"
    client.chat_update(channel="C4", ts=ts, text="x" * 4000)
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C4", ts=ts, markdown_text="x" * 4001)
    assert error_of(exc) == "msg_too_long", "markdown_text is no way around the update limit"
    client.chat_update(channel="C4", ts=ts, markdown_text="x" * 4000)
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C4", ts="1.000001", text="x")
    assert error_of(exc) == "message_not_found"


def test_delete_hides_message(slack: FakeSlack) -> None:
    client = client_for(slack)
    ts = client.chat_postMessage(channel="C1", text="placeholder")["ts"]
    client.chat_delete(channel="C1", ts=ts)
    assert slack.messages("C1") == []
    msg = slack.message("C1", ts)
    assert msg.deleted and msg.history[-1].text == ""
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C1", ts=ts, text="again")
    assert error_of(exc) == "message_not_found"


def test_timestamps_are_unique_and_increasing(slack: FakeSlack) -> None:
    client = client_for(slack)
    stamps = [client.chat_postMessage(channel=f"C{i}", text="x")["ts"] for i in range(10)]
    assert len(set(stamps)) == 10
    assert stamps == sorted(stamps, key=lambda s: tuple(int(p) for p in s.split(".")))
    assert all(len(s.split(".")[1]) == 6 for s in stamps)


# ----------------------------------------------------------------------------- streaming


def test_stream_start_append_stop(slack: FakeSlack) -> None:
    client = client_for(slack)
    resp = client.chat_startStream(
        channel="C1",
        thread_ts=THREAD,
        recipient_team_id="T0001",
        recipient_user_id="U1",
        markdown_text="Your ",
    )
    ts = resp["ts"]
    assert resp["channel"] == "C1"
    assert slack.message("C1", ts).streaming
    client.chat_appendStream(channel="C1", ts=ts, markdown_text="order ")
    client.chat_appendStream(channel="C1", ts=ts, markdown_text="**shipped**")
    stop = client.chat_stopStream(channel="C1", ts=ts, markdown_text=" today.")
    assert stop["ts"] == ts
    msg = slack.message("C1", ts)
    assert msg.text == "Your order **shipped** today."
    assert msg.format == "markdown" and not msg.streaming and msg.thread_ts == THREAD
    assert [v.text for v in msg.history] == [
        "Your ",
        "Your order ",
        "Your order **shipped**",
        "Your order **shipped** today.",
    ]
    for call in (
        lambda: client.chat_appendStream(channel="C1", ts=ts, markdown_text="more"),
        lambda: client.chat_stopStream(channel="C1", ts=ts),
    ):
        with pytest.raises(SlackApiError) as exc:
            call()
        assert error_of(exc) == "message_not_in_streaming_state"
    with pytest.raises(SlackApiError) as exc:
        client.chat_appendStream(channel="C1", ts="1700000000.999999", markdown_text="x")
    assert error_of(exc) == "message_not_found"
    posted = client.chat_postMessage(channel="C1", thread_ts=THREAD, text="done")["ts"]
    with pytest.raises(SlackApiError) as exc:
        client.chat_appendStream(channel="C1", ts=posted, markdown_text="x")
    assert error_of(exc) == "message_not_in_streaming_state"


def test_sdk_chat_stream_helper(slack: FakeSlack) -> None:
    client = client_for(slack)
    stream = client.chat_stream(
        channel="C1",
        thread_ts=THREAD,
        recipient_team_id="T0001",
        recipient_user_id="U1",
        buffer_size=8,
    )
    for word in ["Hello ", "there, ", "your ", "refund ", "is ", "on ", "its ", "way."]:
        stream.append(markdown_text=word)
    stream.stop()
    msg = slack.message("C1", stream.ts)
    assert msg.text == "Hello there, your refund is on its way."
    assert len(msg.history) >= 3 and not msg.streaming
    assert slack.calls[0].method == "chat.startStream"
    assert slack.calls[-1].method == "chat.stopStream"


def test_stream_expires_after_ttl_and_update_fallback_works() -> None:
    with FakeSlack(stream_ttl_s=0.2) as slack:
        client = client_for(slack)
        ts = client.chat_startStream(channel="D1", thread_ts=THREAD, markdown_text="Hel")["ts"]
        with pytest.raises(SlackApiError) as exc:
            client.chat_update(channel="D1", ts=ts, markdown_text="edit while live")
        assert error_of(exc) == "streaming_state_conflict"
        time.sleep(0.3)
        assert not slack.message("D1", ts).streaming
        with pytest.raises(SlackApiError) as exc:
            client.chat_appendStream(channel="D1", ts=ts, markdown_text="lo")
        assert error_of(exc) == "message_not_in_streaming_state"
        client.chat_update(channel="D1", ts=ts, markdown_text="Hello, full answer.")
        msg = slack.message("D1", ts)
        assert (msg.text, msg.format) == ("Hello, full answer.", "markdown")


def test_expire_and_user_stop_controls(slack: FakeSlack) -> None:
    client = client_for(slack)
    a = client.chat_startStream(channel="D1", thread_ts=THREAD, markdown_text="a")["ts"]
    b = client.chat_startStream(channel="D1", thread_ts=THREAD, markdown_text="b")["ts"]
    slack.expire_stream("D1", a)
    slack.stop_stream_by_user("D1", b)
    with pytest.raises(SlackApiError) as exc:
        client.chat_appendStream(channel="D1", ts=a, markdown_text="x")
    assert error_of(exc) == "message_not_in_streaming_state"
    with pytest.raises(SlackApiError) as exc:
        client.chat_appendStream(channel="D1", ts=b, markdown_text="x")
    assert error_of(exc) == "stopped_by_user"


def test_stream_recipient_ids_required_outside_dms(slack: FakeSlack) -> None:
    client = client_for(slack)
    with pytest.raises(SlackApiError) as exc:
        client.chat_startStream(channel="C1", thread_ts=THREAD, recipient_user_id="U1")
    assert error_of(exc) == "missing_recipient_team_id"
    with pytest.raises(SlackApiError) as exc:
        client.chat_startStream(channel="C1", thread_ts=THREAD, recipient_team_id="T0001")
    assert error_of(exc) == "missing_recipient_user_id"
    assert slack.messages("C1") == []
    client.chat_startStream(channel="D1", thread_ts=THREAD)  # a DM needs neither


def test_stream_chunks_and_limits(slack: FakeSlack) -> None:
    client = client_for(slack)
    ts = client.chat_startStream(
        channel="D1", thread_ts=THREAD, chunks=[{"type": "markdown_text", "text": "A"}]
    )["ts"]
    client.chat_appendStream(channel="D1", ts=ts, chunks=[{"type": "markdown_text", "text": "B"}])
    with pytest.raises(SlackApiError) as exc:
        client.chat_appendStream(channel="D1", ts=ts, markdown_text="x" * 12_001)
    assert error_of(exc) == "msg_too_long"
    client.chat_appendStream(channel="D1", ts=ts, markdown_text="C" * 12_000)
    assert slack.message("D1", ts).text == "AB" + "C" * 12_000

    text_mode = client.chat_startStream(channel="D1", thread_ts=THREAD, markdown_text="t")["ts"]
    with pytest.raises(SlackApiError) as exc:
        client.chat_appendStream(
            channel="D1", ts=text_mode, chunks=[{"type": "markdown_text", "text": "x"}]
        )
    assert error_of(exc) == "streaming_mode_mismatch"


def test_streaming_unsupported_and_injected_fallback() -> None:
    with FakeSlack(streaming_supported=False) as slack:
        client = client_for(slack)
        with pytest.raises(SlackApiError) as exc:
            client.chat_startStream(channel="D1", thread_ts=THREAD)
        assert error_of(exc) == "unknown_method"
        client.chat_postMessage(channel="D1", thread_ts=THREAD, text="fallback")
    with FakeSlack() as slack:
        client = client_for(slack)
        slack.fail_next("chat.startStream", error="method_not_supported")
        with pytest.raises(SlackApiError) as exc:
            client.chat_startStream(channel="D1", thread_ts=THREAD)
        assert error_of(exc) == "method_not_supported"
        assert client.chat_startStream(channel="D1", thread_ts=THREAD)["ok"]


# ----------------------------------------------------------------------------- status


def test_status_first_visible_and_cleared_by_reply(slack: FakeSlack) -> None:
    client = client_for(slack)
    assert slack.first_visible_time("C1", THREAD) is None
    before = time.monotonic()
    client.assistant_threads_setStatus(channel_id="C1", thread_ts=THREAD, status="is typing…")
    assert slack.current_status("C1", THREAD) == "is typing…"
    (status,) = slack.statuses
    t, channel, thread_ts, text = status
    assert (channel, thread_ts, text) == ("C1", THREAD, "is typing…")
    first = slack.first_visible_time("C1", THREAD)
    assert first is not None and before <= first == t
    client.chat_postMessage(channel="C1", thread_ts=THREAD, text="answer")
    assert slack.current_status("C1", THREAD) == ""
    assert slack.first_visible_time("C1", THREAD) == first
    client.assistant_threads_setStatus(channel_id="C1", thread_ts=THREAD, status="thinking")
    client.assistant_threads_setStatus(channel_id="C1", thread_ts=THREAD, status="")
    assert slack.current_status("C1", THREAD) == ""
    assert slack.first_visible_time("C2", THREAD) is None


def test_first_visible_counts_a_started_stream(slack: FakeSlack) -> None:
    client = client_for(slack)
    ts = client.chat_startStream(channel="D1", thread_ts=THREAD)["ts"]
    assert slack.first_visible_time("D1", THREAD) == slack.message("D1", ts).created


# ----------------------------------------------------------------------------- limits


class HandClock:
    """A clock the test moves by hand, so a bucket's refill is checked without waiting."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_lets_a_burst_through_then_429s_with_retry_after() -> None:
    clock = HandClock()
    with FakeSlack(clock=clock) as slack:
        client = client_for(slack)
        ts = client.chat_postMessage(channel="C1", text="0")["ts"]
        for i in range(SLACK_BURSTS["chat.update"]):
            client.chat_update(channel="C1", ts=ts, text=str(i))
        with pytest.raises(SlackApiError) as exc:
            client.chat_update(channel="C1", ts=ts, text="too fast")
        assert exc.value.response.status_code == 429
        assert error_of(exc) == "ratelimited"
        # Tier 3 refills 50 a minute: the next token is 1.2 s away, said in whole seconds.
        assert exc.value.response.headers["Retry-After"] == "2"
        assert slack.count_429 == 1
        assert slack.message("C1", ts).text == "9"
        last = slack.calls[-1]
        assert (last.status, last.ok, last.error) == (429, False, "ratelimited")
        clock.now += 1.1
        with pytest.raises(SlackApiError):
            client.chat_update(channel="C1", ts=ts, text="not yet")
        clock.now += 0.2
        client.chat_update(channel="C1", ts=ts, text="one token back")
        assert slack.count_429 == 2


def test_calls_at_the_tier_rate_pass_and_a_little_faster_are_caught() -> None:
    clock = HandClock()
    with FakeSlack(clock=clock) as slack:
        client = client_for(slack)
        ts = client.chat_postMessage(channel="C1", text="0")["ts"]
        for i in range(120):  # two minutes at exactly 50 a minute
            clock.now += 60 / 50
            client.chat_update(channel="C1", ts=ts, text=f"paced {i}")
        assert slack.count_429 == 0
        # 20% too fast: the burst absorbs it for a while, not for a minute.
        refused = 0
        for i in range(60):
            clock.now += 60 / 60
            try:
                client.chat_update(channel="C1", ts=ts, text=f"fast {i}")
            except SlackApiError:
                refused += 1
        assert refused > 0 and slack.count_429 == refused


def test_stream_methods_are_tier_2_with_a_small_burst() -> None:
    clock = HandClock()
    with FakeSlack(clock=clock) as slack:
        client = client_for(slack)
        for _ in range(SLACK_BURSTS["chat.startStream"]):
            client.chat_startStream(channel="D1", thread_ts=THREAD)
        with pytest.raises(SlackApiError) as exc:
            client.chat_startStream(channel="D1", thread_ts=THREAD)
        assert exc.value.response.status_code == 429
        clock.now += 60 / 20  # one Tier 2 token a minute / 20
        client.chat_startStream(channel="D1", thread_ts=THREAD)


def test_post_message_per_channel_burst_then_one_a_second() -> None:
    clock = HandClock()
    with FakeSlack(clock=clock) as slack:
        client = client_for(slack)
        for i in range(2):
            client.chat_postMessage(channel="C1", text=str(i))
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(channel="C1", text="burst")
        assert exc.value.response.status_code == 429
        client.chat_postMessage(channel="C2", text="other channel is fine")
        assert slack.count_429 == 1
        assert len(slack.messages("C1")) == 2
        clock.now += 1.0
        client.chat_postMessage(channel="C1", text="a second later")


def test_a_shorter_minute_scales_every_limit_alike() -> None:
    clock = HandClock()
    with FakeSlack(clock=clock, window_s=6.0) as slack:
        client = client_for(slack)
        for i in range(2):
            client.chat_postMessage(channel="C1", text=str(i))
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel="C1", text="burst")
        clock.now += 0.1  # a tenth of the minute: a tenth of the channel's second
        client.chat_postMessage(channel="C1", text="refilled")
        ts = slack.messages("C1")[0].ts
        for i in range(SLACK_BURSTS["chat.update"]):
            client.chat_update(channel="C1", ts=ts, text=str(i))
        with pytest.raises(SlackApiError):
            client.chat_update(channel="C1", ts=ts, text="too fast")
        clock.now += 6.0 / 50 + 0.001
        client.chat_update(channel="C1", ts=ts, text="refilled")


def test_reset_keeps_what_the_buckets_remember() -> None:
    clock = HandClock()
    with FakeSlack(clock=clock) as slack:
        client = client_for(slack)
        for _ in range(SLACK_BURSTS["chat.startStream"]):
            client.chat_startStream(channel="D1", thread_ts=THREAD)
        slack.reset()
        with pytest.raises(SlackApiError) as exc:
            client.chat_startStream(channel="D1", thread_ts=THREAD)
        assert exc.value.response.status_code == 429
        assert slack.count_429 == 1


def test_the_sdk_retry_handler_waits_out_retry_after() -> None:
    limits = {**SLACK_LIMITS, "chat.update": 3}
    with FakeSlack(limits=limits, bursts={"chat.update": 3}, window_s=1.0) as slack:
        client = client_for(slack)
        ts = client.chat_postMessage(channel="C1", text="0")["ts"]
        retrying = client_for(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
        for i in range(4):
            retrying.chat_update(channel="C1", ts=ts, text=f"r{i}")
        assert slack.message("C1", ts).text == "r3"
        assert slack.count_429 >= 1


def test_a_channel_without_streaming_refuses_stream_methods() -> None:
    with FakeSlack(no_stream_channels={"C9"}) as slack:
        client = client_for(slack)
        with pytest.raises(SlackApiError) as exc:
            client.chat_startStream(
                channel="C9", thread_ts=THREAD, recipient_team_id="T1", recipient_user_id="U1"
            )
        assert error_of(exc) == "method_not_supported_for_channel_type"
        client.chat_startStream(
            channel="C1", thread_ts=THREAD, recipient_team_id="T1", recipient_user_id="U1"
        )


def test_limits_can_be_switched_off() -> None:
    with FakeSlack(limits={"chat.update": 1}, window_s=60, enforce_limits=False) as slack:
        client = client_for(slack)
        ts = client.chat_postMessage(channel="C1", text="x")["ts"]
        for i in range(5):
            client.chat_update(channel="C1", ts=ts, text=str(i))
        assert slack.count_429 == 0


# ----------------------------------------------------------------------------- injection


def test_fail_next_injects_errors(slack: FakeSlack) -> None:
    client = client_for(slack)
    slack.fail_next("chat.postMessage", error="internal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(channel="C1", text="x")
        assert error_of(exc) == "internal_error"
        assert exc.value.response.status_code == 200
    client.chat_postMessage(channel="C1", text="third time lucky")

    slack.fail_next("chat.update", retry_after=1)
    ts = slack.messages("C1")[0].ts
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C1", ts=ts, text="y")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] == "1"
    assert slack.count_429 == 0  # injected, not provoked

    slack.fail_next("auth.test", error="service_unavailable", status=503)
    with pytest.raises(SlackApiError) as exc:
        client.auth_test()
    assert exc.value.response.status_code == 503
    assert [c.ok for c in slack.calls_to("chat.postMessage")] == [False, False, True]


# ----------------------------------------------------------------------------- concurrency, reset


def test_many_concurrent_clients() -> None:
    slack = FakeSlack(enforce_limits=False).start()  # 40 updates at once: this is about threads

    def work(i: int) -> str:
        client = client_for(slack)
        ts = client.chat_postMessage(channel=f"C{i}", text=f"m{i}")["ts"]
        client.chat_update(channel=f"C{i}", ts=ts, text=f"u{i}")
        return str(ts)

    with ThreadPoolExecutor(max_workers=16) as pool:
        stamps = list(pool.map(work, range(40)))
    assert len(set(stamps)) == 40
    assert len(slack.calls) == 80 and all(c.ok for c in slack.calls)
    assert all(slack.messages(f"C{i}")[0].text == f"u{i}" for i in range(40))
    slack.stop()


def test_wait_for_is_bounded(slack: FakeSlack) -> None:
    started = time.monotonic()
    assert slack.wait_for(lambda: bool(slack.calls), timeout=0.2) is False
    assert time.monotonic() - started < 1.0
    threading.Timer(0.1, lambda: client_for(slack).auth_test()).start()
    assert slack.wait_for(lambda: bool(slack.calls_to("auth.test")), timeout=5.0)


def test_reset_and_stop(slack: FakeSlack) -> None:
    client = client_for(slack)
    client.chat_postMessage(channel="C1", text="x")
    slack.fail_next("auth.test")
    slack.reset()
    assert slack.calls == [] and slack.messages("C1") == [] and slack.count_429 == 0
    assert client.auth_test()["ok"]
    port = slack.port
    slack.stop()
    slack.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


# ----------------------------------------------------------------------------- events API


def test_sign_matches_slack_sdk_verifier() -> None:
    body = json.dumps(mention_event(team="T0001", channel="C1", user="U1", text="hi")).encode()
    now = int(time.time())
    verifier = SignatureVerifier(SECRET)
    assert sign(SECRET, body, now) == verifier.generate_signature(timestamp=str(now), body=body)
    headers = {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": sign(SECRET, body, now)}
    assert verifier.is_valid_request(body, headers)
    stale = now - 6 * 60
    assert not verifier.is_valid(body, str(stale), sign(SECRET, body, stale))
    assert not verifier.is_valid(body, str(now), sign("other-secret", body, now))
    assert not verifier.is_valid(body + b" ", str(now), sign(SECRET, body, now))


def test_event_shapes() -> None:
    m = mention_event(team="T1", channel="C1", user="U1", text="where is order 42?", ts="1.000001")
    assert m["type"] == "event_callback" and m["team_id"] == "T1" and m["api_app_id"]
    assert m["event_id"].startswith("Ev") and isinstance(m["event_time"], int)
    assert m["authorizations"][0] == {
        "enterprise_id": None,
        "team_id": "T1",
        "user_id": "UBOT",
        "is_bot": True,
        "is_enterprise_install": False,
    }
    event = m["event"]
    assert event["type"] == "app_mention" and event["text"] == "<@UBOT> where is order 42?"
    assert (event["ts"], event["event_ts"], event["channel"], event["team"]) == (
        "1.000001",
        "1.000001",
        "C1",
        "T1",
    )
    assert "thread_ts" not in event and event["client_msg_id"]
    assert event["blocks"][0]["elements"][0]["elements"][0] == {"type": "user", "user_id": "UBOT"}
    threaded = mention_event(
        team="T1", channel="C1", user="U1", text="x", thread_ts="1.0", user_team="T2"
    )
    assert threaded["event"]["thread_ts"] == "1.0" and threaded["event"]["user_team"] == "T2"
    assert threaded["event_id"] != m["event_id"]

    dm = message_event(team="T1", channel="D1", user="U1", text="hello")["event"]
    assert (dm["type"], dm["channel_type"], dm["event_ts"]) == ("message", "im", dm["ts"])
    assert "subtype" not in dm and dm["client_msg_id"]
    bot = message_event(
        team="T1", channel="C1", channel_type="channel", user=None, text="beep",
        subtype="bot_message", bot_id="B9", thread_ts="1.0",
    )["event"]  # fmt: skip
    assert bot["subtype"] == "bot_message" and bot["bot_id"] == "B9" and "user" not in bot
    changed = message_changed_event(
        team="T1", channel="C1", ts="1.000002", text="new", previous_text="old"
    )["event"]
    assert changed["subtype"] == "message_changed" and changed["message"]["text"] == "new"
    assert url_verification("abc") == {
        "token": url_verification("abc")["token"],
        "challenge": "abc",
        "type": "url_verification",
    }
    a, b = next_ts(), next_ts()
    assert tuple(map(int, a.split("."))) < tuple(map(int, b.split(".")))


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logging.getLogger(__name__).debug(format, *args)


@pytest.fixture
def bolt_url(slack: FakeSlack) -> Iterator[str]:
    """A real Bolt App on a real WSGI server whose Web API calls go to the fake."""
    app = App(signing_secret=SECRET, client=client_for(slack))

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Any) -> None:
        say(text=f"On it: {event['text']}", thread_ts=event.get("thread_ts") or event["ts"])

    @app.action("fake_click")
    def on_click(ack: Any, body: dict[str, Any], client: Any) -> None:
        ack()
        client.chat_postEphemeral(
            channel=body["channel"]["id"],
            user=body["user"]["id"],
            text=f"clicked {body['actions'][0]['value']} on {body['container']['message_ts']}",
        )

    server = make_server(
        "127.0.0.1",
        0,
        SlackRequestHandler(app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_bolt_end_to_end(slack: FakeSlack, bolt_url: str) -> None:
    sender = EventSender(bolt_url, SECRET)
    status, body, _ = sender.post(url_verification("chal-123"))
    assert status == 200 and b"chal-123" in body

    payload = mention_event(team="T0001", channel="C1", user="U1", text="where is order 42?")
    status, _, seconds = sender.post(payload)
    assert status == 200 and seconds < 3.0
    assert slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) == 1, timeout=10)
    (msg,) = slack.messages("C1")
    assert msg.text == "On it: <@UBOT> where is order 42?"
    assert msg.thread_ts == payload["event"]["ts"]

    status, _, _ = sender.post(payload, timestamp=int(time.time()) - 600)
    assert status == 401
    status, _, _ = sender.post(payload, signature="v0=" + "0" * 64)
    assert status == 401
    status, _, _ = sender.post(payload, retry_num=1, retry_reason="http_timeout")
    assert status == 200  # Bolt does not dedupe: the re-delivery is answered again
    assert slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) == 2, timeout=10)


def test_bolt_many_events_at_once(slack: FakeSlack, bolt_url: str) -> None:
    sender = EventSender(bolt_url, SECRET)
    payloads = [
        mention_event(team="T0001", channel=f"C{i}", user="U1", text=f"q{i}") for i in range(12)
    ]
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = [r[0] for r in pool.map(sender.post, payloads)]
    assert statuses == [200] * 12
    assert slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) == 12, timeout=15)
    assert all(c.ok for c in slack.calls)
    assert {m.text for i in range(12) for m in slack.messages(f"C{i}")} == {
        f"On it: <@UBOT> q{i}" for i in range(12)
    }


def test_ephemeral_messages_reach_only_their_person_and_never_the_thread() -> None:
    with FakeSlack() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        client.chat_postEphemeral(channel="C1", user="U1", text="Only you can see this")
        assert [e.text for e in slack.ephemerals("U1")] == ["Only you can see this"]
        assert slack.ephemerals("U2") == []
        assert slack.messages("C1") == []


def test_permalinks_have_slacks_shape_and_name_the_thread_of_a_reply() -> None:
    with FakeSlack(team_domain="threadco") as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        top = client.chat_postMessage(channel="C1", text="top")["ts"]
        reply_ts = client.chat_postMessage(channel="C1", text="reply", thread_ts=top)["ts"]
        link = client.chat_getPermalink(channel="C1", message_ts=reply_ts)["permalink"]
        assert link == (
            f"https://threadco.slack.com/archives/C1/p{reply_ts.replace('.', '')}"
            f"?thread_ts={top}&cid=C1"
        )
        with pytest.raises(SlackApiError) as refused:
            client.chat_getPermalink(channel="C1", message_ts="not-a-ts")
        assert refused.value.response["error"] == "message_not_found"


def test_a_click_arrives_signed_and_form_encoded_as_bolt_expects(
    slack: FakeSlack, bolt_url: str
) -> None:
    sender = EventSender(bolt_url, SECRET)
    message = {"ts": "1700000000.000100", "thread_ts": THREAD, "text": "an answer", "blocks": []}
    click = block_actions_payload(
        team="T0001",
        channel="C1",
        user="U7",
        message=message,
        action={"type": "button", "action_id": "fake_click", "block_id": "b1", "value": "yes"},
    )
    assert sender.post_interaction(click)[0] == 200
    assert slack.wait_for(lambda: len(slack.ephemerals("U7")) == 1, timeout=10)
    assert slack.ephemerals("U7")[0].text == "clicked yes on 1700000000.000100"
    assert sender.post_interaction(click, signature="v0=" + "0" * 64)[0] == 401
