"""Tool calls as task steps in Slack's native streams; the post-and-update path keeps its status."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.events import ToolStarted
from bot.slack.native_stream import _status_line
from bot.tools import ToolRegistry, get_order_tool
from bot.tools.policies import search_policies_tool
from fakes.claude import reply, tool_call
from fakes.slack import FakeSlack
from tests.slack.conftest import TEAM, start_harness

TWO_ORDERS = "Where are my two latest orders?"  # no id in the text: Claude asks for the lookups


def stream_chunks(harness, mention) -> list[dict]:
    """Every chunk the one streamed reply received, in order."""
    [message] = harness.replies(mention)
    return message.chunks


def shown_tasks(harness, mention) -> list[dict]:
    [message] = harness.replies(mention)
    return message.tasks


def lookups(*order_ids: str) -> list:
    return [tool_call("get_order", {"order_id": order_id}) for order_id in order_ids]


def test_parallel_lookups_show_as_two_steps_between_the_texts(harness):
    harness.claude.enqueue(
        reply(text="Let me check both.", tool_calls=lookups("ORD-1001", "ORD-1002")),
        reply(text="ORD-1001 has shipped; ORD-1002 is still being packed."),
    )
    mention = harness.mention(TWO_ORDERS)
    harness.wait_answered(mention)

    tasks = shown_tasks(harness, mention)
    # Each finished step reads as what it found (SHOPMATE_FACTS_FIRST).
    assert [(t["title"], t["status"], t.get("output")) for t in tasks] == [
        ("ORD-1001 · shipped · Royal Mail RM493827651GB · due 2 Apr", "complete", None),
        ("ORD-1002 · processing · due 4 Apr", "complete", None),
    ]
    assert tasks[0]["id"] != tasks[1]["id"], "parallel calls are parallel tasks"
    # In order: the first text, both steps started, both done, then the answer's text.
    text, steps = "", []
    for chunk in stream_chunks(harness, mention):
        if chunk["type"] == "markdown_text":
            text += chunk["text"]
        else:
            steps.append((text, chunk["status"]))
    first = "Let me check both."
    assert steps == [(first, "in_progress")] * 2 + [(first, "complete")] * 2
    [message] = harness.replies(mention)
    answer = "ORD-1001 has shipped; ORD-1002 is still being packed."
    assert text == message.text == f"{first}\n\n{answer}"
    # Both steps started in one call: parallel calls cost no call each.
    [starting_call] = [
        c
        for c in harness.slack.calls_to("chat.appendStream")
        if any(ch.get("status") == "in_progress" for ch in c.args.get("chunks") or [])
    ]
    assert len([ch for ch in starting_call.args["chunks"] if ch["type"] == "task_update"]) == 2
    assert not any("looking up" in s.status for s in harness.slack.statuses), (
        "the steps replace the status line in a stream"
    )


def test_a_failed_lookup_shows_as_an_error_step_with_its_reason(harness):
    harness.claude.enqueue(
        reply(tool_calls=lookups("ORD-9999")),
        reply(text="I can't find ORD-9999; could you check the number?"),
    )
    mention = harness.mention("Can you look up my order?")
    harness.wait_answered(mention)
    [task] = shown_tasks(harness, mention)
    assert (task["title"], task["status"], task["output"]) == (
        "Looking up ORD-9999",
        "error",
        "not found",
    )
    assert "could you check the number" in harness.reply_text(mention)


def test_a_pasted_order_id_is_a_step_above_the_first_words(services, fake_slack, fake_claude):
    # Without facts first: looked up before Claude is asked, the status line says so
    # meanwhile (no stream is started before there are words), and the stream opens with
    # the step above the text.
    off = replace(services, settings=replace(services.settings, facts_first=False))
    harness = start_harness(off, fake_slack, fake_claude)
    try:
        mention = harness.mention("Hi, where is my order ORD-1001?")
        harness.wait_answered(mention)
        assert "is looking up ORD-1001…" in [s.status for s in harness.slack.statuses]
        [start] = harness.slack.calls_to("chat.startStream")
        first, *rest = start.args["chunks"]
        assert (first["type"], first["title"], first["status"]) == (
            "task_update",
            "Looking up ORD-1001",
            "complete",
        )
        assert rest and all(c["type"] == "markdown_text" for c in rest)
        [task] = shown_tasks(harness, mention)
        assert task["status"] == "complete"
        assert "RM493827651GB" in harness.reply_text(mention)
    finally:
        harness.server.stop()


def test_a_pasted_order_id_opens_the_stream_with_what_was_found(harness):
    # Facts first: once the lookup is back, the stream opens with the finished step alone,
    # the fact in its title; Claude's words follow in the same message.
    mention = harness.mention("Hi, where is my order ORD-1001?")
    harness.wait_answered(mention)
    [start] = harness.slack.calls_to("chat.startStream")
    assert [(c["type"], c["title"], c["status"]) for c in start.args["chunks"]] == [
        ("task_update", "ORD-1001 · shipped · Royal Mail RM493827651GB · due 2 Apr", "complete")
    ]
    [task] = shown_tasks(harness, mention)
    assert task["status"] == "complete"
    assert "RM493827651GB" in harness.reply_text(mention)


@pytest.fixture
def no_streaming_slack():
    with FakeSlack(team_id=TEAM, streaming_supported=False) as slack:
        yield slack


def test_the_post_and_update_fallback_keeps_the_status_line_and_sends_no_chunks(
    services, no_streaming_slack, fake_claude
):
    h = start_harness(services, no_streaming_slack, fake_claude)
    try:
        fake_claude.enqueue(
            reply(text="Let me check.", tool_calls=lookups("ORD-1001")),
            reply(text="It has shipped."),
        )
        mention = h.mention(TWO_ORDERS)
        h.wait_answered(mention)
        # Streaming was tried and refused: nothing was shown as chunks.
        assert not [c for c in no_streaming_slack.calls if c.ok and "chunks" in c.args]
        assert not [m.chunks for m in h.replies(mention) if m.chunks]
        statuses = [s.status for s in no_streaming_slack.statuses]
        assert "is looking up ORD-1001…" in statuses
        assert h.reply_text(mention) == "Let me check.\n\nIt has shipped."
    finally:
        h.server.stop()


def test_task_steps_can_be_turned_off(services, fake_slack, fake_claude):
    off = replace(services, settings=replace(services.settings, slack_task_steps=False))
    h = start_harness(off, fake_slack, fake_claude)
    try:
        mention = h.mention("Hi, where is my order ORD-1001?")
        h.wait_answered(mention)
        assert fake_slack.calls_to("chat.startStream"), "still a native stream"
        assert not [c for c in fake_slack.calls if "chunks" in c.args]
        assert "is looking up ORD-1001…" in [s.status for s in fake_slack.statuses]
        assert "RM493827651GB" in h.reply_text(mention)
    finally:
        h.server.stop()


@pytest.mark.parametrize(
    ("name", "tool_input", "status"),
    [
        ("get_order", {"order_id": "ORD-1001"}, "is looking up ORD-1001…"),
        ("search_policies", {"query": "worn tee"}, "is searching the policies for worn tee…"),
        ("a_tool_with_no_step", {"text": "a customer's whole message"}, "is checking…"),
    ],
)
def test_the_status_line_says_what_a_tool_does_never_its_raw_input(name, tool_input, status):
    """Where there are no steps (the post-and-update fallback), the status line names the
    work in words, from the tool's step title; a tool without one never echoes its input."""
    registry = ToolRegistry([get_order_tool(None), search_policies_tool(None)])
    event = ToolStarted("toolu_1", name, tool_input, title=registry.step_title(name, tool_input))
    assert _status_line(event) == status
