"""`shopmate serve` / `shopmate run` as real OS processes against the fakes, for end-to-end,
shutdown, crash and replica tests.

Each process is started as users start it (environment only). Its log is drained on a thread
(a full pipe would stall it) and can be waited on; it can be stopped politely (SIGTERM),
killed (SIGKILL: an OOM kill or a power cut) or frozen (SIGSTOP: a stalled VM).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fakes.claude import ScriptedModel
from fakes.slack.events import EventSender

TEAM = "T0001"
CHANNEL = "C0001"
SECRET = "process-test-secret"
APP_TOKEN = "xapp-process-test"
WAIT = 30.0  # generous: several Python processes start at once on a loaded 2-core machine


def environment(db: Path, slack_api_url: str, claude_url: str, **extra: str) -> dict[str, str]:
    """What a user's .env would hold, pointed at the fakes, with `extra` (SHOPMATE_...) on top."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "SLACK_BOT_TOKEN": "xoxb-process-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": slack_api_url,
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": claude_url,
        "SHOPMATE_DB": str(db),
        "SHOPMATE_FLUSH_INTERVAL": "0.1",
        "SHOPMATE_MAX_RETRY_WAIT": "0.05",
        "SHOPMATE_USER_TURNS_PER_MINUTE": "1000",
        "SHOPMATE_TEAM_TURNS_PER_MINUTE": "1000",
        **extra,
    }


class ShopMateProcess:
    """One running `python -m bot ARGS`."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, name: str = "") -> None:
        self.name = name or " ".join(args)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            env=env,
            cwd=cwd,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self._lines: list[str] = []
        self._ended = False
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._drain, name=f"log-{self.name}", daemon=True)
        self._reader.start()
        self.url = ""
        self.sender: EventSender | None = None

    @classmethod
    def serve(cls, env: dict[str, str], cwd: Path, name: str = "serve") -> ShopMateProcess:
        """`shopmate serve` on a free port; call `ready()` before delivering events."""
        return cls(["serve", "--port", "0"], env, cwd, name)

    def ready(self) -> ShopMateProcess:
        """Wait until `serve` listens (start several first, then wait: they start in parallel)."""
        match = self.wait_log(r"listening on (http://\S+?)/slack/events")
        assert match, f"{self.name} never said where it listens:\n{self.log}"
        self.url = match.group(1)
        self.sender = EventSender(f"{self.url}/slack/events", SECRET)
        return self

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    @property
    def log(self) -> str:
        with self._cond:
            return "".join(self._lines)

    def count(self, pattern: str) -> int:
        """How many log lines match `pattern` so far."""
        regex = re.compile(pattern)
        with self._cond:
            return sum(1 for line in self._lines if regex.search(line))

    def wait_log(self, pattern: str, *, count: int = 1, timeout: float = WAIT) -> re.Match | None:
        """Wait (bounded) until `count` log lines match `pattern`; the last match, or None
        (also as soon as the log ends without them: the process exited)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for line in self._lines if (m := regex.search(line))]
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._ended:
                    return None
                self._cond.wait(min(remaining, 0.1))

    def deliver(self, payload: dict, **kwargs: Any) -> int:
        assert self.sender is not None, "call ready() first"
        status, _, _ = self.sender.post(payload, **kwargs)
        return status

    def terminate(self) -> None:
        """SIGTERM, as a deploy or `docker stop` sends it."""
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60.0) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        """SIGKILL: the process dies mid-whatever, as on an OOM kill or a power cut."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: alive but doing nothing (a stalled VM); its leases stop being renewed."""
        self.process.send_signal(signal.SIGSTOP)

    def stop(self) -> None:
        """Test teardown: ask politely, then insist."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
            self.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=5)


class GatedModel:
    """The scripted model, but every request waits until `release()`: a turn held mid-answer."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.model = ScriptedModel()

    def respond(self, request: dict[str, Any]) -> Any:
        self.gate.wait(WAIT * 2)
        return self.model.respond(request)

    def release(self) -> None:
        self.gate.set()
