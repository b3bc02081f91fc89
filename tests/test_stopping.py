"""A front stops an answer: Claude's stream closes at once, the turn keeps what was shown."""

from __future__ import annotations

from bot.events import TextDelta, ToolStarted, TurnComplete
from bot.stopping import StopSignal
from fakes.claude import Pace, reply
from tests.slack.conftest import wait_until

THREAD = "local:stop"
# Long enough that, at this pace, it is still being written long after the stop (8 s).
LONG_ANSWER = " ".join(f"word{i}" for i in range(800))


def test_a_stop_closes_claudes_stream_and_the_turn_keeps_only_the_shown_text(services, fake_claude):
    fake_claude.pace = Pace(tokens_per_s=100)
    fake_claude.enqueue(reply(text=LONG_ANSWER))
    stop = StopSignal()
    shown, events = "", []
    for event in services.answers.answer(THREAD, "Tell me everything", stop=stop):
        events.append(event)
        if isinstance(event, TextDelta) and not stop.is_set():
            if len(shown) < 40:
                shown += event.text
            else:
                # The front could not deliver this piece: the person had pressed Stop.
                stop.stop(unshown=len(event.text))

    done = events[-1]
    assert isinstance(done, TurnComplete) and done.stop_reason == "stopped"
    assert done.text == shown
    assert not [e for e in events[events.index(done) :] if isinstance(e, TextDelta)]
    exported = services.storage.conversations.export(THREAD)
    assert [t["status"] for t in exported["turns"]] == ["stopped"]
    assert exported["messages"][-1]["content"] == [{"type": "text", "text": shown}]

    # The fake saw the client hang up long before the answer's end: no more tokens billed.
    timing = fake_claude.requests[0].timing
    assert wait_until(lambda: timing.client_gone is not None), "the stream was never closed"
    assert timing.finished is None
    assert timing.events_written < len(LONG_ANSWER.split()) // 2

    # The thread carries on: the next request holds the shown text as Claude's answer.
    fake_claude.pace = Pace()
    fake_claude.enqueue(reply(text="Sure, in short: it shipped."))
    assert isinstance(list(services.answers.answer(THREAD, "In short?"))[-1], TurnComplete)
    sent = fake_claude.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][0]["text"] == shown


def test_a_stop_during_a_lookup_keeps_its_result_and_asks_claude_nothing(services, fake_claude):
    stop = StopSignal()
    events = []
    # The pasted id is looked up before Claude is asked; the person stops while it runs.
    for event in services.answers.answer(THREAD, "Where is ORD-1001?", stop=stop):
        events.append(event)
        if isinstance(event, ToolStarted):
            stop.stop()
    assert isinstance(events[-1], TurnComplete) and events[-1].stop_reason == "stopped"
    assert fake_claude.requests == [], "no model call after the stop"
    stored = services.storage.conversations.history(THREAD)
    assert [m["role"] for m in stored] == ["user", "assistant", "user"]
    assert stored[1]["content"][0]["type"] == "tool_use"
    assert stored[2]["content"][0]["type"] == "tool_result", "no tool_use left unanswered"

    # The next question makes a valid request (the fake validates tool_use/tool_result pairs).
    fake_claude.enqueue(reply(text="It shipped yesterday."))
    done = list(services.answers.answer(THREAD, "Any news?"))[-1]
    assert isinstance(done, TurnComplete) and done.stop_reason == "end_turn"
