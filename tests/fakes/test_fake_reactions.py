"""The fake's reactions.add/remove: Slack's errors and tiers, driven by the real slack_sdk."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from fakes.slack import SLACK_BURSTS, FakeSlack

CHANNEL = "C0001"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def client() -> Iterator[tuple[FakeSlack, WebClient]]:
    with FakeSlack() as slack:
        yield slack, WebClient(token="xoxb-test", base_url=slack.api_url, timeout=10)


def refused(call) -> str:
    with pytest.raises(SlackApiError) as exc:
        call()
    return str(exc.value.response["error"])


def test_a_reaction_is_shown_once_and_taken_off_once(client):
    slack, web = client
    ts = slack.add_user_message(CHANNEL, "Where is ORD-1001?")
    web.reactions_add(channel=CHANNEL, timestamp=ts, name="eyes")
    assert slack.reactions_on(CHANNEL, ts) == {"eyes"}
    assert refused(lambda: web.reactions_add(channel=CHANNEL, timestamp=ts, name="eyes")) == (
        "already_reacted"
    )
    web.reactions_remove(channel=CHANNEL, timestamp=ts, name="eyes")
    assert slack.reactions_on(CHANNEL, ts) == set()
    assert refused(lambda: web.reactions_remove(channel=CHANNEL, timestamp=ts, name="eyes")) == (
        "no_reaction"
    )
    assert [(r.name, r.added) for r in slack.reaction_log] == [("eyes", True), ("eyes", False)]
    assert refused(lambda: web.reactions_add(channel=CHANNEL, timestamp=ts, name="")) == (
        "invalid_name"
    )


def test_a_reaction_is_a_first_sign_for_its_message(client):
    slack, web = client
    ts = slack.add_user_message(CHANNEL, "Hello?")
    assert slack.first_sign_time(CHANNEL, ts, ts) is None
    web.reactions_add(channel=CHANNEL, timestamp=ts, name="eyes")
    assert slack.first_sign_time(CHANNEL, ts, ts) == slack.reaction_log[0].time


@pytest.mark.parametrize(
    ("method", "tier_per_minute"), [("reactions.add", 50), ("reactions.remove", 20)]
)
def test_reactions_are_limited_by_their_tier(method: str, tier_per_minute: int):
    with FakeSlack() as slack:
        web = WebClient(token="xoxb-test", base_url=slack.api_url, timeout=10)
        assert slack.limits[method] == tier_per_minute
        burst = SLACK_BURSTS[method]
        call = web.reactions_add if method == "reactions.add" else web.reactions_remove
        for i in range(burst):
            if method == "reactions.remove":
                slack.add_user_message(CHANNEL, "x", ts=f"1700000000.{i:06d}")
                web.reactions_add(channel=CHANNEL, timestamp=f"1700000000.{i:06d}", name="eyes")
            call(channel=CHANNEL, timestamp=f"1700000000.{i:06d}", name="eyes")
        assert refused(
            lambda: call(channel=CHANNEL, timestamp="1700000001.000000", name="eyes")
        ) == ("ratelimited")
        assert slack.count_429 == 1
