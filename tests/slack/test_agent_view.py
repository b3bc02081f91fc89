"""The agent view end to end: suggested prompts on opening, thread titles, loading messages.

Real Bolt and slack_sdk against the fake Slack; each part has its off-switch, and none of them
can stop an answer by failing.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from bot.settings import DEFAULT_LOADING_MESSAGES, DEFAULT_SUGGESTED_PROMPTS
from bot.slack.assistant import PROMPTS_HEADING, thread_title
from bot.slack.reply import THINKING_STATUS
from fakes.slack.events import app_home_opened_event, assistant_thread_started_event, next_ts
from tests.slack.conftest import DM, TEAM, USER, Harness, start_harness, wait_until
from tests.slack.test_first_signs import HeldModel

SET_PROMPTS = "assistant.threads.setSuggestedPrompts"
SET_TITLE = "assistant.threads.setTitle"
SET_STATUS = "assistant.threads.setStatus"
DEFAULT_PROMPTS = [{"title": t, "message": m} for t, m in DEFAULT_SUGGESTED_PROMPTS]


def open_agent_view(h: Harness, *, tab: str = "messages") -> None:
    assert h.deliver(app_home_opened_event(team=TEAM, user=USER, channel=DM, tab=tab)) == 200


def start_assistant_thread(h: Harness) -> str:
    """An app on the older assistant view: Slack opens a thread and says so; its ts."""
    thread_ts = next_ts()
    payload = assistant_thread_started_event(team=TEAM, user=USER, channel=DM, thread_ts=thread_ts)
    assert h.deliver(payload) == 200
    return thread_ts


def statuses_with_loading_messages(h: Harness) -> list[tuple[str, list[str] | None]]:
    return [
        (c.args["status"], c.args.get("loading_messages")) for c in h.slack.calls_to(SET_STATUS)
    ]


# ----------------------------------------------------------------------------- suggested prompts


def test_opening_the_agent_view_offers_the_suggested_prompts(harness):
    open_agent_view(harness, tab="home")  # the Home tab is not the agent view: nothing
    open_agent_view(harness)
    assert wait_until(lambda: harness.slack.suggested_prompts(DM) is not None)
    harness.settle()
    assert harness.slack.suggested_prompts(DM) == DEFAULT_PROMPTS
    [call] = harness.slack.calls_to(SET_PROMPTS)
    assert "thread_ts" not in call.args, "an agent app's call naming a thread fails silently"
    assert call.args["title"] == PROMPTS_HEADING
    assert harness.claude.requests == [], "opening costs no model call"


def test_an_assistant_thread_started_gets_the_prompts_in_that_thread(harness):
    thread_ts = start_assistant_thread(harness)
    assert wait_until(lambda: harness.slack.suggested_prompts(DM, thread_ts) is not None)
    assert harness.slack.suggested_prompts(DM, thread_ts) == DEFAULT_PROMPTS


def test_prompts_are_paced_by_the_call_budget_and_never_provoke_a_429(harness):
    """Forty people open the agent view at once: Slack never has to refuse a call."""
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: open_agent_view(harness), range(40)))
    harness.settle()
    calls = harness.slack.calls_to(SET_PROMPTS)
    assert calls, "the first openings get their prompts"
    assert harness.slack.count_429 == 0
    assert len(calls) < 40, "when no slot is free, a cosmetic call is skipped, not queued"


# ----------------------------------------------------------------------------- thread titles


def test_the_first_question_titles_the_thread_and_follow_ups_keep_it(harness):
    first = harness.dm("hi! where is my order ORD-1001? it was a gift")
    harness.wait_answered(first)
    thread_ts = first["event"]["ts"]
    titled = "Where is my order ORD-1001?"
    assert wait_until(lambda: harness.slack.thread_title(DM, thread_ts) == titled)
    follow_up = harness.dm("And ORD-1002, when does that one arrive?", thread_ts=thread_ts)
    harness.wait_answered(follow_up)
    harness.settle()
    assert len(harness.slack.calls_to(SET_TITLE)) == 1, "titled once, from the first question"
    assert harness.slack.thread_title(DM, thread_ts) == "Where is my order ORD-1001?"
    assert "RM493827651GB" in harness.reply_text(first)


def test_a_question_in_an_assistant_thread_is_answered_like_a_dm_and_titles_it(harness):
    thread_ts = start_assistant_thread(harness)
    question = harness.dm("What's the status of order ORD-1003?", thread_ts=thread_ts)
    harness.wait_answered(question)
    [reply] = harness.replies(question)
    assert reply.thread_ts == thread_ts and "RM381726495GB" in reply.text
    titled = "What's the status of order ORD-1003?"
    assert wait_until(lambda: harness.slack.thread_title(DM, thread_ts) == titled)


def test_a_mention_in_a_channel_gets_no_title(harness):
    mention = harness.mention("where is ORD-1001?")
    harness.wait_answered(mention)
    harness.settle()
    assert harness.slack.calls_to(SET_TITLE) == []


def test_a_failing_title_never_stops_the_answer(harness, caplog):
    harness.slack.fail_next(SET_TITLE, error="internal_error")
    with caplog.at_level(logging.WARNING, logger="bot.slack.assistant"):
        dm = harness.dm("where is ORD-1001?")
        harness.wait_answered(dm)
        harness.settle()
    assert "RM493827651GB" in harness.reply_text(dm), "the answer arrived in full"
    assert harness.slack.pending_failures() == {}, "the title was tried and refused"
    assert "method=assistant.threads.setTitle error=internal_error" in caplog.text


def test_a_slow_title_never_holds_up_the_answer(harness):
    """Slack answering setTitle slowly must not stand between the question and the answer."""
    slow_title = harness.slack.hold(SET_TITLE)
    try:
        dm = harness.dm("where is ORD-1001?")
        harness.wait_answered(dm)
        assert "RM493827651GB" in harness.reply_text(dm), "answered while the title waits"
        assert len(harness.slack.calls_to(SET_TITLE)) == 1, "the title was asked for"
    finally:
        slow_title.set()
    assert wait_until(lambda: harness.slack.thread_title(DM, dm["event"]["ts"]) is not None)


def test_failing_prompts_are_logged_and_the_next_opening_works(harness, caplog):
    harness.slack.fail_next(SET_PROMPTS, error="internal_error")
    with caplog.at_level(logging.WARNING, logger="bot.slack.assistant"):
        open_agent_view(harness)
        harness.settle()
    assert "method=assistant.threads.setSuggestedPrompts error=internal_error" in caplog.text
    open_agent_view(harness)
    assert wait_until(lambda: harness.slack.suggested_prompts(DM) == DEFAULT_PROMPTS)


# ----------------------------------------------------------------------------- loading messages


def thinking_shown(h: Harness) -> bool:
    return any(status == THINKING_STATUS for status, _ in statuses_with_loading_messages(h))


def ask_and_see_thinking(h: Harness, text: str) -> dict:
    """Ask, with Claude held until "is thinking…" is out: the first sign goes out beside the
    lookup, and a sign still waiting when something is shown (the found fact) is dropped, so
    only a held Claude makes the order of the two certain."""
    release = threading.Event()
    h.claude.model = HeldModel(h.claude.model, release)
    try:
        dm = h.dm(text)
        assert wait_until(lambda: thinking_shown(h))
    finally:
        release.set()
    h.wait_answered(dm)
    return dm


def test_thinking_rotates_the_loading_messages(harness):
    ask_and_see_thinking(harness, "Can you help me with an order?")
    dm = harness.dm("where is ORD-1001?")
    harness.wait_answered(dm)
    sent = statuses_with_loading_messages(harness)
    assert sent[0] == (THINKING_STATUS, list(DEFAULT_LOADING_MESSAGES))
    looking_up = [messages for status, messages in sent if "ORD-1001" in status]
    assert looking_up == [None], "a tool's own status line is shown as it is, not rotated"


# ----------------------------------------------------------------------------- off-switches


@pytest.mark.parametrize(
    "switch", ["suggested_prompts_enabled", "thread_titles", "loading_messages_enabled"]
)
def test_each_part_can_be_turned_off_alone(services, fake_slack, fake_claude, switch):
    services.settings = replace(services.settings, **{switch: False})
    h = start_harness(services, fake_slack, fake_claude)
    try:
        open_agent_view(h)
        dm = ask_and_see_thinking(h, "Can you help me with an order?")
        h.settle()
        prompts = h.slack.suggested_prompts(DM)
        title = h.slack.thread_title(DM, dm["event"]["ts"])
        [loading] = [
            m for status, m in statuses_with_loading_messages(h) if status == THINKING_STATUS
        ]
        assert h.reply_text(dm)
    finally:
        h.server.stop()
    assert (prompts is None) == (switch == "suggested_prompts_enabled")
    assert (title is None) == (switch == "thread_titles")
    assert (loading is None) == (switch == "loading_messages_enabled")


def test_the_prompts_come_from_the_settings(services, fake_slack, fake_claude):
    services.settings = replace(
        services.settings, suggested_prompts=(("Track", "Where is ORD-1002?"),)
    )
    h = start_harness(services, fake_slack, fake_claude)
    try:
        open_agent_view(h)
        assert wait_until(lambda: h.slack.suggested_prompts(DM) is not None)
    finally:
        h.server.stop()
    assert h.slack.suggested_prompts(DM) == [{"title": "Track", "message": "Where is ORD-1002?"}]


# ----------------------------------------------------------------------------- the title itself


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("where is my order ORD-1001?", "Where is my order ORD-1001?"),
        ("Hi! Where is ORD-1001? Thanks", "Where is ORD-1001?"),
        ("Refund for <@U0ALICE> on *ORD-1002* please", "Refund for on ORD-1002 please"),
        ("see <https://threadco.example/returns|the returns page>", "See the returns page"),
        ("first line\nsecond line", "First line"),
        ("<@UBOT>", ""),
    ],
)
def test_a_title_is_the_question_shortened_without_markup(text, title):
    assert thread_title(text) == title


def test_a_long_question_is_cut_at_a_word_within_the_limit():
    title = thread_title(
        "A customer wants to swap the Sunset Gradient Tee for a size L because the M was "
        "too small when it arrived"
    )
    assert len(title) <= 60 and title.endswith("…")
    assert title.startswith("A customer wants to swap the Sunset Gradient Tee")
