"""`shopmate api` as users run it: a subprocess on a temp database, talking to the fake Claude.

Tests reach it only over HTTP with `httpx2` (the client the product uses too), and look at the
database with `storage` from the test process, as an operator's tools would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from fakes.claude import FakeClaude
from storage import Storage, open_storage
from tests.conftest import SAMPLE_ORDERS

START_TIMEOUT = 90.0  # a loaded 2-core CI machine imports the SDK slowly
WAIT = 30.0


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll a condition until it holds or `timeout` passes (every wait is bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@dataclass
class ApiServer:
    """One `shopmate api` process, its database and the keys made for it."""

    url: str
    db_path: Path
    process: subprocess.Popen[str]
    log_lines: list[str] = field(default_factory=list)

    def storage(self) -> Storage:
        """The same database, opened from the test process (WAL: safe beside the server)."""
        return open_storage(self.db_path)

    def new_key(self, name: str) -> str:
        with self.storage() as storage:
            return storage.api_keys.create(name)

    def client(
        self, key: str | None = None, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx2.Client:
        auth = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx2.Client(
            base_url=self.url, headers={**auth, **(headers or {})}, timeout=WAIT, **kwargs
        )

    def log(self) -> str:
        return "".join(self.log_lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def server_env(db_path: Path, claude: FakeClaude, env: dict[str, str] | None) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": claude.url,
        "SHOPMATE_DB": str(db_path),
        "SHOPMATE_MAX_RETRY_WAIT": "0.05",
        **(env or {}),
    }


def start_api(db_path: Path, claude: FakeClaude, env: dict[str, str] | None = None) -> ApiServer:
    """Start `python -m bot api --port 0` and wait for the line saying where it listens."""
    with open_storage(db_path) as storage:
        storage.orders.upsert_many(SAMPLE_ORDERS)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "api", "--port", "0"],
        env=server_env(db_path, claude, env),
        cwd=db_path.parent,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def drain() -> None:
        # Read the log to the end, so the server never blocks on a full pipe.
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match and not found.is_set():
                url.append(match.group(1))
                found.set()
        found.set()

    threading.Thread(target=drain, name="api-log", daemon=True).start()
    if not found.wait(START_TIMEOUT) or not url:
        process.kill()
        raise AssertionError("shopmate api never said where it listens:\n" + "".join(lines))
    return ApiServer(url[0], db_path, process, lines)


@pytest.fixture(scope="module")
def claude() -> Iterator[FakeClaude]:
    with FakeClaude() as fake:
        yield fake


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, claude: FakeClaude) -> Iterator[ApiServer]:
    """One server for the module; each test makes its own keys, so tests don't share state."""
    db_path = tmp_path_factory.mktemp("api") / "shopmate.db"
    server = start_api(
        db_path,
        claude,
        {
            "SHOPMATE_API_KEY_TURNS_PER_MINUTE": "1000",
            "SHOPMATE_TEAM_TURNS_PER_MINUTE": "1000",
            "SHOPMATE_CLAIM_LEASE": "5",
            "SHOPMATE_LEASE_RENEW": "1",
            # Chat bodies may carry this much more per file (tests/api/test_bad_input.py
            # sends bodies over the total).
            "SHOPMATE_MAX_FILE_BYTES": "200000",
        },
    )
    yield server
    server.stop()


@pytest.fixture
def fresh(claude: FakeClaude) -> FakeClaude:
    """The module's fake Claude with no queued answers, no recorded requests, normal pace."""
    from fakes.claude import Pace

    claude.reset()
    claude.pace = Pace()
    return claude


def sse_events(raw: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse an SSE body strictly: every frame is `event:` then ONE `data:` line of JSON."""
    events = []
    for frame in raw.split("\n\n"):
        lines = [line for line in frame.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        assert len(lines) == 2, f"a frame is not one event and one data line: {frame!r}"
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), frame
        events.append((lines[0][len("event: ") :], json.loads(lines[1][len("data: ") :])))
    return events
