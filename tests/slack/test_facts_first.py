"""What a lookup found is visible before Claude's first word: a finished step, or the status line.

Claude here is slow on purpose (a second before its first token): the order of events is read
from the fakes' own records (the fake Slack's call log, the fake Claude's first text write),
never from a stopwatch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.wiring import Services
from fakes.claude import FakeClaude, Pace
from fakes.slack import Call, FakeSlack
from tests.slack.conftest import TEAM, start_harness

FACT = "ORD-1001 · shipped · Royal Mail RM493827651GB · due 2 Apr"
QUESTION = "Hi, where is my order ORD-1001?"
SLOW = Pace(first_token_s=1.0, tokens_per_s=200.0)


@pytest.fixture
def slow_claude(fake_claude: FakeClaude) -> FakeClaude:
    fake_claude.pace = SLOW
    return fake_claude


def first_call_showing(slack: FakeSlack, text: str) -> Call:
    """The first call that Slack took and that carries `text` (a step, a status, a post)."""
    return next(c for c in slack.calls if c.ok and text in json.dumps(c.args, ensure_ascii=False))


def claudes_first_token(claude: FakeClaude) -> float:
    [request] = [r for r in claude.requests if r.path == "/v1/messages"]
    assert request.timing.first_text is not None, "Claude wrote text"
    return request.timing.first_text


def test_the_fact_opens_the_stream_before_claudes_first_token(
    services: Services, fake_slack: FakeSlack, slow_claude: FakeClaude
):
    h = start_harness(services, fake_slack, slow_claude)
    try:
        mention = h.mention(QUESTION)
        h.wait_answered(mention)
        shown = first_call_showing(fake_slack, FACT)
        assert shown.method == "chat.startStream"
        assert [(c["title"], c["status"]) for c in shown.args["chunks"]] == [(FACT, "complete")]
        assert shown.time < claudes_first_token(slow_claude), "the fact came before Claude"
        # Claude's words follow in the same message, below the step.
        [message] = h.replies(mention)
        assert "RM493827651GB" in message.text
        assert len(fake_slack.calls_to("chat.startStream")) == 1, "no second stream for the text"
    finally:
        h.server.stop()


def test_two_pasted_ids_show_both_facts_in_one_call(
    services: Services, fake_slack: FakeSlack, slow_claude: FakeClaude
):
    h = start_harness(services, fake_slack, slow_claude)
    try:
        mention = h.mention("Where are ORD-1001 and ORD-1002?")
        h.wait_answered(mention)
        shown = first_call_showing(fake_slack, FACT)
        assert [c["title"] for c in shown.args["chunks"]] == [
            FACT,
            "ORD-1002 · processing · due 4 Apr",
        ]
        assert shown.time < claudes_first_token(slow_claude)
    finally:
        h.server.stop()


@pytest.fixture
def no_streaming_slack() -> Iterator[FakeSlack]:
    with FakeSlack(team_id=TEAM, streaming_supported=False) as slack:
        yield slack


def test_without_streaming_the_status_line_carries_the_fact_first(
    services: Services, no_streaming_slack: FakeSlack, slow_claude: FakeClaude
):
    h = start_harness(services, no_streaming_slack, slow_claude)
    try:
        mention = h.mention(QUESTION)
        h.wait_answered(mention)
        shown = first_call_showing(no_streaming_slack, FACT)
        assert shown.method == "assistant.threads.setStatus"
        assert shown.args["status"] == f"found {FACT}"
        assert shown.time < claudes_first_token(slow_claude)
        assert "RM493827651GB" in h.reply_text(mention)
        ts = mention["event"]["ts"]
        assert no_streaming_slack.current_status(mention["event"]["channel"], ts) == ""
    finally:
        h.server.stop()


def test_a_lookup_that_finds_nothing_shows_no_fact(
    services: Services, fake_slack: FakeSlack, slow_claude: FakeClaude
):
    h = start_harness(services, fake_slack, slow_claude)
    try:
        mention = h.mention("Hi, where is my order ORD-9999?")
        h.wait_answered(mention)
        assert not any("found" in s.status for s in fake_slack.statuses)
        [message] = h.replies(mention)
        [task] = message.tasks
        assert (task["title"], task["status"], task["output"]) == (
            "Looking up ORD-9999",
            "error",
            "not found",
        )
    finally:
        h.server.stop()


def test_with_facts_first_off_nothing_shows_the_fact_before_claude(
    services: Services, fake_slack: FakeSlack, slow_claude: FakeClaude
):
    off = replace(services, settings=replace(services.settings, facts_first=False))
    h = start_harness(off, fake_slack, slow_claude)
    try:
        mention = h.mention(QUESTION)
        h.wait_answered(mention)
        shown = first_call_showing(fake_slack, "RM493827651GB")
        assert shown.time > claudes_first_token(slow_claude), "only Claude's words carry it"
    finally:
        h.server.stop()
