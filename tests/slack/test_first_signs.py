"""Everyone in a rush sees a first sign (a status line or an :eyes: reaction) before any answer.

The first sign waits its turn in a line of its own (bot/slack/signs.py) for whichever of two
calls Slack limits separately frees first, ahead of progress updates, never behind posts. The
fake Slack here is the strict one (token buckets that never reset, a compressed minute), and
the fake Claude is held until every asker has seen a sign: what is asserted is an order of
events and a count of 429s, never a duration.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from bot.slack.budget import CallBudget, Limit
from bot.wiring import Services
from fakes.claude import FakeClaude
from fakes.claude.responses import Response
from fakes.slack import FakeSlack
from tests.slack.conftest import CHANNEL, TEAM, Harness, start_harness, wait_until
from tests.slack.test_slack_limits import (
    MINUTE_S,
    assert_whole_and_once,
    deliver_at_once,
    mentions,
)

RUSH = 50


class HeldModel:
    """The fake Claude's model, answering nothing until `release` is set."""

    def __init__(self, model: Any, release: threading.Event) -> None:
        self.model = model
        self.release = release

    def respond(self, request: dict[str, Any]) -> Response:
        self.release.wait(120)  # bounded: a test that forgets to release still ends
        return self.model.respond(request)


@pytest.fixture
def strict(services: Services, fake_claude: FakeClaude) -> Iterator[Harness]:
    with FakeSlack(team_id=TEAM, window_s=MINUTE_S) as slack:
        h = start_harness(services, slack, fake_claude, CallBudget(minute_s=MINUTE_S))
        yield h
        h.server.stop()


def sign_time(h: Harness, payload: dict) -> float | None:
    event = payload["event"]
    return h.slack.first_sign_time(event["channel"], event["ts"], event["ts"])


def test_every_person_in_a_fifty_person_rush_in_one_channel_sees_a_sign_first(strict):
    release = threading.Event()
    strict.claude.model = HeldModel(strict.claude.model, release)
    payloads = mentions(RUSH, [CHANNEL])
    try:
        deliver_at_once(strict, payloads)
        everyone = wait_until(lambda: all(sign_time(strict, p) for p in payloads), timeout=90)
        missing = [p["event"]["user"] for p in payloads if sign_time(strict, p) is None]
        assert everyone, f"no first sign for {len(missing)} of {RUSH}: {missing}"
        assert not any(r.timing.first_text for r in strict.claude.requests), "Claude was held"
    finally:
        release.set()
    for payload in payloads:
        strict.wait_answered(payload, timeout=120)
    for payload in payloads:
        assert_whole_and_once(strict, payload)
    assert strict.slack.count_429 == 0
    # Both tiers carried signs: a status line alone could not have kept up.
    reactions = [r for r in strict.slack.reaction_log if r.added]
    statuses = [s for s in strict.slack.statuses if s.status == "is thinking…"]
    assert reactions and statuses


def test_a_reaction_stands_in_where_the_status_is_refused_and_goes_when_the_answer_lands(
    harness: Harness,
):
    harness.slack.fail_next("assistant.threads.setStatus", error="missing_scope")
    release = threading.Event()
    harness.claude.model = HeldModel(harness.claude.model, release)
    try:
        mention = harness.mention("Can you help me?")
        ts = mention["event"]["ts"]
        assert wait_until(lambda: harness.slack.reactions_on(CHANNEL, ts) == {"eyes"})
    finally:
        release.set()
    harness.wait_answered(mention)
    assert wait_until(lambda: harness.slack.reactions_on(CHANNEL, ts) == set())
    added, removed = harness.slack.reaction_log
    assert (added.ts, added.name, added.added) == (ts, "eyes", True)
    assert (removed.ts, removed.name, removed.added) == (ts, "eyes", False)
    [message] = harness.replies(mention)
    [stop] = harness.slack.calls_to("chat.stopStream")
    assert added.time < message.created < stop.time <= removed.time


def test_one_person_at_a_time_gets_the_status_line_and_no_reaction(harness: Harness):
    release = threading.Event()
    harness.claude.model = HeldModel(harness.claude.model, release)
    try:
        mention = harness.mention("Can you help me?")
        channel, ts = mention["event"]["channel"], mention["event"]["ts"]
        assert wait_until(lambda: harness.slack.current_status(channel, ts) == "is thinking…")
    finally:
        release.set()
    harness.wait_answered(mention)
    harness.settle()
    [sign] = [s for s in harness.slack.statuses if s.status]
    assert sign.status == "is thinking…"
    [message] = harness.replies(mention)
    assert sign.time < message.created
    assert harness.slack.reaction_log == []


def test_with_first_sign_status_a_rush_leaves_people_without_a_sign(
    services: Services, fake_claude: FakeClaude
):
    # Today's behaviour, kept behind SHOPMATE_FIRST_SIGN=status: a status only when a slot
    # is free at that moment. The baseline the line of signs is measured against.
    off = replace(services, settings=replace(services.settings, first_sign="status"))
    release = threading.Event()
    fake_claude.model = HeldModel(fake_claude.model, release)
    with FakeSlack(team_id=TEAM, window_s=MINUTE_S) as slack:
        h = start_harness(off, slack, fake_claude, CallBudget(minute_s=MINUTE_S))
        try:
            payloads = mentions(15, [CHANNEL])
            deliver_at_once(h, payloads)
            assert wait_until(lambda: len(fake_claude.requests) >= 15, timeout=30)
            unsigned = [p for p in payloads if sign_time(h, p) is None]
            assert unsigned, "some askers saw nothing while Claude thought"
            assert h.slack.reaction_log == []
        finally:
            release.set()
            for payload in payloads:
                h.wait_answered(payload, timeout=120)
            h.server.stop()


def test_acquire_any_takes_whichever_method_has_a_slot():
    budget = CallBudget({"a": Limit(1, burst=1), "b": Limit(1, burst=1)}, minute_s=60.0)
    assert budget.acquire_any(TEAM, ["a", "b"], timeout=1.0) == "a"
    assert budget.acquire_any(TEAM, ["a", "b"], timeout=1.0) == "b"
    assert budget.acquire_any(TEAM, ["a", "b"], timeout=0.05) is None
    assert budget.acquire_any(TEAM, ["unlimited", "a"], timeout=0.05) == "unlimited"


def test_a_waiting_first_sign_goes_ahead_of_progress_status_lines():
    budget = CallBudget({"s": Limit(1, burst=1)}, minute_s=60.0)
    assert budget.try_acquire(TEAM, "s")
    taken: list[str | None] = []
    waiter = threading.Thread(
        target=lambda: taken.append(budget.acquire_any(TEAM, ["s"], timeout=0.3))
    )
    waiter.start()
    assert wait_until(lambda: budget.finals_waiting(TEAM, "s") == 1, timeout=5)
    assert not budget.try_acquire(TEAM, "s", optional=True, owner="progress")
    waiter.join(5)


def test_a_sign_refused_for_the_workspace_is_not_tried_there_again(harness: Harness):
    # An app installed before reactions:write was asked for, in a workspace without the
    # status line: each kind of sign is tried once, then the answer alone is the sign.
    harness.slack.fail_next("assistant.threads.setStatus", error="missing_scope")
    harness.slack.fail_next("reactions.add", error="missing_scope")
    release = threading.Event()
    harness.claude.model = HeldModel(harness.claude.model, release)
    try:
        first = harness.mention("Can you help me?")
        assert wait_until(lambda: len(harness.slack.calls_to("reactions.add")) == 1)
        second = harness.mention("Can you help me too?")
        assert wait_until(lambda: len(harness.claude.requests) == 2)
    finally:
        release.set()
    harness.wait_answered(first)
    harness.wait_answered(second)
    harness.settle()
    assert len(harness.slack.calls_to("reactions.add")) == 1
    assert [c.args["status"] for c in harness.slack.calls_to("assistant.threads.setStatus")] == [
        "is thinking…"
    ]
