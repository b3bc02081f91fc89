"""The fake Slack can say no as Slack does: scopes in x-oauth-scopes, missing_scope, a missing
channel, a channel without the bot; driven through the real slack_sdk WebClient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from fakes.slack import FakeSlack
from fakes.slack.access import DEFAULT_BOT_SCOPES


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def client(slack: FakeSlack, token: str = "xoxb-test") -> WebClient:
    return WebClient(token=token, base_url=slack.api_url)


def scopes_of(response) -> list[str]:
    return response.headers["x-oauth-scopes"].split(",")


def error_of(call) -> dict:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response.data


def test_every_answer_names_the_granted_scopes(slack: FakeSlack):
    web = client(slack)
    assert scopes_of(web.auth_test()) == list(DEFAULT_BOT_SCOPES)
    assert scopes_of(web.chat_postMessage(channel="C1", text="hi")) == list(DEFAULT_BOT_SCOPES)
    app = WebClient(base_url=slack.api_url)
    with pytest.raises(SlackApiError) as raised:  # no Socket Mode server: not_allowed
        app.apps_connections_open(app_token="xapp-1")
    assert raised.value.response.headers["x-oauth-scopes"] == "connections:write"


def test_a_scope_not_granted_is_missing_scope_naming_it(slack: FakeSlack):
    slack.grant_scopes(["chat:write"])
    web = client(slack)
    assert scopes_of(web.auth_test()) == ["chat:write"]
    data = error_of(lambda: web.users_info(user="U1"))
    assert data == {
        "ok": False,
        "error": "missing_scope",
        "needed": "users:read",
        "provided": "chat:write",
    }
    assert web.chat_postMessage(channel="C1", text="still allowed")["ok"]


def test_a_removed_channel_is_not_found_anywhere(slack: FakeSlack):
    slack.remove_channel("C9")
    web = client(slack)
    assert error_of(lambda: web.conversations_info(channel="C9"))["error"] == "channel_not_found"
    post = error_of(lambda: web.chat_postMessage(channel="C9", text="x"))
    assert post["error"] == "channel_not_found"


def test_a_channel_without_the_bot_says_so(slack: FakeSlack):
    slack.remove_bot_from("C2")
    web = client(slack)
    assert web.conversations_info(channel="C2")["channel"]["is_member"] is False
    assert web.conversations_info(channel="C3")["channel"]["is_member"] is True
    assert error_of(lambda: web.chat_postMessage(channel="C2", text="x"))["error"] == (
        "not_in_channel"
    )
    assert slack.messages("C2") == []


def test_the_bot_deletes_its_own_messages(slack: FakeSlack):
    web = client(slack)
    ts = web.chat_postMessage(channel="C1", text="bye")["ts"]
    assert web.chat_delete(channel="C1", ts=ts)["ok"]
    assert slack.messages("C1") == []
