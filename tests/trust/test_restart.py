"""A restart loses no message: what a dead process accepted gets one notice, re-sends no double."""

from __future__ import annotations

from unittest.mock import ANY

from bot import prompts
from bot.simulators.slack_events import mention_event, next_ts
from bot.slack.server import start_up
from tests.slack.conftest import CHANNEL, TEAM, USER
from tests.trust.conftest import slack_client, thread_key


def event_key(payload: dict) -> str:
    return f"slack:{TEAM}:{payload['event']['channel']}:{payload['event']['ts']}"


def test_a_message_claimed_by_a_dead_process_gets_one_notice_at_start_up(make_app):
    app = make_app()
    lost = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="Where is ORD-1001?")
    # The dead run had claimed it and started its turn (the question is stored), then died.
    storage = app.services.storage
    storage.events.claim(event_key(lost), owner="dead-run", thread_key=thread_key(lost))
    storage.conversations.add_user_message(thread_key(lost), "Where is ORD-1001?", user=USER)
    done = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="old")
    storage.events.claim(event_key(done), owner="dead-run", thread_key=thread_key(done))
    storage.events.finish(event_key(done))

    start_up(app.services, app.responder, slack_client(app.services, app.slack)).stop()

    assert app.reply_text(lost) == prompts.RESTARTED_NOTICE
    assert app.replies(done) == [], "finished work is left alone"
    assert storage.events.status(event_key(lost)) == "done"
    # Slack re-sending it now, or a second start-up, adds nothing.
    assert app.deliver(lost, retry_num=1, retry_reason="http_timeout") == 200
    start_up(app.services, app.responder, slack_client(app.services, app.slack)).stop()
    app.settle()
    assert len(app.replies(lost)) == 1 and app.claude.requests == []

    follow_up = app.mention("Where is ORD-1001 then?", thread_ts=lost["event"]["ts"])
    app.wait_answered(follow_up)
    assert "RM493827651GB" in app.reply_text(follow_up), "the thread carries on normally"


def test_an_unclaimed_message_re_sent_after_a_restart_is_answered(make_app):
    app = make_app()
    lost = mention_event(team=TEAM, channel=CHANNEL, user=USER, text="Where is ORD-1001?")
    # The dead run claimed it but never acknowledged it, so Slack re-sends it after the restart.
    app.services.storage.events.claim(event_key(lost), owner="dead-run", thread_key="x")
    assert app.deliver(lost, retry_num=1, retry_reason="http_timeout") == 200
    app.wait_answered(lost)
    assert "RM493827651GB" in app.reply_text(lost)
    start_up(app.services, app.responder, slack_client(app.services, app.slack)).stop()
    assert len(app.replies(lost)) == 1, "start-up does not add a notice to an answered message"


def test_start_up_with_nothing_left_unfinished_posts_nothing(make_app):
    app = make_app()
    mention = app.mention("hello", thread_ts=next_ts())
    app.wait_answered(mention)
    before = len(app.slack.calls_to("chat.postMessage"))
    assert app.responder.recover_unfinished(slack_client(app.services, app.slack)) == 0
    assert len(app.slack.calls_to("chat.postMessage")) == before


def test_unfinished_lists_only_other_owners_open_claims(make_app):
    events = make_app().services.storage.events
    events.claim("slack:T1:C1:1.1", owner="dead", thread_key="slack:T1:C1:1.1")
    events.claim("slack:T1:C1:2.2", owner="dead", thread_key="slack:T1:C1:1.1")
    events.finish("slack:T1:C1:2.2")
    events.claim("slack:T1:C1:3.3", owner="me")
    assert [row["key"] for row in events.unfinished(exclude_owner="me")] == ["slack:T1:C1:1.1"]
    assert events.unfinished(exclude_owner="dead") == [
        {"key": "slack:T1:C1:3.3", "owner": "me", "thread_key": None, "claimed_utc": ANY}
    ]
