"""Where one Slack reply goes (`ReplyTarget`) and how it shows an answer (`ReplyOptions`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings
from bot.slack.formatting import DEFAULT_MESSAGE_CHARS


@dataclass(frozen=True)
class ReplyTarget:
    """Where a reply goes and who it is for (native streams in channels need the recipient)."""

    team: str
    channel: str
    thread_ts: str
    user: str | None = None
    user_team: str | None = None
    message_ts: str | None = None  # the asker's message (the first sign's reaction goes on it)


@dataclass
class ReplyOptions:
    flush_interval: float = Settings.flush_interval
    native_streaming: bool = Settings.slack_native_streaming
    message_chars: int = DEFAULT_MESSAGE_CHARS
    # Thumbs up/down under a finished answer (SHOPMATE_FEEDBACK).
    feedback: bool = Settings.slack_feedback
    # Rotated by Slack under THINKING_STATUS (assistant.threads.setStatus takes up to 10).
    loading_messages: tuple[str, ...] = ()
    # Tool calls as task_update chunks in native streams (SHOPMATE_TASK_STEPS).
    task_steps: bool = Settings.slack_task_steps
    # Found facts (ToolFinished.fact) shown at once: a finished step opening the stream, or
    # the status line; false shows them only with Claude's words (SHOPMATE_FACTS_FIRST).
    facts_first: bool = Settings.facts_first
    # "both": the first sign waits its turn for a status line or an :eyes: reaction, whichever
    # Slack allows first (bot/slack/signs.py); "status": a status line only if one is free at
    # once (SHOPMATE_FIRST_SIGN).
    first_sign: str = Settings.first_sign
