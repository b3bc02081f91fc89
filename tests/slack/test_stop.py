"""The person presses Stop on a streamed answer: Claude stops, the shown part is kept, no error."""

from __future__ import annotations

from fakes.claude import Pace, reply
from tests.slack.conftest import CHANNEL, TEAM, wait_until

# Still being written long after the stop at this pace (about 8 s in all).
LONG_ANSWER = " ".join(f"word{i}" for i in range(800))


def test_stop_ends_claudes_stream_keeps_the_shown_answer_and_the_thread_carries_on(harness):
    harness.claude.pace = Pace(tokens_per_s=100)
    harness.claude.enqueue(reply(text=LONG_ANSWER))
    mention = harness.mention("Tell me all about your returns policy")
    thread_ts = mention["event"]["ts"]
    assert wait_until(lambda: any(m.text for m in harness.replies(mention))), "no stream"
    [streamed] = harness.replies(mention)
    harness.slack.stop_stream_by_user(CHANNEL, streamed.ts)
    harness.wait_answered(mention)

    # Claude's stream was closed early: the fake saw the client go, far before the end.
    timing = harness.claude.requests[0].timing
    assert wait_until(lambda: timing.client_gone is not None), "Claude's stream was not closed"
    assert timing.finished is None
    assert timing.events_written < len(LONG_ANSWER.split()) // 2

    # What the person saw is the stored answer, marked stopped; no notice was posted.
    [message] = harness.replies(mention)
    assert message.stopped_by_user
    shown = message.text
    assert shown and LONG_ANSWER.startswith(shown)
    key = f"slack:{TEAM}:{CHANNEL}:{thread_ts}"
    exported = harness.services.storage.conversations.export(key)
    assert [t["status"] for t in exported["turns"]] == ["stopped"]
    last = exported["messages"][-1]
    assert (last["role"], last["content"]) == ("assistant", [{"type": "text", "text": shown}])

    # The next question in the thread is answered normally, on a valid history.
    harness.claude.pace = Pace()
    harness.claude.enqueue(reply(text="In short: 30 days, free returns."))
    follow_up = harness.say_in_thread("And in short?", thread_ts)
    harness.wait_answered(follow_up)
    replies = harness.replies(mention)
    assert [m.text for m in replies] == [shown, "In short: 30 days, free returns."], (
        "no error notice after the stop, and the next answer in its own message"
    )
    sent = harness.claude.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][0]["text"] == shown
