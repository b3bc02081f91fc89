"""Fixtures for `shopmate describe`: the fake Claude with the scripted copywriter, a database,
the real SDK pointed at the fake, and a way to run the CLI in this process or a new one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from bot.claude_client import CappedRetryAnthropic
from bot.describe import Copywriter, load_prompt
from fakes.claude import FakeClaude
from fakes.claude.copywriter import ScriptedCopywriter
from storage import Storage, open_storage

ROOT = Path(__file__).resolve().parents[2]
HEADER = "id,name,material,price,colours,key_feature\n"


@pytest.fixture(autouse=True)
def _no_describe_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SHOPMATE_DESCRIBE_MODEL",
        "SHOPMATE_DESCRIBE_CONCURRENCY",
        "SHOPMATE_DESCRIBE_EXAMPLES",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def writer() -> ScriptedCopywriter:
    return ScriptedCopywriter()


@pytest.fixture
def fake(writer: ScriptedCopywriter) -> Iterator[FakeClaude]:
    with FakeClaude(model=writer) as server:
        yield server
        # Let held answers go, so no server thread waits out its gate after the test.
        for gate in writer._gates.values():
            gate.set()


@pytest.fixture
def client(fake: FakeClaude) -> Iterator[anthropic.Anthropic]:
    sdk = CappedRetryAnthropic(
        api_key="test-key", base_url=fake.url, max_retries=2, max_retry_wait=0.05
    )
    yield sdk
    sdk.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "shopmate.db"


@pytest.fixture
def storage(db_path: Path) -> Iterator[Storage]:
    opened = open_storage(db_path)
    yield opened
    opened.close()


@pytest.fixture
def copywriter(client: anthropic.Anthropic, storage: Storage) -> Copywriter:
    return Copywriter(client, storage.descriptions, load_prompt("claude-haiku-4-5"))


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, fake: FakeClaude, db_path: Path) -> dict[str, str]:
    """Settings for `shopmate describe`, set in this process and returned for a child one."""
    env = {
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": fake.url,
        "SHOPMATE_DB": str(db_path),
        "SHOPMATE_MAX_RETRY_WAIT": "0.05",
        "SHOPMATE_DESCRIBE_CONCURRENCY": "3",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def run_child(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """`python -m bot ARGS` in a new process (a restart, or something to kill)."""
    child_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def product_rows(n: int, start: int = 1) -> list[str]:
    return [
        f"TS-{i:03d},Tee {i},organic cotton,{20 + i}.00,navy|sand,a chest pocket number {i}"
        for i in range(start, start + n)
    ]


def describe_calls(fake: FakeClaude) -> list[dict]:
    """Bodies of the live Messages calls the fake has received, oldest first."""
    return [r.body for r in fake.requests if r.path == "/v1/messages"]
