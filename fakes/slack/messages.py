"""What the fake Slack keeps of each message and call; how Slack renders and checks content."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fakes.slack.chunks import tasks_of
from fakes.slack.wire import SlackError

logger = logging.getLogger(__name__)


POST_TEXT_MAX = 40_000
UPDATE_TEXT_MAX = 4_000
MARKDOWN_TEXT_MAX = 12_000

STREAM_METHODS = frozenset({"chat.startStream", "chat.appendStream", "chat.stopStream"})


@dataclass(frozen=True)
class Call:
    """One request the fake received; tests assert on what the bot actually sent."""

    method: str
    args: dict[str, Any]
    time: float
    token_present: bool
    ok: bool
    error: str | None
    status: int
    team_id: str | None = None
    content_type: str = ""


@dataclass(frozen=True)
class Visible:
    """One state of a message as a user would have seen it, stamped with time.monotonic()."""

    time: float
    text: str


class StatusUpdate(NamedTuple):
    """One assistant.threads.setStatus call; unpacks as (time, channel, thread_ts, status)."""

    time: float
    channel: str
    thread_ts: str
    status: str


@dataclass
class Message:
    """A message in the fake workspace; `text` is what a user currently sees.

    `format` is "markdown" when everything visible is rendered as standard Markdown (markdown_text,
    streams, `markdown` blocks) and "mrkdwn" when any of it is Slack's own markup (plain `text`,
    section/context/header blocks, rich_text), where a literal `**bold**` shows its asterisks.
    """

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    format: str
    user: str
    bot_id: str | None
    created: float
    raw_text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    streaming: bool = False
    stream_started: float | None = None
    stream_mode: str | None = None
    stopped_by_user: bool = False
    deleted: bool = False
    history: list[Visible] = field(default_factory=list)
    # Every chunk a stream showed, in order (markdown_text arguments as markdown_text chunks).
    chunks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def from_bot(self) -> bool:
        """True for messages the app posted (as opposed to seeded user messages)."""
        return self.bot_id is not None

    @property
    def tasks(self) -> list[dict[str, Any]]:
        """The task steps shown in this (streamed) message, in order, each in its last state."""
        return tasks_of(self.chunks)


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for Slack timestamps ("1700000000.000100"), exact where float would round."""
    sec, _, frac = ts.partition(".")
    try:
        return int(sec or 0), int((frac or "0").ljust(6, "0")[:6])
    except ValueError:
        return 0, 0


def block_parts(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(format, text) for every piece of visible text in `blocks`."""
    parts: list[tuple[str, str]] = []

    def text_obj(obj: Any) -> None:
        if isinstance(obj, Mapping) and isinstance(obj.get("text"), str):
            fmt = "mrkdwn" if obj.get("type") == "mrkdwn" else "plain_text"
            parts.append((fmt, obj["text"]))

    def rich(node: Any, out: list[str]) -> None:
        if isinstance(node, Mapping):
            if node.get("type") in ("text", "link") and isinstance(node.get("text"), str):
                out.append(node["text"])
            elif node.get("type") == "link" and isinstance(node.get("url"), str):
                out.append(node["url"])
            for child in node.get("elements", ()) or ():
                rich(child, out)

    for block in blocks:
        kind = block.get("type")
        if kind == "markdown" and isinstance(block.get("text"), str):
            parts.append(("markdown", block["text"]))
        elif kind in ("section", "header"):
            text_obj(block.get("text"))
            for f in block.get("fields", ()) or ():
                text_obj(f)
        elif kind == "context":
            for element in block.get("elements", ()) or ():
                if isinstance(element, Mapping) and element.get("type") in ("mrkdwn", "plain_text"):
                    text_obj(element)
        elif kind == "rich_text":
            out: list[str] = []
            rich(block, out)
            if out:
                parts.append(("rich_text", "".join(out)))
    return parts


def render(msg: Message) -> tuple[str, str]:
    """(visible text, format) of a message: blocks win over the `text` fallback, as in Slack."""
    if msg.blocks:
        parts = block_parts(msg.blocks)
        if parts:
            fmt = "markdown" if all(p[0] == "markdown" for p in parts) else "mrkdwn"
            return "\n".join(p[1] for p in parts), fmt
    return msg.raw_text, "mrkdwn"


def set_visible(msg: Message, now: float) -> None:
    """Re-render and append to history when what the user sees changed."""
    text, fmt = render(msg)
    msg.text, msg.format = text, fmt
    last = msg.history[-1].text if msg.history else ""
    if text != last:
        msg.history.append(Visible(now, text))


def stream_text(args: Mapping[str, Any], chunks: list[dict[str, Any]]) -> str:
    """The Markdown one stream call adds: markdown_text, then markdown_text chunks in order."""
    pieces = [args["markdown_text"]] if isinstance(args.get("markdown_text"), str) else []
    pieces += [
        str(c.get("text", "")) for c in chunks if c.get("type") == "markdown_text"
    ]  # other chunk types (plan_update, task_update, blocks) carry no message text here
    text = "".join(pieces)
    if len(text) > MARKDOWN_TEXT_MAX:
        raise SlackError("msg_too_long")
    return text
