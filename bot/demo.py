"""`shopmate demo`: the real app against local stand-ins for Slack and Claude, in the terminal.

Everything real runs — the Bolt app over HTTP with signed events, the engine, SQLite storage,
the get_order tool — while Slack's Web API and Claude's Messages API are simulated on
127.0.0.1 by the same fakes the tests use. Nothing leaves the machine and no key is needed.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from slack_sdk import WebClient

from bot.orders_import import parse_orders
from bot.settings import Settings
from bot.simulators.claude import FakeClaude, Pace
from bot.simulators.slack import FakeSlack
from bot.simulators.slack_events import EventSender, mention_event, message_event, next_ts
from bot.slack.app import build_app
from bot.slack.server import EVENTS_PATH, HttpServer, make_wsgi_app
from bot.wiring import build_services

logger = logging.getLogger(__name__)

SAMPLE_ORDERS = Path(__file__).parent / "data" / "sample_orders.csv"
SEED_CONVERSATION = (
    "Hi, I placed an order last week — ORD-1001 — and haven't had an update.",
    "Great, can I change the size to Large?",
    "What about ORD-9999?",
)
TEAM, CHANNEL, USER, SECRET = "T0DEMO", "C0SUPPORT", "U0AGENT", "demo-signing-secret"
TURN_TIMEOUT_S = 60.0


def run_demo(
    *,
    data_dir: Path,
    interactive: bool = False,
    tokens_per_s: float = 40.0,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    """Play the seed's sample conversation (or the user's) as one Slack thread."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    for noisy in ("slack_bolt", "bot", "storage", "waitress", "httpx2", "anthropic"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    data_dir.mkdir(parents=True, exist_ok=True)
    db_path = (data_dir / "shopmate-demo.db").resolve()
    settings = Settings.from_mapping(
        {
            "SHOPMATE_DB": str(db_path),
            "SLACK_BOT_TOKEN": "xoxb-demo-not-a-real-token",
            "SLACK_SIGNING_SECRET": SECRET,
            "SHOPMATE_FLUSH_INTERVAL": "0.25",
        }
    )
    with (
        FakeClaude(pace=Pace(first_token_s=0.3, tokens_per_s=tokens_per_s)) as claude,
        FakeSlack(team_id=TEAM) as slack,
    ):
        from bot.claude_client import CappedRetryAnthropic

        client = CappedRetryAnthropic(api_key="demo-key", base_url=claude.url, max_retry_wait=1)
        services = build_services(settings, client=client)
        orders = parse_orders(SAMPLE_ORDERS).rows
        services.storage.orders.upsert_many(orders)
        web = WebClient(token=settings.slack_bot_token, base_url=slack.api_url)
        app, _ = build_app(services, web_client=web)
        server = HttpServer(make_wsgi_app(app)).start()
        try:
            out.write(_banner(len(orders)))
            player = _Player(slack, services, EventSender(server.url + EVENTS_PATH, SECRET), out)
            messages: Iterable[str] = _typed(stdin, out) if interactive else SEED_CONVERSATION
            for text in messages:
                if not player.turn(text):
                    return 1
        finally:
            server.stop()
            services.close()
    out.write(_epilogue(db_path))
    out.flush()
    return 0


class _Player:
    """Posts each message as Slack would and prints the thread as a user would see it."""

    def __init__(self, slack: FakeSlack, services, sender: EventSender, out: TextIO) -> None:
        self.slack, self.services, self.sender, self.out = slack, services, sender, out
        self.thread_ts: str | None = None
        self.seen: set[str] = set()

    def turn(self, text: str) -> bool:
        ts = next_ts()
        if self.thread_ts is None:
            self.thread_ts = ts
            payload = mention_event(team=TEAM, channel=CHANNEL, user=USER, text=text, ts=ts)
            shown = f"@ShopMate {text}"
        else:  # a follow-up in the thread: no mention needed once ShopMate has answered
            payload = message_event(
                team=TEAM,
                channel=CHANNEL,
                channel_type="channel",
                user=USER,
                text=text,
                ts=ts,
                thread_ts=self.thread_ts,
            )
            shown = text
        self.out.write(f"\nYou: {shown}\n")
        self.out.flush()
        status, _, _ = self.sender.post(payload)
        if status != 200:
            self.out.write(f"(the app answered HTTP {status}; stopping)\n")
            return False
        self._follow(f"slack:{TEAM}:{CHANNEL}:{ts}")
        return True

    def _follow(self, event_key: str) -> None:
        """Print statuses and streamed text as they appear, until the turn is stored as done."""
        printed, statuses_seen = "", len(self.slack.statuses)
        started = False
        deadline = time.monotonic() + TURN_TIMEOUT_S
        while time.monotonic() < deadline:
            done = self.services.storage.events.status(event_key) == "done"
            text = self._reply_text()
            if len(text) > len(printed):
                new = text[len(printed) :]
                if not started:
                    self.out.write("ShopMate: ")
                    started, new = True, new.lstrip("\n")
                self.out.write(new)
                printed = text
            for update in self.slack.statuses[statuses_seen:]:
                statuses_seen += 1
                if update.status and "looking up" in update.status:
                    self.out.write(("\n" if started else "") + f"  [ShopMate {update.status}]\n")
                    started = False
            self.out.flush()
            if done:
                break
            time.sleep(0.03)
        self.seen.update(m.ts for m in self.slack.messages(CHANNEL, self.thread_ts))
        self.out.write("\n")
        for line in self._tool_lines():
            self.out.write(f"  {line}\n")
        self.out.flush()

    def _reply_text(self) -> str:
        fresh = [m for m in self.slack.messages(CHANNEL, self.thread_ts) if m.ts not in self.seen]
        return "".join(m.text for m in fresh)

    def _tool_lines(self) -> list[str]:
        """`[get_order ORD-1001 -> shipped]` for each tool call of the turn just finished."""
        import json

        history = self.services.storage.conversations.history(
            f"slack:{TEAM}:{CHANNEL}:{self.thread_ts}"
        )
        turn: list[dict] = []
        for message in reversed(history):
            content = message["content"]
            is_question = message["role"] == "user" and content[0].get("type") == "text"
            if is_question:
                break
            turn.insert(0, message)
        calls = {b["id"]: b for m in turn for b in m["content"] if b.get("type") == "tool_use"}
        lines = []
        for message in turn:
            for block in message["content"]:
                if block.get("type") != "tool_result" or block["tool_use_id"] not in calls:
                    continue
                call = calls[block["tool_use_id"]]
                result = json.loads(block["content"])
                outcome = result.get("status") or (
                    "not found" if "not found" in result.get("error", "") else "error"
                )
                lines.append(f"[{call['name']} {call['input'].get('order_id')} -> {outcome}]")
        return lines


def _typed(stdin: TextIO, out: TextIO) -> Iterable[str]:
    out.write("Type messages for ShopMate; an empty line or Ctrl-D ends the demo.\n")
    while True:
        out.write("> ")
        out.flush()
        line = stdin.readline()
        if not line.strip():
            return
        yield line.strip()


def _banner(order_count: int) -> str:
    return (
        "ShopMate offline demo\n"
        "=====================\n"
        "Running the real ShopMate app (Bolt over HTTP, engine, SQLite, get_order) against\n"
        "SIMULATED Slack and a SIMULATED, scripted stand-in for Claude on 127.0.0.1.\n"
        "No network, no keys. The answers come from a script, not from Claude.\n"
        f"Loaded {order_count} sample orders. Playing a support thread in #support:\n"
    )


def _epilogue(db_path: Path) -> str:
    # The sqlite-utils command installed beside this Python (the venv's), if there is one.
    beside = Path(sys.executable).parent / "sqlite-utils"
    tool = str(beside) if beside.exists() else "sqlite-utils"
    return (
        "\n---\n"
        f"The conversation is stored in {db_path}\n"
        "Look inside:\n"
        f"  {tool} tables {db_path} --counts\n"
        f"  {tool} rows {db_path} messages\n"
        "To use the real Slack and Claude: copy .env.example to .env, set ANTHROPIC_API_KEY,\n"
        "SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode: `shopmate run`) or\n"
        "SLACK_SIGNING_SECRET (HTTP: `shopmate serve`). See README.md.\n"
    )
