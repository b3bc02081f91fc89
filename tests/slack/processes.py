"""`shopmate serve` / `shopmate run` as real processes against the fakes, for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from fakes.claude import FakeClaude
from fakes.slack import FakeSlack

TEAM = "T0001"
CHANNEL = "C0001"
SECRET = "process-test-secret"
APP_TOKEN = "xapp-process-test"


class ShopMateProcess:
    """A running `python -m bot ...`; its log is read continuously (a full pipe would block it)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            env=env,
            cwd=cwd,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._lock:
                self._lines.append(line)

    @property
    def log(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def wait_for_log(self, pattern: str, timeout: float = 30.0) -> re.Match[str] | None:
        """The first match of `pattern` in the log, waiting (bounded) for it to appear."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.log)
            if match or time.monotonic() > deadline or self.process.poll() is not None:
                return match or re.search(pattern, self.log)
            time.sleep(0.05)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60.0) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stop(self) -> None:
        """Test teardown: ask politely, then insist."""
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=5)


def environment(
    tmp_path: Path, slack: FakeSlack, claude: FakeClaude, **extra: str
) -> dict[str, str]:
    """What a user's .env would hold, pointed at the fakes."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "SLACK_BOT_TOKEN": "xoxb-process-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": slack.api_url,
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": claude.url,
        "SHOPMATE_DB": str(tmp_path / "shopmate.db"),
        "SHOPMATE_FLUSH_INTERVAL": "0.1",
        **extra,
    }
