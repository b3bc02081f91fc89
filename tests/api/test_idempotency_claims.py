"""An Idempotency-Key is a claim like a Slack event: leased once, replayed once answered."""

from __future__ import annotations

from bot.api.turns import ApiTurn, Begun, Busy, Ended, TurnRunner, api_message
from bot.drain import Drain
from bot.events import Started, TurnComplete
from fakes.claude import Pace, reply
from tests.api.conftest import WAIT, wait_until


def begin(runner: TurnRunner, fingerprint: str = "f1", thread: str = "api:k:1") -> Begun:
    return runner.begin("k", "idem", fingerprint=fingerprint, thread_key=thread)


def test_a_request_is_claimed_once_refused_while_it_runs_then_replayed(services):
    first, second = TurnRunner(services, owner="p1"), TurnRunner(services, owner="p2")
    try:
        assert begin(first) == Begun("new", "api:k:1")
        claim = services.storage.claims.get("api-request:k:idem")
        assert claim is not None and claim.owner == "p1", "leased in the claims, like any message"
        assert "api-request:k:idem" in first.lifecycle.leases.held(), "renewed while it runs"
        assert begin(second).state == "running"
        assert begin(first).state == "running", "a retry to the same process too"

        services.storage.api_requests.finish("k", "idem", owner="p1", response={"reply": "hi"})
        first.lifecycle.finish(api_message("k", "api:k:1", "", idempotency_key="idem"))
        assert first.lifecycle.leases.held() == []
        assert begin(second, thread="api:k:2") == Begun("replay", "api:k:1", {"reply": "hi"})
        assert begin(second, fingerprint="other").state == "mismatch"
    finally:
        first.shutdown()
        second.shutdown()


def test_a_second_message_to_a_busy_conversation_is_refused_and_its_key_forgotten(
    services, fake_claude
):
    runner = TurnRunner(services, owner="p1")
    first: list = []
    second: list = []
    fake_claude.pace = Pace(tokens_per_s=40)
    fake_claude.enqueue(reply(" ".join(["slow"] * 80)))
    try:
        runner.submit(ApiTurn("k", "c1", "api:k:c1", "slow, please"), first.append)
        assert wait_until(lambda: any(isinstance(item, Started) for item in first))
        assert begin(runner, thread="api:k:c1") == Begun("new", "api:k:c1")
        turn = ApiTurn("k", "c1", "api:k:c1", "and quick?", idempotency_key="idem")
        runner.submit(turn, second.append).result(timeout=WAIT)

        assert second == [Busy(), Ended()], "the conversation is answering: 409, as before"
        assert services.storage.claims.get("api-request:k:idem") is None, "a retry may run it"
        assert wait_until(lambda: bool(first) and isinstance(first[-1], Ended))
        assert any(isinstance(item, TurnComplete) for item in first)
    finally:
        fake_claude.pace = Pace()
        runner.shutdown()


def test_an_api_turn_is_work_in_flight_of_the_process_drain(services, fake_claude):
    """The drain is the process's (bot/process.py): SIGTERM waits for API turns as for Slack's."""
    drain = Drain()
    runner = TurnRunner(services, owner="p1", drain=drain)
    items: list = []
    fake_claude.pace = Pace(tokens_per_s=40)
    fake_claude.enqueue(reply(" ".join(["slow"] * 40)))
    try:
        done = runner.submit(ApiTurn("k", "c1", "api:k:c1", "slow, please"), items.append)
        assert wait_until(lambda: any(isinstance(item, Started) for item in items))
        assert drain.busy() == 1, "the running turn counts in the process's drain"
        assert drain.wait_idle(WAIT), "and leaves it once answered and stored"
        assert done.done() and any(isinstance(item, TurnComplete) for item in items)
    finally:
        fake_claude.pace = Pace()
        runner.shutdown()
