"""Feedback buttons end to end: shown under finished answers, clicked over signed HTTP, stored
once per person per answer, acknowledged to the clicker only."""

from __future__ import annotations

import io
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace

from bot.keys import Key
from bot.slack.app import build_app, build_web_client
from bot.slack.feedback import ACTION_ID, GONE
from bot.slack.server import make_wsgi_app
from bot.slack.socket_mode import ShopMateSocketModeHandler
from fakes.slack import FakeSlack, Message
from fakes.slack.clicks import click as click_payload
from fakes.slack.events import mention_event, next_ts, sign
from fakes.slack.socket_mode import FakeSocketMode
from tests.conftest import SECRET
from tests.slack.conftest import (
    CHANNEL,
    TEAM,
    USER,
    Harness,
    ListenerPool,
    start_harness,
    wait_until,
)

QUESTION = "Hi, where is my order ORD-1001?"
OTHER = "U0OTHER"


def answered(h: Harness, text: str = QUESTION) -> tuple[dict, Message, int]:
    """Ask, wait for the answer; its last message (with the buttons) and its stored turn id."""
    mention = h.mention(text)
    h.wait_answered(mention)
    *_, last = h.replies(mention)
    thread = Key.slack(TEAM, CHANNEL, mention["event"]["ts"])
    turns = h.services.storage.conversations.export(str(thread))["turns"]  # type: ignore[index]
    return mention, last, turns[-1]["id"]


def buttons(message: Message) -> list[dict]:
    return [
        element
        for block in message.blocks
        if block.get("type") == "context_actions"
        for element in block.get("elements", [])
        if element.get("type") == "feedback_buttons"
    ]


def ephemerals(slack: FakeSlack) -> list[dict]:
    """What each person was shown only to them (chat.postEphemeral), in order."""
    return [
        {"user": e.user, "channel": e.channel, "thread_ts": e.thread_ts, "text": e.text}
        for e in slack.ephemerals()
    ]


def feedback_click(slack: FakeSlack, message: Message, rating: str, *, user: str) -> dict:
    """The block_actions payload of `user` clicking a thumb shown under `message`."""
    return click_payload(
        slack, message.channel, message.ts, user=user, action_id=ACTION_ID, button=rating
    )


def post_interaction(sender, payload: dict, **kwargs) -> int:
    return sender.post_interaction(payload, **kwargs)[0]


def click(h: Harness, message: Message, rating: str, *, user: str = USER) -> dict:
    payload = feedback_click(h.slack, message, rating, user=user)
    assert post_interaction(h.sender, payload) == 200
    return payload


def post_unsigned(url: str, payload: dict) -> int:
    """A click with no signature headers at all, as a stranger could send one."""
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_streamed_answer_ends_with_buttons_that_rate_its_stored_turn(harness: Harness) -> None:
    _, message, turn = answered(harness)

    [element] = buttons(message)
    assert element["action_id"] == ACTION_ID
    assert element["positive_button"]["value"] == f"positive:{turn}"
    assert element["negative_button"]["value"] == f"negative:{turn}"
    # The buttons came with chat.stopStream, which ended the stream; the text is unchanged.
    [stop] = harness.slack.calls_to("chat.stopStream")
    assert any(b["type"] == "context_actions" for b in stop.args["blocks"])
    assert "RM493827651GB" in message.text and not message.streaming


def test_a_rating_is_stored_changed_and_kept_per_person_and_acked_to_the_clicker_only(
    harness: Harness,
) -> None:
    mention, message, turn = answered(harness)
    feedback = harness.services.storage.feedback

    click(harness, message, "positive")
    assert wait_until(lambda: len(ephemerals(harness.slack)) == 1)
    assert feedback.get(turn, USER)["rating"] == "positive"  # type: ignore[index]

    click(harness, message, "negative")  # the same person changes their mind
    click(harness, message, "positive", user=OTHER)
    assert wait_until(lambda: len(ephemerals(harness.slack)) == 3)
    harness.settle()

    assert feedback.get(turn, USER)["rating"] == "negative"  # type: ignore[index]
    assert feedback.get(turn, OTHER)["rating"] == "positive"  # type: ignore[index]
    acks = ephemerals(harness.slack)
    # Each acknowledgement went to the one who clicked, in the answer's thread, nowhere else.
    assert [a["user"] for a in acks] == [USER, USER, OTHER]
    assert all(a["channel"] == CHANNEL for a in acks)
    assert all(a["thread_ts"] == mention["event"]["ts"] for a in acks)
    assert "Changed" in acks[1]["text"]
    assert not harness.slack.calls_to("chat.postMessage")[1:], "nothing posted for everyone"


def test_a_click_delivered_twice_is_stored_and_acknowledged_once(harness: Harness) -> None:
    _, message, turn = answered(harness)
    payload = click(harness, message, "negative")
    assert post_interaction(harness.sender, payload) == 200  # the same click, delivered again
    # A later click by someone else is the barrier: once its ack is out, the duplicate has
    # been handled too (settle waits for every listener).
    click(harness, message, "positive", user=OTHER)
    assert wait_until(lambda: len(ephemerals(harness.slack)) >= 2)
    harness.settle()

    assert [a["user"] for a in ephemerals(harness.slack)] == [USER, OTHER]
    rows = harness.services.storage.feedback.rated_answers()
    assert [(r["turn_id"], r["positive"], r["negative"]) for r in rows] == [(turn, 1, 1)]
    assert rows[0]["question"] == QUESTION, "the rated turn knows the question it answered"


def test_unsigned_or_badly_signed_clicks_are_refused_and_store_nothing(harness: Harness) -> None:
    _, message, turn = answered(harness)
    payload = feedback_click(harness.slack, message, "negative", user=USER)

    assert post_interaction(harness.sender, payload, signature="v0=" + "0" * 64) == 401
    assert post_interaction(harness.sender, payload, timestamp=1_600_000_000) == 401
    assert post_unsigned(harness.sender.url, payload) == 401
    harness.settle()

    assert harness.services.storage.feedback.get(turn, USER) is None
    assert ephemerals(harness.slack) == []


def test_a_forged_or_stale_value_is_logged_and_answered_politely(harness: Harness, caplog) -> None:
    _, _, other_turn = answered(harness, "And ORD-1002?")  # an answer in another thread
    _, message, _ = answered(harness)
    caplog.set_level(logging.WARNING, logger="bot.slack.feedback")

    # A value naming another thread's answer, an answer that is gone, and garbage.
    for value in (f"positive:{other_turn}", "negative:987654", "drop table feedback"):
        payload = feedback_click(harness.slack, message, "positive", user=USER)
        payload["actions"][0]["value"] = value
        assert post_interaction(harness.sender, payload) == 200
    assert wait_until(lambda: len(ephemerals(harness.slack)) == 3)
    harness.settle()

    assert all(a["text"] == GONE and a["user"] == USER for a in ephemerals(harness.slack))
    assert harness.services.storage.feedback.rated_answers() == []
    logged = [r.getMessage() for r in caplog.records if r.name == "bot.slack.feedback"]
    assert len([m for m in logged if m.startswith("Refused")]) == 3, logged


def test_post_and_update_answers_carry_the_buttons_on_their_final_update(services, fake_claude):
    with FakeSlack(team_id=TEAM, streaming_supported=False) as slack:
        h = start_harness(services, slack, fake_claude)
        try:
            _, message, turn = answered(h)
            [element] = buttons(message)
            assert element["positive_button"]["value"] == f"positive:{turn}"
            final = slack.calls_to("chat.update")[-1]
            assert "markdown_text" not in final.args
            assert final.args["blocks"][0] == {"type": "markdown", "text": message.text}
            assert "RM493827651GB" in message.text and message.format == "markdown"

            click(h, message, "positive")
            assert wait_until(lambda: services.storage.feedback.get(turn, USER) is not None)
        finally:
            h.server.stop()


def test_feedback_off_shows_no_buttons(services, fake_slack, fake_claude):
    quiet = replace(services, settings=replace(services.settings, slack_feedback=False))
    h = start_harness(quiet, fake_slack, fake_claude)
    try:
        _, message, _ = answered(h)
        assert buttons(message) == []
        assert "RM493827651GB" in message.text
    finally:
        h.server.stop()


def test_clicks_over_socket_mode_are_acked_stored_once_and_answered(
    services, fake_slack, fake_claude
) -> None:
    """Socket Mode: the click comes as an `interactive` envelope; our client acks it, and the
    same click delivered again (a second envelope) is stored and acknowledged once."""
    with FakeSocketMode() as socket_mode:
        fake_slack.socket_mode = socket_mode
        web = build_web_client(replace(services.settings, slack_api_url=fake_slack.api_url))
        pool = ListenerPool(services.settings.slack_workers)
        app, _ = build_app(services, web_client=web, socket_mode=True, listener_executor=pool)
        handler = ShopMateSocketModeHandler(app, "xapp-1-test")
        handler.connect()
        try:
            mention = mention_event(
                team=TEAM, channel=CHANNEL, user=USER, text="<@UBOT> " + QUESTION, ts=next_ts()
            )
            socket_mode.send_event(mention)
            key = str(Key.slack(TEAM, CHANNEL, mention["event"]["ts"]))
            assert wait_until(lambda: services.storage.claims.status(key) == "done")
            *_, message = fake_slack.messages(CHANNEL, mention["event"]["ts"])
            [element] = buttons(message)
            turn = int(element["positive_button"]["value"].split(":")[1])

            payload = feedback_click(fake_slack, message, "negative", user=USER)
            first = socket_mode.send_interaction(payload)
            again = socket_mode.send_interaction(payload)
            assert socket_mode.wait_for(
                lambda: socket_mode.acked(first) and socket_mode.acked(again)
            )
            assert wait_until(lambda: len(ephemerals(fake_slack)) >= 1)
            assert pool.wait_idle(15.0)

            assert services.storage.feedback.get(turn, USER)["rating"] == "negative"  # type: ignore[index]
            assert [e["user"] for e in ephemerals(fake_slack)] == [USER]
        finally:
            handler.close()


def test_a_click_during_a_graceful_shutdown_is_still_taken_but_events_are_not(
    harness: Harness,
) -> None:
    """Slack re-sends an event refused with 503 to the next process, but never a click."""
    _, message, turn = answered(harness)
    pool = ListenerPool(2)
    web = build_web_client(replace(harness.services.settings, slack_api_url=harness.slack.api_url))
    app, responder = build_app(harness.services, web_client=web, listener_executor=pool)
    wsgi = make_wsgi_app(app, drain=responder.drain)
    responder.drain.stopping.set()  # SIGTERM: draining

    click_body = urllib.parse.urlencode(
        {"payload": json.dumps(feedback_click(harness.slack, message, "positive", user=USER))}
    ).encode()
    event_body = json.dumps(
        mention_event(team=TEAM, channel=CHANNEL, user=USER, text="<@UBOT> hi", ts=next_ts())
    ).encode()
    assert call_wsgi(wsgi, click_body, "application/x-www-form-urlencoded").startswith("200")
    assert call_wsgi(wsgi, event_body, "application/json").startswith("503")
    assert pool.wait_idle(15.0)
    assert harness.services.storage.feedback.get(turn, USER)["rating"] == "positive"  # type: ignore[index]

    responder.drain.expired.set()  # the grace is over: nothing more is taken
    assert call_wsgi(wsgi, click_body, "application/x-www-form-urlencoded").startswith("503")


def call_wsgi(wsgi, body: bytes, content_type: str) -> str:
    """One signed POST /slack/events straight into the WSGI app; its status line."""
    timestamp = str(int(time.time()))
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/slack/events",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp,
        "HTTP_X_SLACK_SIGNATURE": sign(SECRET, body, timestamp),
        "wsgi.input": io.BytesIO(body),
    }
    status: list[str] = []
    b"".join(wsgi(environ, lambda line, headers, exc_info=None: status.append(line)))
    return status[0]
