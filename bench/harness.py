"""The system under test: fake Slack and fake Claude in this process, `shopmate serve` in another.

A `Stack` starts a FakeSlack enforcing Slack's per-workspace limits, a FakeClaude streaming at a
realistic pace, imports the sample orders into a fresh database, starts `python -m bot serve` on
a free loopback port as a subprocess pointed at both fakes, and waits for /healthz. `ask()` sends
a signed app_mention over HTTP, as Slack would; `Conversation` then reads what happened from the
fakes (what users saw and when, what Claude was asked and when it answered) and from the
database (when the turn was marked done).

time.monotonic() is CLOCK_MONOTONIC on Linux, shared by every process, so the subprocess's calls
stamped by the fakes here and our own timestamps sit on one clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.keys import Key
from bot.orders_import import parse_orders
from bot.slack.post_update import PLACEHOLDER
from fakes.claude import FakeClaude, Pace, RecordedRequest
from fakes.slack import SLACK_LIMITS, FakeSlack, Message
from fakes.slack.events import EventSender, channel_event, next_ts
from storage import open_storage

REPO = Path(__file__).resolve().parent.parent
SAMPLE_ORDERS = REPO / "bot" / "data" / "sample_orders.csv"
TEAM = "T0BENCH"
SECRET = "bench-signing-secret"
DEFAULT_PACE = Pace(first_token_s=0.4, tokens_per_s=60.0)
# Orders with a tracking number, so a complete answer is recognisable by it.
TRACKING = {"ORD-1001": "RM493827651GB", "ORD-1003": "RM381726495GB"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB, from /proc (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    """Samples a process's VmRSS every `interval_s` on a thread; keeps the peak."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            value = rss_kib(self.pid)
            if value is not None:
                self.samples.append(value)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    @property
    def peak_mb(self) -> float:
        """Peak resident memory in MB (10^6 bytes, the unit of the target)."""
        return max(self.samples, default=0) * 1024 / 1e6


@dataclass
class Conversation:
    """One question sent to the bot, and everything measured about its answer."""

    stack: Stack
    channel: str
    user: str
    ts: str
    thread_ts: str
    marker: str
    expect: str | None
    posted_at: float
    post_status: int = 0

    @property
    def event_key(self) -> str:
        return str(Key.slack(TEAM, self.channel, self.ts))

    # --- what users saw ---------------------------------------------------------------------

    def replies(self) -> list[Message]:
        return self.stack.slack.messages(self.channel, self.thread_ts)

    def text(self) -> str:
        return "".join(m.text for m in self.replies())

    def first_sign(self) -> float | None:
        """A status line, a reply, or a reaction on the asker's message: whichever came first."""
        return self.stack.slack.first_sign_time(self.channel, self.thread_ts, self.ts)

    def first_text_visible(self) -> float | None:
        times = [
            v.time
            for m in self.replies()
            for v in m.history
            if v.text.strip() and v.text != PLACEHOLDER
        ]
        return min(times, default=None)

    def final_visible(self) -> float | None:
        times = [v.time for m in self.replies() for v in m.history]
        return max(times, default=None)

    def complete(self) -> bool:
        text = self.text()
        streaming = any(m.streaming for m in self.replies())
        return bool(text) and not streaming and (self.expect is None or self.expect in text)

    # --- what Claude was asked, and when it answered ----------------------------------------

    def claude_requests(self) -> list[RecordedRequest]:
        return [
            r
            for r in self.stack.claude.requests
            if r.path == "/v1/messages" and self.marker in _first_user_text(r.body)
        ]


def _first_user_text(body: dict[str, Any]) -> str:
    """Text of the newest plain user message (not tool results) of a request."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content or [] if b.get("type") == "text"]
        if texts:
            return " ".join(texts)
    return ""


@dataclass
class Stack:
    """Fakes here, `shopmate serve` in a subprocess, a fresh database: one Slack workspace."""

    pace: Pace = DEFAULT_PACE
    env: dict[str, str] = field(default_factory=dict)
    min_cacheable_tokens: int = 0
    slack_window_s: float = 60.0
    # What starts the bot; profiling runs swap in a wrapper around `bot.cli.main`.
    command: tuple[str, ...] = (sys.executable, "-m", "bot")
    slack: FakeSlack = field(init=False)
    claude: FakeClaude = field(init=False)
    proc: subprocess.Popen[bytes] | None = field(init=False, default=None)
    url: str = field(init=False, default="")
    _tmp: tempfile.TemporaryDirectory[str] | None = field(init=False, default=None)
    _db: sqlite3.Connection | None = field(init=False, default=None)

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def db_path(self) -> Path:
        assert self._tmp is not None
        return Path(self._tmp.name) / "shopmate.db"

    @property
    def log_path(self) -> Path:
        assert self._tmp is not None
        return Path(self._tmp.name) / "serve.log"

    def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="shopmate-bench-")
        self.slack = FakeSlack(team_id=TEAM, limits=SLACK_LIMITS, window_s=self.slack_window_s)
        self.slack.start()
        self.claude = FakeClaude(pace=self.pace, min_cacheable_tokens=self.min_cacheable_tokens)
        self.claude.start()
        result = parse_orders(SAMPLE_ORDERS)
        with open_storage(self.db_path) as storage:
            storage.orders.upsert_many(result.rows)
        port = free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SHOPMATE_", "SLACK_", "ANTHROPIC_"))
        }
        env.update(
            {
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": self.slack.api_url,
                "ANTHROPIC_API_KEY": "sk-ant-bench",
                "ANTHROPIC_BASE_URL": self.claude.url,
                "SHOPMATE_DB": str(self.db_path),
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
                "PYTHONPATH": str(REPO),
                **self.env,
            }
        )
        log = self.log_path.open("wb")
        # cwd is the temp dir, so no developer's .env leaks into the measured settings.
        self.proc = subprocess.Popen(
            [*self.command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=self._tmp.name,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.url = f"http://127.0.0.1:{port}"
        self._wait_healthy()
        self.sender = EventSender(f"{self.url}/slack/events", SECRET, timeout=10)
        self._db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)

    def _wait_healthy(self, timeout: float = 30.0) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"shopmate serve exited early:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                opener.open(f"{self.url}/healthz", timeout=1) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"shopmate serve never became healthy:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.claude.stop()
        self.slack.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # --- driving ------------------------------------------------------------------------------

    def ask(
        self,
        text: str,
        *,
        channel: str,
        user: str,
        thread_ts: str | None = None,
        expect: str | None = None,
        marker: str | None = None,
    ) -> Conversation:
        """Post one signed @mention (or a thread follow-up) the way Slack delivers it."""
        ts = next_ts()
        payload = channel_event(
            team=TEAM, channel=channel, user=user, text=text, ts=ts, thread_ts=thread_ts
        )
        conversation = Conversation(
            self,
            channel,
            user,
            ts,
            thread_ts or ts,
            marker or text,
            expect,
            posted_at=time.monotonic(),
        )
        body = json.dumps(payload).encode("utf-8")
        status, _, _ = self.sender.post(body)
        conversation.post_status = status
        return conversation

    def done(self, conversation: Conversation) -> bool:
        """True once the bot marked the turn done (its event claim finished)."""
        assert self._db is not None
        row = self._db.execute(
            "select status from processed_events where key = ?", [conversation.event_key]
        ).fetchone()
        return row is not None and row[0] == "done"

    def wait_done(self, conversations: list[Conversation], timeout: float = 120.0) -> bool:
        """Wait until every turn is marked done; one query per poll, so the bench's own
        polling takes next to no CPU from the bot it measures (timings come from the fakes)."""
        assert self._db is not None
        deadline = time.monotonic() + timeout
        pending = {c.event_key for c in conversations}
        while pending and time.monotonic() < deadline:
            marks = ",".join("?" * len(pending))
            done = self._db.execute(
                f"select key from processed_events where status = 'done' and key in ({marks})",
                list(pending),
            ).fetchall()
            pending -= {key for (key,) in done}
            if pending:
                time.sleep(0.05)
        return not pending

    def rss_mb(self) -> float:
        """The bot's resident memory now, in MB (10^6 bytes)."""
        return (rss_kib(self.pid) or 0) * 1024 / 1e6

    def slack_calls(self) -> list[Any]:
        return [c for c in self.slack.calls if c.method != "auth.test"]
