"""How every Slack call is made (bot/slack/calls.py): a budget slot, the call, Slack's error
code, a 429's penalty for every caller, and bounded retries for the calls that must land."""

from __future__ import annotations

import socket

from slack_sdk import WebClient

from bot.slack.budget import CallBudget
from bot.slack.calls import FINAL_ATTEMPTS, RETRY_BACKOFF_S, SlackCalls
from fakes.slack import FakeSlack
from tests.slack.conftest import CHANNEL, TEAM

THREAD = "1700000000.000100"


def client_of(slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.api_url)


class FrozenClock:
    """A clock that moves only when told: the budget's holds can be read without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def posted(calls: SlackCalls, client: WebClient, text: str = "first words") -> str:
    outcome = calls.call(
        client, TEAM, "chat.postMessage", channel=CHANNEL, thread_ts=THREAD, markdown_text=text
    )
    assert outcome.ok
    return outcome.response["ts"]


def test_a_final_call_met_by_a_429_waits_out_retry_after_and_lands(fake_slack: FakeSlack):
    client = client_of(fake_slack)
    pauses: list[float] = []
    calls = SlackCalls(CallBudget(minute_s=6.0), sleep=pauses.append)
    ts = posted(calls, client)
    fake_slack.fail_next("chat.update", retry_after=1)

    outcome = calls.final(
        client, TEAM, "chat.update", channel=CHANNEL, ts=ts, markdown_text="the whole answer"
    )

    assert outcome.ok
    assert len(fake_slack.calls_to("chat.update")) == 2, "the 429, then the call that landed"
    assert fake_slack.messages(CHANNEL, THREAD)[0].text == "the whole answer"
    assert pauses == [], "a 429 waits in the budget (its hold), not in a pause of its own"


def test_a_429_holds_the_method_for_every_caller_for_its_retry_after(fake_slack: FakeSlack):
    clock = FrozenClock()
    budget = CallBudget(clock=clock)
    calls = SlackCalls(budget)
    client = client_of(fake_slack)
    ts = posted(calls, client)
    fake_slack.fail_next("chat.update", retry_after=3)

    outcome = calls.call(client, TEAM, "chat.update", channel=CHANNEL, ts=ts, markdown_text="x")

    assert (outcome.error, outcome.retry_after) == ("ratelimited", 3.0)
    assert calls.now(client, TEAM, "chat.update", channel=CHANNEL, ts=ts, text="y") is None
    assert len(fake_slack.calls_to("chat.update")) == 1, "no call was made while on hold"
    clock.now += 3.0
    assert budget.try_acquire(TEAM, "chat.update"), "the hold ends with Retry-After"


def test_a_passing_failure_of_a_final_call_is_tried_again_after_a_growing_pause(
    fake_slack: FakeSlack,
):
    pauses: list[float] = []
    calls = SlackCalls(CallBudget(minute_s=6.0), sleep=pauses.append)
    fake_slack.fail_next("chat.postMessage", error="internal_error", times=2)

    outcome = calls.final(
        client_of(fake_slack),
        TEAM,
        "chat.postMessage",
        channel=CHANNEL,
        thread_ts=THREAD,
        markdown_text="the answer",
    )

    assert outcome.ok
    assert pauses == [RETRY_BACKOFF_S, 2 * RETRY_BACKOFF_S]
    assert [m.text for m in fake_slack.messages(CHANNEL, THREAD)] == ["the answer"]


def test_a_final_call_gives_up_after_its_last_attempt(fake_slack: FakeSlack):
    calls = SlackCalls(CallBudget(minute_s=6.0), sleep=lambda _: None)
    fake_slack.fail_next("chat.postMessage", error="internal_error", times=FINAL_ATTEMPTS + 1)

    outcome = calls.final(
        client_of(fake_slack), TEAM, "chat.postMessage", channel=CHANNEL, markdown_text="x"
    )

    assert outcome.error == "internal_error"
    assert len(fake_slack.calls_to("chat.postMessage")) == FINAL_ATTEMPTS


def test_an_answer_about_the_message_is_returned_at_once_not_retried(fake_slack: FakeSlack):
    pauses: list[float] = []
    calls = SlackCalls(CallBudget(minute_s=6.0), sleep=pauses.append)
    fake_slack.fail_next("chat.update", error="message_not_found")

    outcome = calls.final(
        client_of(fake_slack), TEAM, "chat.update", channel=CHANNEL, ts="1.000001", text="x"
    )

    assert outcome.error == "message_not_found"
    assert len(fake_slack.calls_to("chat.update")) == 1 and pauses == []


def test_a_progress_call_with_no_free_slot_is_not_made(fake_slack: FakeSlack):
    budget = CallBudget(clock=FrozenClock())
    calls = SlackCalls(budget)
    client = client_of(fake_slack)
    while budget.try_acquire(TEAM, "assistant.threads.setStatus"):
        pass  # another reply took the whole burst

    outcome = calls.now(
        client, TEAM, "assistant.threads.setStatus", channel_id=CHANNEL, thread_ts=THREAD, status=""
    )

    assert outcome is None
    assert fake_slack.calls_to("assistant.threads.setStatus") == []


def test_an_unreachable_slack_is_an_outcome_not_an_exception():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once the socket is closed
    client = WebClient(token="xoxb-test", base_url=f"http://127.0.0.1:{port}/api/")

    outcome = SlackCalls(CallBudget()).call(
        client, TEAM, "chat.postMessage", channel=CHANNEL, text="x"
    )

    assert outcome.error == "connection" and not outcome.ok
