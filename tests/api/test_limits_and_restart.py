"""Per-key limits (429 with Retry-After) and idempotent answers that survive a restart.

Each test here starts its own `shopmate api` process, on settings of its own.
"""

from __future__ import annotations

import threading
from pathlib import Path

from bot import prompts
from fakes.claude import FakeClaude, Pace, reply
from tests.api.conftest import start_api, wait_until


def post(server, key: str, path: str = "/chat", **body):
    with server.client(key) as client:
        return client.post(path, json={"message": "Where is ORD-1001?", **body})


def test_turn_and_token_limits_per_key_give_429_with_retry_after(tmp_path: Path, claude):
    claude.reset()
    server = start_api(
        tmp_path / "limits.db",
        claude,
        {"SHOPMATE_API_KEY_TURNS_PER_MINUTE": "2", "SHOPMATE_API_KEY_TOKENS_PER_DAY": "100000"},
    )
    try:
        busy, other = server.new_key("busy"), server.new_key("other")
        assert post(server, busy).status_code == 200
        assert post(server, busy, "/chat/stream").status_code == 200
        calls = len(claude.requests)
        for path in ("/chat", "/chat/stream"):
            limited = post(server, busy, path)
            assert limited.status_code == 429, path
            assert limited.headers["retry-after"] == "60"
            assert limited.json() == {"error": prompts.USER_SLOW_DOWN_NOTICE}
        assert len(claude.requests) == calls, "no model call over the limit"
        assert post(server, other).status_code == 200, "limits are per key"

        # A day's tokens spent (recorded as the server records turns): 429 until tomorrow.
        spender = server.new_key("spender")
        with server.storage() as storage:
            storage.conversations.add_turn(
                "api:spender:" + "1" * 32,
                [],
                usage={"input_tokens": 100_000},
                user="spender",
                team="api",
            )
        spent = post(server, spender)
        assert spent.status_code == 429 and spent.headers["retry-after"] == "3600"
        assert spent.json() == {"error": prompts.USER_DAILY_LIMIT_NOTICE}
        # The server logs before it answers; our reader of its log may lag a little behind.
        assert wait_until(
            lambda: (
                "Limited API key busy" in server.log() and "Limited API key spender" in server.log()
            )
        )
    finally:
        server.stop()


def test_idempotent_answers_survive_a_restart_and_a_running_request_is_not_run_twice(
    tmp_path: Path,
):
    db_path = tmp_path / "restart.db"
    # A fake of its own: this test changes its pace while another request is in flight.
    with FakeClaude() as claude:
        server = start_api(db_path, claude)
        try:
            key = server.new_key("restarted")
            with server.client(key) as client:
                first = client.post(
                    "/chat",
                    json={"message": "Where is ORD-1001?"},
                    headers={"Idempotency-Key": "retry-me"},
                )
            assert first.status_code == 200

            # While a request runs, its retry is told so and starts no second turn.
            claude.pace = Pace(tokens_per_s=40)
            claude.enqueue(reply(" ".join(["slow"] * 80)))
            slow: list = []

            def run_slow() -> None:
                with server.client(key) as client:
                    slow.append(
                        client.post(
                            "/chat", json={"message": "slow"}, headers={"Idempotency-Key": "slow"}
                        )
                    )

            worker = threading.Thread(target=run_slow)
            calls = len(claude.requests)
            worker.start()
            assert wait_until(lambda: len(claude.requests) > calls), "the slow turn started"
            with server.client(key) as client:
                clash = client.post(
                    "/chat", json={"message": "slow"}, headers={"Idempotency-Key": "slow"}
                )
            assert clash.status_code == 409 and "still running" in clash.json()["error"]
            worker.join(timeout=60)
            assert slow and slow[0].status_code == 200
            claude.pace = Pace()
        finally:
            server.stop()

        calls = len(claude.requests)
        server = start_api(db_path, claude)
        try:
            with server.client(key) as client:
                again = client.post(
                    "/chat",
                    json={"message": "Where is ORD-1001?"},
                    headers={"Idempotency-Key": "retry-me"},
                )
            assert again.status_code == 200 and again.json() == first.json()
            assert len(claude.requests) == calls, "no model call after the restart either"
        finally:
            server.stop()
