"""Fixtures for the trust tests: an app built from settings each test chooses, and checks."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.claude_client import CappedRetryAnthropic
from bot.history import repair
from bot.settings import Settings
from bot.slack.app import build_app, build_web_client
from bot.slack.server import HttpServer, make_wsgi_app
from bot.wiring import Services, build_services
from fakes.claude import FakeClaude
from fakes.slack import FakeSlack
from fakes.slack.events import EventSender
from tests.conftest import SAMPLE_ORDERS
from tests.slack.conftest import TEAM, Harness, ListenerPool

SIGNING_SECRET = "trust-signing-secret"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "soak: long-running fault-injection test (~20 s)")


def trust_settings(db_path: Path, claude_url: str, env: dict[str, str] | None = None) -> Settings:
    """Settings as the tests in tests/slack use, with `env` (SHOPMATE_... names) on top."""
    return Settings.from_mapping(
        {
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": claude_url,
            "SHOPMATE_DB": str(db_path),
            "SHOPMATE_MAX_RETRY_WAIT": "0.05",
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SHOPMATE_FLUSH_INTERVAL": "0.05",
            **(env or {}),
        }
    )


def open_services(settings: Settings) -> Services:
    """Services on `settings`, talking to the Claude at ANTHROPIC_BASE_URL with short waits."""
    client = CappedRetryAnthropic(
        api_key=settings.anthropic_api_key,
        base_url=settings.anthropic_base_url,
        max_retries=settings.anthropic_max_retries,
        max_retry_wait=settings.max_retry_wait,
    )
    services = build_services(settings, client=client)
    services.storage.orders.upsert_many(SAMPLE_ORDERS)
    return services


def start_app(services: Services, slack: FakeSlack, claude: FakeClaude) -> Harness:
    """The app as `shopmate serve` builds it (signing secret and body cap from settings)."""
    settings = services.settings
    pool = ListenerPool(settings.slack_workers)
    app, responder = build_app(
        services, web_client=slack_client(services, slack), listener_executor=pool
    )
    wsgi = make_wsgi_app(
        app, max_body_bytes=settings.max_body_bytes, signing_secret=settings.slack_signing_secret
    )
    server = HttpServer(wsgi, max_body_bytes=settings.max_body_bytes).start()
    sender = EventSender(f"{server.url}/slack/events", settings.slack_signing_secret or "")
    return Harness(services, slack, claude, responder, server, sender, pool)


def slack_client(services: Services, slack: FakeSlack) -> WebClient:
    """The WebClient `shopmate serve` builds, pointed at the fake."""
    return build_web_client(replace(services.settings, slack_api_url=slack.api_url))


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(team_id=TEAM) as fake:
        yield fake


@pytest.fixture
def make_app(
    tmp_path: Path, fake_claude: FakeClaude, slack: FakeSlack
) -> Iterator[Callable[..., Harness]]:
    """`make_app({"SHOPMATE_...": "..."})` starts ShopMate on those settings; stopped after."""
    started: list[Harness] = []

    def make(env: dict[str, str] | None = None) -> Harness:
        settings = trust_settings(tmp_path / "shopmate.db", fake_claude.url, env)
        harness = start_app(open_services(settings), slack, fake_claude)
        started.append(harness)
        return harness

    yield make
    for harness in started:
        harness.server.stop()
        harness.services.close()


def thread_key(payload: dict[str, Any], team: str = TEAM) -> str:
    event = payload["event"]
    return f"slack:{team}:{event['channel']}:{event.get('thread_ts') or event['ts']}"


def history_problems(history: list[dict[str, Any]]) -> list[str]:
    """Why a stored history would not make a valid Messages API request; [] if it would.

    Stored as written: every tool_use is answered by a tool_result in the very next message,
    every tool_result answers a tool_use, and all text is valid UTF-8. After the engine's
    repair (failed turns leave a question unanswered): it starts with the user and roles
    alternate.
    """
    problems: list[str] = []
    try:
        json.dumps(history, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as error:
        problems.append(f"not UTF-8 JSON: {error}")
    for index, message in enumerate(history):
        if message["role"] not in ("user", "assistant") or not message["content"]:
            problems.append(f"message {index}: bad role or empty content")
        blocks = message["content"]
        uses = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        following = history[index + 1]["content"] if index + 1 < len(history) else None
        if uses and message["role"] == "assistant":
            answered = {b.get("tool_use_id") for b in following or [] if b.get("type")}
            missing = [u for u in uses if u not in answered]
            if following is None or missing:
                problems.append(f"message {index}: tool_use {missing or uses} unanswered")
        results = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if results:
            previous = history[index - 1]["content"] if index else []
            asked = {b.get("id") for b in previous if b.get("type") == "tool_use"}
            if not set(results) <= asked:
                problems.append(f"message {index}: tool_result answers no tool_use")
        for block in blocks:
            if block.get("type") == "text" and not str(block.get("text", "")).strip():
                problems.append(f"message {index}: empty text block")
    repaired = repair(json.loads(json.dumps(history)))
    if repaired and repaired[0]["role"] != "user":
        problems.append("repaired history does not start with the user")
    for index in range(1, len(repaired)):
        if repaired[index]["role"] == repaired[index - 1]["role"]:
            problems.append(f"repaired history: roles do not alternate at {index}")
    return problems


def all_history_problems(services: Services) -> dict[str, list[str]]:
    """history_problems() of every stored conversation that has any."""
    found = {}
    for conversation in services.storage.conversations.list(limit=100_000):
        key = conversation["thread_key"]
        problems = history_problems(services.storage.conversations.history(key))
        if problems:
            found[key] = problems
    return found


def shopmate(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI as users do: a subprocess with only the given environment."""
    base = {"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=cwd,
        timeout=60,
    )
