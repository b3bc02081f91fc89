"""An Idempotency-Key is a claim like a Slack event: leased once, replayed once answered."""

from __future__ import annotations

from bot.api.turns import Begun, TurnRunner, api_message


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
