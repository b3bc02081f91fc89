"""The fake's agent-view methods refuse what Slack refuses, driven by the real slack_sdk."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from fakes.slack import FakeSlack

DM = "D0001"
THREAD = "1700000000.000001"
PROMPT = {"title": "Order status", "message": "Where is ORD-1001?"}


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


def test_suggested_prompts_are_kept_per_dm_or_thread_and_at_most_four(client):
    slack, web = client
    web.assistant_threads_setSuggestedPrompts(channel_id=DM, prompts=[PROMPT], title="Try")
    web.assistant_threads_setSuggestedPrompts(channel_id=DM, thread_ts=THREAD, prompts=[PROMPT] * 4)
    assert slack.suggested_prompts(DM) == [PROMPT]
    assert slack.suggested_prompts_heading(DM) == "Try"
    assert slack.suggested_prompts(DM, THREAD) == [PROMPT] * 4
    for prompts in ([PROMPT] * 5, [], [{"title": "no message"}], [{"title": "", "message": "x"}]):
        assert (
            refused(
                lambda p=prompts: web.assistant_threads_setSuggestedPrompts(
                    channel_id=DM, prompts=p
                )
            )
            == "invalid_arguments"
        ), prompts
    assert (
        refused(lambda: web.assistant_threads_setSuggestedPrompts(channel_id="", prompts=[PROMPT]))
        == "channel_not_found"
    )


def test_a_title_needs_a_thread_and_some_text(client):
    slack, web = client
    web.assistant_threads_setTitle(channel_id=DM, thread_ts=THREAD, title="Where is ORD-1001?")
    assert slack.thread_title(DM, THREAD) == "Where is ORD-1001?"
    assert (
        refused(lambda: web.assistant_threads_setTitle(channel_id=DM, thread_ts=THREAD, title=" "))
        == "invalid_arguments"
    )
    assert (
        refused(lambda: web.assistant_threads_setTitle(channel_id=DM, thread_ts="", title="x"))
        == "invalid_arguments"
    )


def test_set_status_takes_at_most_ten_loading_messages(client):
    slack, web = client
    ten = [f"Step {i}…" for i in range(10)]
    web.assistant_threads_setStatus(
        channel_id=DM, thread_ts=THREAD, status="is thinking…", loading_messages=ten
    )
    assert slack.current_status(DM, THREAD) == "is thinking…"
    for messages in ([*ten, "one more"], ["fine", ""]):
        assert (
            refused(
                lambda m=messages: web.assistant_threads_setStatus(
                    channel_id=DM, thread_ts=THREAD, status="is thinking…", loading_messages=m
                )
            )
            == "invalid_arguments"
        ), messages


def test_the_agent_view_methods_are_rate_limited_like_tier_4():
    """100 a minute, at most 20 at once: the 21st call in a burst is told to wait."""
    frozen = 1000.0  # the buckets' clock stands still: no refill, however slow this machine
    with FakeSlack(clock=lambda: frozen) as slack:
        web = WebClient(token="xoxb-test", base_url=slack.api_url, timeout=10)
        for _ in range(20):
            web.assistant_threads_setTitle(channel_id=DM, thread_ts=THREAD, title="x")
        with pytest.raises(SlackApiError) as exc:
            web.assistant_threads_setTitle(channel_id=DM, thread_ts=THREAD, title="x")
        assert exc.value.response.status_code == 429
        assert int(exc.value.response.headers["Retry-After"]) >= 1
        assert slack.limits["assistant.threads.setSuggestedPrompts"] == 100
