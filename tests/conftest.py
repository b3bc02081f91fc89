"""Shared fixtures: dummy settings, fake Claude and Slack on 127.0.0.1, temporary storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from bot.orders_import import parse_orders
from bot.settings import Settings
from bot.wiring import Services, build_services
from fakes.claude import FakeClaude
from tests.postgres import PostgresServer, start_or_skip

SECRET = "test-signing-secret"


@pytest.fixture(autouse=True)
def _offline_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .env or keys, and loopback never goes through a proxy."""
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "SHOPMATE_DB",
        "SHOPMATE_DATABASE_URL",
        "SHOPMATE_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def fake_claude() -> Iterator[FakeClaude]:
    with FakeClaude() as fake:
        yield fake


@pytest.fixture
def claude_client(fake_claude: FakeClaude) -> anthropic.Anthropic:
    from bot.claude_client import CappedRetryAnthropic

    return CappedRetryAnthropic(
        api_key="test-key", base_url=fake_claude.url, max_retries=2, max_retry_wait=0.05
    )


@pytest.fixture
def settings(tmp_path: Path, fake_claude: FakeClaude) -> Settings:
    return Settings.from_mapping(
        {
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": fake_claude.url,
            "SHOPMATE_DB": str(tmp_path / "shopmate.db"),
            "SHOPMATE_MAX_RETRY_WAIT": "0.05",
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": SECRET,
            "SHOPMATE_FLUSH_INTERVAL": "0.05",
            # Other tests send many turns from one user at once; tests/trust tests the limits.
            "SHOPMATE_USER_TURNS_PER_MINUTE": "1000",
            "SHOPMATE_TEAM_TURNS_PER_MINUTE": "1000",
        }
    )


@pytest.fixture
def services(settings: Settings, claude_client: anthropic.Anthropic) -> Iterator[Services]:
    built = build_services(settings, client=claude_client)
    built.storage.orders.upsert_many(SAMPLE_ORDERS)
    yield built
    built.close()


# The seed's three orders, from the sample file the demo and the benchmarks load too.
SAMPLE_ORDERS = parse_orders(
    Path(__file__).resolve().parents[1] / "bot/data/sample_orders.csv"
).rows


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (tests/postgres.py); skips where none."""
    server = start_or_skip()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
