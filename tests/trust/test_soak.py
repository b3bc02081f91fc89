"""Soak: 200 conversations through Claude and Slack faults and a process restart mid-way.

Every user message must end with exactly one complete answer or one failure notice, and
every stored history must still be a valid request.
"""

from __future__ import annotations

import contextlib
import itertools
import urllib.error
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot import prompts
from bot.simulators.claude import FakeClaude, Pace, cut_stream, http_error, stream_error
from bot.simulators.slack import FakeSlack
from bot.simulators.slack_events import mention_event
from bot.slack.server import start_up
from tests.slack.conftest import TEAM, Harness, wait_until
from tests.trust.conftest import (
    all_history_problems,
    open_services,
    slack_client,
    start_app,
    thread_key,
    trust_settings,
)

QUESTIONS = (
    "Where is ORD-1001?",
    "What's the status of ORD-1002 please",
    "ORD-1003?",
    "Where is ORD-9999?",
    "Hi there!",
    "Can I change ORD-1001 to a Large?",
)
FAILURE_NOTICES = (prompts.FAILURE_NOTICE, prompts.INTERRUPTED_NOTICE)
ENV = {
    "SHOPMATE_USER_TURNS_PER_MINUTE": "10000",
    "SHOPMATE_TEAM_TURNS_PER_MINUTE": "10000",
}
_channels = itertools.count(1000)


def conversations(n: int) -> list[dict[str, Any]]:
    """Mentions opening their own threads, each in a channel of its own (Slack's 1 post/s)."""
    return [
        mention_event(
            team=TEAM, channel=f"C{next(_channels)}", user=f"U{i % 7}", text=QUESTIONS[i % 6]
        )
        for i in range(n)
    ]


def inject_faults(claude: FakeClaude, slack: FakeSlack) -> None:
    """Queue one of each fault; whichever requests come next take them."""
    claude.enqueue(
        http_error(429, "rate_limit_error", "Slow down", retry_after=0.01),
        http_error(529, "overloaded_error", "Overloaded"),
        stream_error(after_text="Let me check that for "),  # mid-answer: a failure notice
        cut_stream(),  # cut before any text: retried
        http_error(500, "api_error", "Internal"),
    )
    slack.fail_next("chat.appendStream", retry_after=1)
    slack.fail_next("chat.startStream", retry_after=1)
    slack.fail_next("chat.postMessage", retry_after=1)
    slack.fail_next("chat.stopStream", error="internal_error")


def run_batches(app: Harness, payloads: list[dict], claude: FakeClaude, slack: FakeSlack):
    """Deliver in batches of 20, faults before each batch but the last; wait for the answers."""
    batches = [payloads[i : i + 20] for i in range(0, len(payloads), 20)]
    for number, batch in enumerate(batches):
        if number < len(batches) - 1:
            inject_faults(claude, slack)
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(app.deliver, batch)) == {200}
        for payload in batch:
            app.wait_answered(payload, timeout=60)
    # Slack re-sends a few deliveries it thinks were lost: nothing is answered twice.
    for payload in payloads[::9]:
        assert app.deliver(payload, retry_num=1, retry_reason="http_timeout") == 200


def event_key(payload: dict) -> str:
    return f"slack:{TEAM}:{payload['event']['channel']}:{payload['event']['ts']}"


def visible(payload: dict, fakes: list[FakeSlack]) -> str:
    event = payload["event"]
    return "".join(m.text for fake in fakes for m in fake.messages(event["channel"], event["ts"]))


def outcome(payload: dict, services, fakes: list[FakeSlack]) -> str:
    """ "answer", "failure" or "restarted"; fails the test if it is none, or more than one."""
    shown = visible(payload, fakes)
    exported = services.storage.conversations.export(thread_key(payload))
    assert exported is not None, f"{event_key(payload)}: never stored"
    turns = exported["turns"]
    notices = sum(shown.count(n) for n in (*FAILURE_NOTICES, prompts.RESTARTED_NOTICE))
    if not turns:
        assert shown == prompts.RESTARTED_NOTICE, f"{event_key(payload)}: {shown!r}"
        return "restarted"
    assert len(turns) == 1, f"{event_key(payload)}: answered {len(turns)} times"
    if turns[0]["status"] == "failed":
        assert notices == 1, f"{event_key(payload)}: {shown!r}"
        assert shown.rstrip().endswith(FAILURE_NOTICES), f"{event_key(payload)}: {shown!r}"
        return "failure"
    assert notices == 0, f"{event_key(payload)}: {shown!r}"
    said = [
        block["text"]
        for message in exported["messages"]
        if message["role"] == "assistant"
        for block in message["content"]
        if block.get("type") == "text"
    ]
    assert said and shown.split() == "\n\n".join(said).split(), f"{event_key(payload)}"
    return "answer"


@pytest.mark.soak
@pytest.mark.timeout(120)
def test_two_hundred_conversations_through_faults_and_a_restart(tmp_path: Path, fake_claude):
    db_path = tmp_path / "soak.db"
    with contextlib.ExitStack() as stack:
        old_claude = stack.enter_context(FakeClaude())
        old_slack = stack.enter_context(FakeSlack(team_id=TEAM))
        new_slack = stack.enter_context(FakeSlack(team_id=TEAM))
        fakes = [old_slack, new_slack]

        # --- the first process: 100 conversations through faults --------------------------
        old_services = open_services(trust_settings(db_path, old_claude.url, ENV))
        stack.callback(old_services.close)
        old = start_app(old_services, old_slack, old_claude)
        stack.callback(old.server.stop)
        first = conversations(100)
        run_batches(old, first, old_claude, old_slack)
        assert old_claude.queued == 0, "every injected Claude fault was met"

        # --- 15 messages in flight (waiting on Claude) when the process dies ----------------
        old_claude.pace = Pace(first_token_s=120)
        before = len(old_claude.requests)
        in_flight = conversations(15)
        for payload in in_flight:
            assert old.deliver(payload) == 200
        assert old_claude.wait_for_requests(before + len(in_flight), timeout=30)
        # The crash: from here the old process changes nothing anywhere.
        old.server.stop()
        old_slack.stop()
        old_services.close()
        old_claude.stop()

        # --- Slack's deliveries while no process is up fail, and are re-sent later --------
        during_outage = conversations(10)
        for payload in during_outage:
            with pytest.raises(urllib.error.URLError):
                old.deliver(payload)

        # --- the new process on the same database --------------------------------------------
        new_services = open_services(trust_settings(db_path, fake_claude.url, ENV))
        stack.callback(new_services.close)
        new = start_app(new_services, new_slack, fake_claude)
        stack.callback(new.server.stop)
        start_up(new_services, new.responder, slack_client(new_services, new_slack)).stop()
        # Slack re-sends what it thinks was lost: some in-flight messages (too late: start-up
        # already told their senders) and everything sent during the outage.
        for payload in [*in_flight[::2], *during_outage]:
            assert new.deliver(payload, retry_num=1, retry_reason="http_timeout") == 200
        for payload in during_outage:
            new.wait_answered(payload, timeout=60)
        last = conversations(75)
        run_batches(new, last, fake_claude, new_slack)
        assert wait_until(lambda: new.responder.serializer.busy() == 0, timeout=30)

        # --- every message: exactly one answer or one notice; every history valid -----------
        everything = [*first, *in_flight, *during_outage, *last]
        assert len(everything) == 200
        storage = new_services.storage
        assert storage.events.unfinished(exclude_owner="") == []
        results = {event_key(p): outcome(p, new_services, fakes) for p in everything}
        counts = Counter(results.values())
        assert {results[event_key(p)] for p in in_flight} == {"restarted"}
        assert {results[event_key(p)] for p in during_outage} <= {"answer", "failure"}
        assert counts["answer"] >= 150 and counts["failure"] >= 1, counts
        assert all_history_problems(new_services) == {}
