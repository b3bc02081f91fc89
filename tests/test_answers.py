"""Turns are stored as they happen, reloaded, and sent back; failures leave history valid."""

from __future__ import annotations

import itertools

from bot.events import TurnComplete, TurnFailed
from bot.history import repair
from fakes.claude import http_error, reply, stream_error, tool_call

THREAD = "local:test"


def answer(services, text: str) -> list:
    return list(services.answers.answer(THREAD, text, user="U1", team="T1"))


def test_history_is_stored_reloaded_and_sent_back(services, fake_claude):
    fake_claude.enqueue(
        reply(text="Checking.", tool_calls=[tool_call("get_order", {"order_id": "ORD-1001"})])
    )
    fake_claude.enqueue(reply(text="Shipped, tracking RM493827651GB."))
    # No id in the text, so nothing is looked up before Claude asks (see test_prefetch.py).
    assert isinstance(answer(services, "Where is my latest order?")[-1], TurnComplete)

    stored = services.storage.conversations.history(THREAD)
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[1]["content"][-1]["type"] == "tool_use"
    assert stored[2]["content"][0]["type"] == "tool_result"

    fake_claude.enqueue(reply(text="You're welcome."))
    answer(services, "Thanks!")
    sent = fake_claude.requests[-1].body["messages"]
    assert len(sent) == 5
    assert sent[1]["content"][-1]["id"] == stored[1]["content"][-1]["id"]
    assert "Thanks!" in str(sent[-1]["content"])
    assert "cache_control" not in str(services.storage.conversations.history(THREAD))


def test_the_question_is_stored_even_when_the_turn_fails(services, fake_claude):
    for _ in range(3):
        fake_claude.enqueue(http_error(529, "overloaded_error", "Overloaded"))
    events = answer(services, "Where is ORD-1001?")
    assert isinstance(events[-1], TurnFailed)
    stored = services.storage.conversations.history(THREAD)
    assert [m["role"] for m in stored] == ["user"]
    assert "ORD-1001" in str(stored[0]["content"])


def test_after_a_failed_turn_the_next_message_just_works(services, fake_claude):
    fake_claude.enqueue(
        reply(text="Let me look.", tool_calls=[tool_call("get_order", {"order_id": "ORD-1001"})])
    )
    fake_claude.enqueue(stream_error(after_text="Your order", error_type="overloaded_error"))
    assert isinstance(answer(services, "Where is ORD-1001?")[-1], TurnFailed)

    fake_claude.enqueue(reply(text="Here you go."))
    assert isinstance(answer(services, "Hello again?")[-1], TurnComplete)
    sent = fake_claude.requests[-1].body["messages"]
    assert_valid_request(sent)
    assert_valid_request(repair(services.storage.conversations.history(THREAD)))


def test_turn_usage_is_recorded_for_complete_and_failed_turns(services, fake_claude):
    fake_claude.enqueue(reply(text="Hi."))
    answer(services, "hello")
    report = services.storage.conversations.turns_since("2000-01-01T00:00:00", user="U1")
    assert report.turns == 1 and report.tokens > 0


def assert_valid_request(messages: list[dict]) -> None:
    """What the Messages API checks: alternating roles from user, every tool_use answered next."""
    assert messages[0]["role"] == "user"
    for before, after in itertools.pairwise(messages):
        assert before["role"] != after["role"], "roles alternate"
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or isinstance(message["content"], str):
            continue
        ids = [b["id"] for b in message["content"] if b.get("type") == "tool_use"]
        if ids:
            following = messages[i + 1]["content"]
            answered = [b["tool_use_id"] for b in following if b.get("type") == "tool_result"]
            assert sorted(ids) == sorted(answered)
