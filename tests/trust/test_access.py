"""Who may ask: the installing workspace (plus listed ones), optionally only in listed channels."""

from __future__ import annotations

import logging

import pytest

from bot import prompts
from bot.access import AccessPolicy
from fakes.slack.events import mention_event, message_event, next_ts
from tests.slack.conftest import CHANNEL, TEAM
from tests.trust.conftest import thread_key

QUESTION = "Where is my order ORD-1001? My address is 1 Secret Lane"


def test_someone_from_another_organisation_is_refused_without_a_model_call(make_app, caplog):
    caplog.set_level(logging.INFO)
    app = make_app()
    mention = app.mention(QUESTION, user="U0GUEST", user_team="T0OTHER")
    app.wait_answered(mention)

    assert app.reply_text(mention) == prompts.OTHER_WORKSPACE_NOTICE
    app.settle()  # the message's listener has finished, not just its claim
    assert app.claude.requests == [], "Claude and the order data are never reached"
    assert not app.services.storage.conversations.exists(thread_key(mention)), "nothing kept"
    refusals = [r.getMessage() for r in caplog.records if "Refused" in r.getMessage()]
    assert refusals and "other_workspace" in refusals[0] and "U0GUEST" in refusals[0]
    assert "Secret Lane" not in caplog.text and "ORD-1001" not in caplog.text


def test_an_event_naming_another_workspace_in_any_team_field_is_refused(make_app):
    app = make_app()
    payload = mention_event(team=TEAM, channel=CHANNEL, user="U0GUEST", text=QUESTION)
    payload["event"]["team"] = "T0OTHER"  # no user_team at all: `team` alone says it
    assert app.deliver(payload) == 200
    app.wait_answered(payload)
    assert app.reply_text(payload) == prompts.OTHER_WORKSPACE_NOTICE
    app.settle()  # the message's listener has finished, not just its claim
    assert app.claude.requests == []


def test_a_workspace_listed_in_allowed_teams_is_answered(make_app):
    app = make_app({"SHOPMATE_ALLOWED_TEAMS": "T0PARTNER, T0OTHER2"})
    mention = app.mention(QUESTION, user="U0PARTNER", user_team="T0PARTNER")
    app.wait_answered(mention)
    assert "RM493827651GB" in app.reply_text(mention)
    start = app.slack.calls_to("chat.startStream")[0]
    assert start.args["recipient_team_id"] == "T0PARTNER", "the stream goes to the sender"


def test_with_allowed_channels_only_those_channels_get_answers(make_app):
    app = make_app({"SHOPMATE_ALLOWED_CHANNELS": CHANNEL})
    elsewhere = app.mention(QUESTION, channel="C0ELSEWHERE")
    app.wait_answered(elsewhere)
    assert app.reply_text(elsewhere) == prompts.CHANNEL_NOT_ALLOWED_NOTICE
    app.settle()  # the message's listener has finished, not just its claim
    assert app.claude.requests == []

    allowed = app.mention(QUESTION)
    app.wait_answered(allowed)
    assert "RM493827651GB" in app.reply_text(allowed)


def test_a_guests_chatter_in_a_thread_shopmate_joined_is_ignored_quietly(make_app):
    app = make_app()
    first = app.mention(QUESTION)
    app.wait_answered(first)
    requests = len(app.claude.requests)
    chatter = message_event(
        team=TEAM,
        channel=CHANNEL,
        channel_type="channel",
        user="U0GUEST",
        user_team="T0OTHER",
        text="thanks, we'll look on our side",
        ts=next_ts(),
        thread_ts=first["event"]["ts"],
    )
    assert app.deliver(chatter) == 200
    app.wait_answered(chatter)
    assert len(app.replies(first)) == 1, "no refusal posted to someone not asking ShopMate"
    app.settle()  # the message's listener has finished, not just its claim
    assert len(app.claude.requests) == requests


def test_a_dm_from_another_organisation_is_refused(make_app):
    app = make_app()
    dm = message_event(
        team=TEAM,
        channel="D0GUEST",
        channel_type="im",
        user="U0GUEST",
        user_team="T0OTHER",
        text=QUESTION,
        ts=next_ts(),
    )
    assert app.deliver(dm) == 200
    app.wait_answered(dm)
    assert app.reply_text(dm) == prompts.OTHER_WORKSPACE_NOTICE
    app.settle()
    assert app.claude.requests == []


@pytest.mark.parametrize(
    ("sender_teams", "channel", "reason"),
    [
        ((), "C1", None),
        (("T1",), "C1", None),
        (("T1", "T2"), "C1", None),
        (("T9",), "C1", "other_workspace"),
        (("T1", "T9"), "C1", "other_workspace"),
        (("T1",), "C9", "channel_not_allowed"),
    ],
)
def test_access_policy_decisions(sender_teams, channel, reason):
    policy = AccessPolicy(allowed_teams=["T2"], allowed_channels=["C1"])
    refusal = policy.check(team="T1", sender_teams=sender_teams, channel=channel)
    assert (refusal.reason if refusal else None) == reason


def test_without_lists_every_channel_of_the_installing_workspace_is_allowed():
    assert AccessPolicy().check(team="T1", sender_teams=["T1"], channel="Canything") is None
