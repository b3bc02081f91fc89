"""One lifecycle for every front: claim once, access, limits, input cut, engine, finish."""

from __future__ import annotations

import io
from dataclasses import replace

from bot import prompts
from bot.access import AccessPolicy
from bot.events import Notice, Started, TextDelta, TurnComplete
from bot.keys import Key
from bot.lifecycle import TurnLifecycle, UserMessage
from bot.limits import Limits
from bot.terminal import chat
from fakes.claude import reply


def message(text: str = "hello", **kw) -> UserMessage:
    return UserMessage(conversation=Key.local("life"), text=text, user="U1", team="T1", **kw)


def test_a_turn_starts_then_streams_and_is_stored(services, fake_claude):
    lifecycle = TurnLifecycle(services, owner="me")
    events = list(lifecycle.run(message("Where is ORD-1001?")))
    assert isinstance(events[0], Started) and isinstance(events[-1], TurnComplete)
    assert "RM493827651GB" in events[-1].text
    assert services.storage.conversations.history("local:life")[-1]["role"] == "assistant"


def test_over_a_limit_is_a_notice_and_no_model_call(services, fake_claude):
    lifecycle = TurnLifecycle(services, owner="me", limits=Limits(user_turns_per_minute=1))
    list(lifecycle.run(message()))
    calls = len(fake_claude.requests)
    events = list(lifecycle.run(message()))
    assert events == [Notice("limit", prompts.USER_SLOW_DOWN_NOTICE, "user_turns_per_minute")]
    assert len(fake_claude.requests) == calls


def test_a_long_message_is_cut_with_a_notice_before_the_answer(services, fake_claude):
    services.settings = replace(services.settings, max_input_chars=10)
    fake_claude.enqueue(reply("Short answer."))
    events = list(TurnLifecycle(services, owner="me").run(message("x" * 50)))
    assert events[1] == Notice("input_cut", prompts.input_cut_notice(10), "input cut", final=False)
    assert isinstance(events[2], TextDelta) and isinstance(events[-1], TurnComplete)
    sent = fake_claude.requests[-1].body["messages"][-1]["content"]
    assert "x" * 11 not in str(sent)


def test_files_without_text_and_refusals_are_notices(services, fake_claude):
    lifecycle = TurnLifecycle(services, owner="me", access=AccessPolicy())
    assert list(lifecycle.run(message("", has_files=True))) == [
        Notice("only_text", prompts.ONLY_TEXT_NOTICE, "non-text message")
    ]
    guest = message(channel="C1", sender_teams=("T0OTHER",))
    assert lifecycle.check_access(guest) == Notice(
        "refusal", prompts.OTHER_WORKSPACE_NOTICE, "other_workspace"
    )
    assert lifecycle.check_access(message(channel="C1", sender_teams=("T1",))) is None
    assert fake_claude.requests == []


def test_a_message_is_claimed_exactly_once_until_finished(services):
    lifecycle = TurnLifecycle(services, owner="me")
    incoming = message(message=Key.slack("T1", "C1", "1.000001"))
    assert lifecycle.claim(incoming, stored={"text": "hello"}) is not None
    assert lifecycle.claim(incoming) is None, "the same owner again"
    assert TurnLifecycle(services, owner="other").claim(incoming) is None, "lease still held"
    lifecycle.finish(incoming)
    assert services.storage.claims.status("slack:T1:C1:1.000001") == "done"


def test_the_terminal_chat_runs_on_the_lifecycle_and_shows_its_notices(services, fake_claude):
    lifecycle = TurnLifecycle(services, owner="me", limits=Limits(user_turns_per_minute=1))
    out = io.StringIO()
    stdin = io.StringIO("Where is ORD-1001?\nAnd again?\n")
    assert chat(lifecycle, Key.local("term"), stdin=stdin, out=out) == 0
    text = out.getvalue()
    assert "RM493827651GB" in text
    assert f"ShopMate: {prompts.USER_SLOW_DOWN_NOTICE}" in text
