"""`shopmate demo`: the real app against local stand-ins for Slack and Claude, in the terminal.

Everything real runs — the Bolt app over HTTP with signed events, the engine, SQLite storage,
the get_order tool — while Slack's Web API and Claude's Messages API are simulated on
127.0.0.1 by the same fakes the tests use. Nothing leaves the machine and no key is needed.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text
from slack_sdk import WebClient

from bot.keys import Key
from bot.orders_import import parse_orders
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.handoff import APPROVE_ACTION
from bot.slack.server import EVENTS_PATH, HttpServer, make_wsgi_app
from bot.wiring import Services, build_services
from fakes.claude import FakeClaude, Pace
from fakes.slack import FakeSlack, Message
from fakes.slack.clicks import click
from fakes.slack.events import EventSender, channel_event, next_ts

logger = logging.getLogger(__name__)

SAMPLE_ORDERS = Path(__file__).parents[1] / "data" / "sample_orders.csv"
SEED_CONVERSATION = (
    "Hi, I placed an order last week — ORD-1001 — and haven't had an update.",
    "Great, can I change the size to Large?",
    "What about ORD-9999?",
)
TEAM, CHANNEL, USER, SECRET = "T0DEMO", "C0SUPPORT", "U0AGENT", "demo-signing-secret"
# Where hand-offs go, the group they mention, and the person who may approve changes.
ESCALATIONS, LEADS, APPROVER = "C0ESCALATE", "S0LEADS", "U0SAM"
DISPLAY_NAMES = {LEADS: "@support-leads", APPROVER: "@sam", USER: "@agent"}
TURN_TIMEOUT_S = 60.0


def run_demo(
    *,
    data_dir: Path | None = None,
    interactive: bool = False,
    tokens_per_s: float = 40.0,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    """Play the seed's sample conversation (or the user's) as one Slack thread.

    Without `data_dir` every run gets a fresh database in a new temporary directory, so the
    demo shows the same thing each time; with it, the database there is kept and reused.
    """
    stdin, out = stdin or sys.stdin, out or sys.stdout
    for noisy in ("slack_bolt", "bot", "storage", "waitress", "httpx2", "anthropic"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="shopmate-demo-"))
    else:
        data_dir.mkdir(exist_ok=True)  # one level: the CLI checked that its parent exists
    db_path = (data_dir / "shopmate-demo.db").resolve()
    settings = Settings.from_mapping(
        {
            "SHOPMATE_DB": str(db_path),
            "SLACK_BOT_TOKEN": "xoxb-demo-not-a-real-token",
            "SLACK_SIGNING_SECRET": SECRET,
            "SHOPMATE_FLUSH_INTERVAL": "0.25",
            "SHOPMATE_ESCALATION_CHANNEL": ESCALATIONS,
            "SHOPMATE_ESCALATION_GROUP": LEADS,
            "SHOPMATE_APPROVERS": APPROVER,
        }
    )
    # A terminal wraps to its width; a pipe or file gets one line per paragraph.
    screen = Console(file=out, highlight=False)
    if not screen.is_terminal:
        screen = Console(file=out, highlight=False, width=10_000)
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
            sender = EventSender(server.url + EVENTS_PATH, SECRET)
            player = _Player(slack, services, sender, screen)
            messages: Iterable[str] = _typed(stdin, out) if interactive else SEED_CONVERSATION
            for text in messages:
                if not player.turn(text):
                    return 1
            if not player.approve_requests():
                return 1
        finally:
            server.stop()
            services.close()
    out.write(_epilogue(db_path))
    out.flush()
    return 0


class _Player:
    """Posts each message as Slack would and prints the thread as a user would see it."""

    def __init__(
        self, slack: FakeSlack, services: Services, sender: EventSender, screen: Console
    ) -> None:
        self.slack, self.services, self.sender, self.screen = slack, services, sender, screen
        self.thread_ts: str | None = None
        self.seen: set[str] = set()

    def turn(self, text: str) -> bool:
        ts = next_ts()
        payload = channel_event(
            team=TEAM, channel=CHANNEL, user=USER, text=text, ts=ts, thread_ts=self.thread_ts
        )
        # A follow-up in the thread needs no mention once ShopMate has answered.
        shown = text if self.thread_ts is not None else f"@ShopMate {text}"
        self.thread_ts = self.thread_ts or ts
        self.screen.print(Text(f"\nYou: {shown}"))
        status, _, _ = self.sender.post(payload)
        if status != 200:
            self.screen.print(Text(f"(the app answered HTTP {status}; stopping)"))
            return False
        self._follow(str(Key.slack(TEAM, CHANNEL, ts)))
        return True

    def approve_requests(self) -> bool:
        """The story's end: a person approves what ShopMate asked for; the thread hears it.

        Shows each request ShopMate posted in the escalation channel, clicks Approve as the
        approver (a `block_actions` request over HTTP, signed as Slack sends it), then shows
        the request message as the click left it and what the thread was told.
        """
        handoff = self.services.storage.handoff
        for request in reversed(handoff.requests(only_pending=True)):
            if not request["message_ts"] or self.thread_ts is None:
                continue
            posted = self.slack.message(ESCALATIONS, request["message_ts"])
            told_before = len(self.slack.messages(CHANNEL, self.thread_ts))
            self.screen.print(Text("\nMeanwhile in #escalations, where ThreadCo's team works:"))
            self.screen.print(Text(f"ShopMate: {_plain(posted.text)}"))
            self.screen.print(Text("  [Approve]  [Reject]", style="dim"))
            self.screen.print(Text(f"\n{DISPLAY_NAMES[APPROVER]} (an approver) clicks Approve."))
            clicked = click(
                self.slack, ESCALATIONS, posted.ts, user=APPROVER, action_id=APPROVE_ACTION
            )
            if self.sender.post_interaction(clicked)[0] != 200:
                self.screen.print(Text("(the app refused the click; stopping)"))
                return False
            deadline = time.monotonic() + TURN_TIMEOUT_S
            while time.monotonic() < deadline:
                if len(self.slack.messages(CHANNEL, self.thread_ts)) > told_before:
                    break
                time.sleep(0.03)
            shown = self.slack.message(ESCALATIONS, request["message_ts"])
            self.screen.print(Text(f"#escalations now shows: {_plain(shown.text)}"))
            told = self.slack.messages(CHANNEL, self.thread_ts)[told_before:]
            self.screen.print(Text("\nBack in your thread:"))
            told_view = _view([("text", m.text) for m in told])
            if self.screen.is_terminal:
                self.screen.print(told_view)
            else:
                self._print_trimmed(told_view)
        return True

    def _follow(self, event_key: str) -> None:
        """Show lookups and the streamed answer as they appear, until the turn is stored.

        Each lookup is shown where it happened in the answer (after "let me look that up",
        before the answer it fed), and the answer is rendered from Markdown. A terminal sees
        the turn grow; a pipe or a file gets the finished turn once.
        """
        statuses_seen = len(self.slack.statuses)
        steps_seen: set[str] = set()
        marks: list[tuple[int, str]] = []  # (position in the answer, lookup line)
        live = Live(
            console=self.screen,
            auto_refresh=False,
            vertical_overflow="visible",
            redirect_stdout=False,
            redirect_stderr=False,
        )
        if self.screen.is_terminal:
            live.start()
        try:
            deadline = time.monotonic() + TURN_TIMEOUT_S
            while time.monotonic() < deadline:
                done = self.services.storage.claims.status(event_key) == "done"
                answer = self._reply_text()
                # A tool at work shows on the status line (before the first words, or on the
                # post-and-update path) or as a step in the streamed message.
                for update in self.slack.statuses[statuses_seen:]:
                    statuses_seen += 1
                    if update.status and update.status != "is thinking…":
                        marks.append((len(answer), f"[ShopMate {update.status}]"))
                for step in self._new_steps(steps_seen):
                    marks.append((len(answer), f"[ShopMate: {step}]"))
                if done:
                    break
                if self.screen.is_terminal:
                    live.update(_view(_interleave(answer, marks)), refresh=True)
                time.sleep(0.03)
            answer = self._reply_text()
            final = _view(_interleave(answer, self._tool_marks() or marks))
            if self.screen.is_terminal:
                live.update(final, refresh=True)
        finally:
            live.stop()
        if not self.screen.is_terminal:
            self._print_trimmed(final)
        self.seen.update(m.ts for m in self.slack.messages(CHANNEL, self.thread_ts))

    def _print_trimmed(self, renderable: RenderableType) -> None:
        # Rich pads every line to the console width; a file should not end lines in blanks.
        with self.screen.capture() as captured:
            self.screen.print(renderable)
        self.screen.file.write(
            "".join(line.rstrip() + "\n" for line in captured.get().splitlines())
        )
        self.screen.file.flush()

    def _new_steps(self, seen: set[str]) -> list[str]:
        """Titles of task steps shown in this turn's messages since the last look."""
        titles = []
        for message in self._turn_messages():
            for task in message.tasks:
                if task.get("id") not in seen:
                    seen.add(task.get("id"))
                    titles.append(str(task.get("title", "")))
        return titles

    def _turn_messages(self) -> list[Message]:
        """The thread's messages this turn added (earlier turns' are in `seen`)."""
        return [m for m in self.slack.messages(CHANNEL, self.thread_ts) if m.ts not in self.seen]

    def _reply_text(self) -> str:
        return "".join(m.text for m in self._turn_messages())

    def _tool_marks(self) -> list[tuple[int, str]]:
        """`[get_order ORD-1001 -> shipped]` for each tool call of the turn just finished.

        Each comes with its position in the answer: the length of the text Claude had
        written before the call (the engine joins a turn's texts with a blank line).
        """
        history = self.services.storage.conversations.history(
            str(Key.slack(TEAM, CHANNEL, self.thread_ts))
        )
        turn: list[dict] = []
        for message in reversed(history):
            content = message["content"]
            is_question = message["role"] == "user" and content[0].get("type") == "text"
            if is_question:
                break
            turn.insert(0, message)
        calls = {b["id"]: b for m in turn for b in m["content"] if b.get("type") == "tool_use"}
        texts: list[str] = []
        marks = []
        for message in turn:
            for block in message["content"]:
                if block.get("type") == "text" and message["role"] == "assistant":
                    if block["text"]:
                        texts.append(block["text"])
                    continue
                if block.get("type") != "tool_result" or block["tool_use_id"] not in calls:
                    continue
                call = calls[block["tool_use_id"]]
                result = json.loads(block["content"])
                outcome = result.get("status") or (
                    "not found" if "not found" in result.get("error", "") else "error"
                )
                line = f"[{call['name']} {call['input'].get('order_id')} -> {outcome}]"
                marks.append((len("\n\n".join(texts)), line))
        return marks


def _plain(mrkdwn: str) -> str:
    """Slack mrkdwn as a terminal shows it: names for ids, link labels, no asterisks."""
    text = re.sub(r"<!subteam\^(\w+)>", lambda m: DISPLAY_NAMES.get(m.group(1), "@group"), mrkdwn)
    text = re.sub(r"<@(\w+)>", lambda m: DISPLAY_NAMES.get(m.group(1), "@" + m.group(1)), text)
    text = re.sub(r"<[^|>]+\|([^>]+)>", r"\1", text)
    return text.replace("*", "")


Segment = tuple[str, str]  # ("text", markdown) or ("tool", line)


def _interleave(answer: str, marks: list[tuple[int, str]]) -> list[Segment]:
    """The answer cut at each lookup's position, with the lookup line in between."""
    segments: list[Segment] = []
    last = 0
    for position, line in marks:
        position = min(max(position, last), len(answer))
        if answer[last:position].strip():
            segments.append(("text", answer[last:position]))
        segments.append(("tool", line))
        last = position
    if answer[last:].strip():
        segments.append(("text", answer[last:]))
    return segments


def _view(segments: list[Segment]) -> Group:
    """A turn as the terminal shows it: ShopMate's words as rendered Markdown, lookups dimmed."""
    parts: list[RenderableType] = [Text("ShopMate:", style="bold")] if segments else []
    for kind, content in segments:
        if kind == "tool":
            parts.append(Text(f"  {content}", style="dim"))
        else:
            parts.append(Markdown(content.strip(), hyperlinks=False))
    return Group(*parts)


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
