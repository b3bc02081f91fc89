"""Soak: 200 conversations through Claude and Slack faults and a process crash mid-way.

Every user message must end, as Slack shows it, with exactly one complete answer or one
failure notice (or, if a crash took it, one complete answer behind a note that it was
delayed), no message left streaming, and every stored history must still be a valid
request. Every injected fault must have fired, in
the process it was injected into, and the counts of each outcome are exactly what the
injected faults call for.

Faults are made to reach ShopMate's own handling, not only the SDKs' retries: Slack 429s come
once more than the WebClient's RateLimitErrorRetryHandler retries (if it has one), Claude's
overloads once more than the anthropic client's retries, and streams break where the engine
must decide. Claude faults are planned per conversation, so each outcome is known; stream
faults are met by "probe" conversations sent one at a time until a streamed reply meets
each (a reply streams only while Slack's Tier 2 allowance has room).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import re
import threading
import time
import urllib.error
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot import prompts
from bot.slack.server import start_up
from fakes.claude import FakeClaude, Pace, Response, cut_stream, http_error, stream_error
from fakes.slack import FakeSlack
from fakes.slack.events import mention_event
from tests.slack.conftest import TEAM, Harness
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
    # Slack's minute compressed twentyfold for the fake Slack and the bot's budget alike, so
    # the stream allowance (Tier 2) refills in seconds, as a minute of real traffic would.
    "SHOPMATE_SLACK_MINUTE_S": "3",
    # Short leases, so the new process takes over what the dead one left within a second.
    "SHOPMATE_CLAIM_LEASE": "1",
    "SHOPMATE_LEASE_RENEW": "0.2",
    "SHOPMATE_RECOVERY_INTERVAL": "0.2",
}
MINUTE_S = 3.0
PROBE_WAIT_S = 15.0  # Tier 2 allows several streams a (compressed) minute; this waits 5
CLAUDE_RETRIES = 2  # ANTHROPIC_MAX_RETRIES's default, which the soak's settings keep
_channels = itertools.count(1000)
_numbers = itertools.count(1)


@dataclass(frozen=True)
class ClaudeFault:
    """Responses for one conversation's first model requests, and what the user must end with."""

    name: str
    responses: tuple[Response, ...]
    outcome: str  # "answer" or "failure"


CLAUDE_FAULTS = (
    # Retried by the anthropic client: the user never notices.
    ClaudeFault("429 once", (http_error(429, "rate_limit_error", "Slow", 0.01),), "answer"),
    ClaudeFault("500 once", (http_error(500, "api_error", "Internal"),), "answer"),
    # More overloads than the client retries: ShopMate's own failure notice.
    ClaudeFault(
        "529 past the retries",
        (http_error(529, "overloaded_error", "Overloaded"),) * (CLAUDE_RETRIES + 1),
        "failure",
    ),
    # A stream cut before any text: the engine's own retry makes it invisible.
    ClaudeFault("cut before text", (cut_stream(),), "answer"),
    # Cut twice: the engine retries once only, then says the answer was interrupted.
    ClaudeFault("cut twice", (cut_stream(), cut_stream()), "failure"),
    # Broken after text was shown: no retry (the user saw it), an interrupted notice.
    ClaudeFault(
        "error mid-answer", (stream_error(after_text="Let me check that for "),), "failure"
    ),
)


class PlannedFaults:
    """The fake Claude's model, answering chosen conversations with faults first.

    A conversation is recognised by the "(#n)" its question ends with. Faults planned per
    conversation make each outcome certain, whichever order the requests arrive in.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.planned: dict[str, collections.deque[Response]] = {}
        self._lock = threading.Lock()

    def plan(self, payload: dict[str, Any], fault: ClaudeFault) -> None:
        with self._lock:
            self.planned[_number(payload)] = collections.deque(fault.responses)

    def respond(self, request: dict[str, Any]) -> Response:
        found = re.search(r"\(#(\d+)\)", json.dumps(request["messages"][0]))
        with self._lock:
            queue = self.planned.get(found.group(1)) if found else None
            if queue:
                return queue.popleft()
        return self.inner.respond(request)

    def unfired(self) -> dict[str, int]:
        with self._lock:
            return {number: len(queue) for number, queue in self.planned.items() if queue}


def _number(payload: dict[str, Any]) -> str:
    found = re.search(r"\(#(\d+)\)", payload["event"]["text"])
    assert found is not None
    return found.group(1)


def conversations(n: int, questions: tuple[str, ...] = QUESTIONS) -> list[dict[str, Any]]:
    """Mentions opening their own threads, each in a channel of its own (Slack's 1 post/s)."""
    return [
        mention_event(
            team=TEAM,
            channel=f"C{next(_channels)}",
            user=f"U{i % 7}",
            text=f"{questions[i % len(questions)]} (#{next(_numbers)})",
        )
        for i in range(n)
    ]


# Caught by the crash while Claude is held: no pasted order id, so nothing is shown before
# Claude's first word. (A found fact is shown at once and would stay in the old fake Slack,
# which stands for the same Slack the new process cannot reach here; a survivor retiring the
# fact a dead process showed, on one Slack, is tests/slack/test_processes.py's.)
IN_FLIGHT_QUESTIONS = ("Hi there!", "Can you help me with my order?", "Do you ship abroad?")


def sdk_rate_limit_retries(app: Harness) -> int:
    """How many 429s the WebClient ShopMate uses waits out by itself before giving up."""
    client = slack_client(app.services, app.slack)
    handlers = [h for h in client.retry_handlers if isinstance(h, RateLimitErrorRetryHandler)]
    return max((h.max_retry_count for h in handlers), default=0)


# Stream faults, one kind at a time: each is met only by a reply that streams, which the
# budget allows only while Slack's Tier 2 stream allowance has room.
STREAM_FAULTS = (
    ("chat.startStream", {"retry_after": 1}),
    ("chat.appendStream", {"retry_after": 1}),
    ("chat.stopStream", {"error": "internal_error"}),
)
PROBE_PACE = Pace(first_token_s=0.0, tokens_per_s=150)  # long enough for appends to happen


def inject(app: Harness, method: str, **fault: Any) -> None:
    """A Slack fault past the client's own retries: a 429 comes once more than it retries."""
    times = sdk_rate_limit_retries(app) + 1 if "retry_after" in fault else 1
    app.slack.fail_next(method, times=times, **fault)


def probe_stream_faults(app: Harness, claude: FakeClaude, probes: list[dict]) -> None:
    """Each stream fault, then single paced conversations until a reply has met it.

    Bounded: a product that stops streaming for good (or for longer than the wait) leaves a
    fault unmet, and the test fails saying which. The probes are ordinary conversations
    whose outcomes are checked with the rest.
    """
    paced, claude.pace = claude.pace, PROBE_PACE
    try:
        for method, fault in STREAM_FAULTS:
            inject(app, method, **fault)
            deadline = time.monotonic() + PROBE_WAIT_S
            while app.slack.pending_failures() and time.monotonic() < deadline:
                [payload] = conversations(1)
                probes.append(payload)
                assert app.deliver(payload) == 200
                app.wait_answered(payload, timeout=60)
            assert app.slack.pending_failures() == {}, f"{method} fault never met a stream"
    finally:
        claude.pace = paced


def run_batches(
    app: Harness,
    payloads: list[dict],
    claude: FakeClaude,
    model: PlannedFaults,
    expected: dict[str, str],
    probes: list[dict],
) -> None:
    """Batches of 20 at once. Before each but the last: six Claude faults planned for six of
    its conversations (recorded in `expected`) and a chat.postMessage 429 (the batch posts);
    before the first, the stream faults, met by probes."""
    batches = [payloads[i : i + 20] for i in range(0, len(payloads), 20)]
    for number, batch in enumerate(batches):
        if number == 0:
            probe_stream_faults(app, claude, probes)
        if number < len(batches) - 1:
            inject(app, "chat.postMessage", retry_after=1)
            for payload, fault in zip(batch[::3], CLAUDE_FAULTS, strict=False):
                model.plan(payload, fault)
                expected[event_key(payload)] = fault.outcome
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(app.deliver, batch)) == {200}
        for payload in batch:
            app.wait_answered(payload, timeout=60)
    # Slack re-sends a few deliveries it thinks were lost: nothing is answered twice.
    for payload in payloads[::9]:
        assert app.deliver(payload, retry_num=1, retry_reason="http_timeout") == 200


def event_key(payload: dict) -> str:
    return f"slack:{TEAM}:{payload['event']['channel']}:{payload['event']['ts']}"


def shown_messages(payload: dict, fakes: list[FakeSlack]) -> list:
    event = payload["event"]
    return [m for fake in fakes for m in fake.messages(event["channel"], event["ts"])]


def outcome(payload: dict, services, fakes: list[FakeSlack]) -> str:
    """ "answer", "failure", "recovered" or "restarted", as Slack shows it; fails if none fits.

    "recovered": a message the dead process left, answered in full by the new one behind
    the note that it was delayed.
    """
    key = event_key(payload)
    messages = shown_messages(payload, fakes)
    assert not [m.ts for m in messages if m.streaming], f"{key}: a message is left streaming"
    shown = "".join(m.text for m in messages)
    delayed = shown.startswith(prompts.DELAYED_NOTE)
    shown = shown.removeprefix(prompts.DELAYED_NOTE)
    exported = services.storage.conversations.export(thread_key(payload))
    assert exported is not None, f"{key}: never stored"
    turns = exported["turns"]
    notices = sum(shown.count(n) for n in (*FAILURE_NOTICES, prompts.RESTARTED_NOTICE))
    if not turns:
        assert shown == prompts.RESTARTED_NOTICE, f"{key}: {shown!r}"
        return "restarted"
    assert len(turns) == 1, f"{key}: answered {len(turns)} times"
    if turns[0]["status"] == "failed":
        assert notices == 1, f"{key}: {shown!r}"
        assert shown.rstrip().endswith(FAILURE_NOTICES), f"{key}: {shown!r}"
        return "failure"
    assert notices == 0, f"{key}: {shown!r}"
    said = [
        block["text"]
        for message in exported["messages"]
        if message["role"] == "assistant"
        for block in message["content"]
        if block.get("type") == "text"
    ]
    # The whole answer, once: any text shown twice or missing breaks the equality.
    assert said and shown.split() == "\n\n".join(said).split(), f"{key}: {shown!r}"
    return "recovered" if delayed else "answer"


@pytest.mark.soak
@pytest.mark.timeout(180)
def test_two_hundred_conversations_through_faults_and_a_restart(tmp_path: Path, fake_claude):
    db_path = tmp_path / "soak.db"
    expected: dict[str, str] = {}  # event key -> outcome its Claude fault calls for
    probes: list[dict] = []  # single conversations that met the stream faults
    with contextlib.ExitStack() as stack:
        old_claude = stack.enter_context(FakeClaude())
        old_slack = stack.enter_context(FakeSlack(team_id=TEAM, window_s=MINUTE_S))
        new_slack = stack.enter_context(FakeSlack(team_id=TEAM, window_s=MINUTE_S))
        fakes = [old_slack, new_slack]
        old_model = old_claude.model = PlannedFaults(old_claude.model)
        new_model = fake_claude.model = PlannedFaults(fake_claude.model)

        # --- the first process: 100 conversations through faults --------------------------
        old_services = open_services(trust_settings(db_path, old_claude.url, ENV))
        stack.callback(old_services.close)
        old = start_app(old_services, old_slack, old_claude)
        stack.callback(old.server.stop)
        first = conversations(100)
        run_batches(old, first, old_claude, old_model, expected, probes)
        old.settle()
        assert old_model.unfired() == {}, "every Claude fault met the first process"
        assert old_slack.pending_failures() == {}, "every Slack fault met the first process"

        # --- 15 messages in flight (waiting on Claude) when the process dies ----------------
        old_claude.pace = Pace(first_token_s=120)
        before = len(old_claude.requests)
        in_flight = conversations(15, IN_FLIGHT_QUESTIONS)
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
        stack.callback(new.responder.stop)
        # Slack re-sends what it thinks was lost: some in-flight messages (the new process
        # answers them from their stored text whichever way they reach it first) and
        # everything sent during the outage.
        for payload in [*in_flight[::2], *during_outage]:
            assert new.deliver(payload, retry_num=1, retry_reason="http_timeout") == 200
        for payload in [*in_flight, *during_outage]:
            new.wait_answered(payload, timeout=60)
        last = conversations(75)
        run_batches(new, last, fake_claude, new_model, expected, probes)
        new.settle()
        assert new_model.unfired() == {}, "every Claude fault met the second process"
        assert new_slack.pending_failures() == {}, "every Slack fault met the second process"

        # --- every message: exactly what its faults call for, as Slack shows it ------------
        everything = [*first, *in_flight, *during_outage, *last, *probes]
        assert len(everything) == 200 + len(probes)
        storage = new_services.storage
        assert storage.claims.unfinished(exclude_owner="") == []
        results = {event_key(p): outcome(p, new_services, fakes) for p in everything}
        for payload in in_flight:
            expected[event_key(payload)] = "recovered"
        wanted = {key: expected.get(key, "answer") for key in results}
        assert {k: v for k, v in results.items() if v != wanted[k]} == {}
        counts = Counter(results.values())
        # 7 batches with Claude faults (4 in the first process, 3 in the second), 3 of the 6
        # faults in each a failure by design; 15 messages caught by the crash, answered after
        # it from their stored text.
        failures = 7 * 3
        answers = len(everything) - failures - len(in_flight)
        assert counts == {"answer": answers, "failure": failures, "recovered": 15}, counts
        assert all_history_problems(new_services) == {}
        # The dead process's threads give up against servers that are gone; waiting for them
        # keeps their last log lines inside this test instead of after the session.
        assert old.pool.wait_idle(60), "the crashed process's listeners never gave up"
