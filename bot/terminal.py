"""`shopmate chat`: a conversation on stdin/stdout, streamed token by token, stored like Slack's."""

from __future__ import annotations

import json
import logging
import mimetypes
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from bot.attachments import Attachment
from bot.console import AnswerWriter, read_questions
from bot.events import (
    Notice,
    TextDelta,
    ToolFinished,
    TurnComplete,
    TurnFailed,
)
from bot.keys import Key
from bot.lifecycle import TurnLifecycle, UserMessage

logger = logging.getLogger(__name__)


def tool_line(event: ToolFinished) -> str:
    """One line per tool call, e.g. `[get_order ORD-1001 -> shipped]`."""
    shown = " ".join(str(v) for v in event.input.values()) or json.dumps(event.input)
    return f"[{event.name} {shown} -> {event.summary or ('error' if event.is_error else 'ok')}]"


# The engine describes a failed Claude call as e.g. "AuthenticationError status=401 type=...".
KEY_REJECTED = (
    "Claude rejected the API key (401). Fix ANTHROPIC_API_KEY in .env or the environment, "
    "then start the chat again."
)


def key_rejected(event: TurnFailed) -> bool:
    """True if the turn failed because Anthropic refused the key: retrying will not help."""
    return "status=401" in event.error.split()


def print_turn(events, out: TextIO) -> TurnComplete | TurnFailed | Notice | None:
    """Write one turn's events as they arrive; returns the event that ended the turn."""
    write = AnswerWriter(out)
    for event in events:
        if isinstance(event, TextDelta):
            write.words(event.text)
        elif isinstance(event, Notice):
            write.line(f"ShopMate: {event.text}")
            if event.final:
                return event
        elif isinstance(event, ToolFinished):
            write.line("  " + tool_line(event))
        elif isinstance(event, TurnFailed):
            # The person at this terminal runs ShopMate: tell them what to fix, not "try later".
            write.line(f"ShopMate: {KEY_REJECTED if key_rejected(event) else event.message}")
            return event
        elif isinstance(event, TurnComplete):
            write.end()
            return event
    return None


def chat(
    lifecycle: TurnLifecycle,
    conversation: Key,
    *,
    stdin: TextIO,
    out: TextIO,
    between_turns: Callable[[], None] = lambda: None,
    files: Sequence[Path] = (),
) -> int:
    """Read questions line by line until EOF or Ctrl-C; every turn is stored under `conversation`.

    Each question goes through the same lifecycle as Slack's and the API's (limits for the
    "terminal" user, input cut, engine, storage).

    `between_turns` runs before each prompt, when nothing is half-written on the screen (the
    CLI prints held-back log lines there). Returns 2 if Claude refused the API key.
    `files` (`--file`) go with the first question, checked and read like Slack's.
    """
    out.write("ShopMate support chat. Type a question; Ctrl-D or Ctrl-C to leave.\n")
    thread_key = str(conversation)
    conversations = lifecycle.services.storage.conversations
    if conversations.exists(thread_key):
        count = len(conversations.history(thread_key))
        out.write(f"(resuming thread {thread_key!r}: {count} earlier messages)\n")
    out.flush()
    try:
        for text in read_questions(stdin, out, between_turns):
            # No workspace: stats list terminal turns under "-", as before the lifecycle.
            message = UserMessage(
                conversation=conversation,
                text=text,
                user="terminal",
                team="",
                attachments=file_attachments(files),
            )
            files = ()  # sent once, with the first question
            ended = _turn(lifecycle, message, out)
            if isinstance(ended, TurnFailed) and key_rejected(ended):
                out.flush()
                return 2
    except KeyboardInterrupt:
        out.write("\n")
    out.write("Bye.\n")
    out.flush()
    return 0


def _turn(
    lifecycle: TurnLifecycle, message: UserMessage, out: TextIO
) -> TurnComplete | TurnFailed | Notice | None:
    """One question through the lifecycle's steps, as every front takes them."""
    lifecycle.claim(message)  # nothing to lease: a typed line cannot arrive twice
    refusal = lifecycle.admit(message)  # no channel: always allowed
    try:
        events = [refusal] if refusal is not None else lifecycle.run(message)
        return print_turn(events, out)
    finally:
        lifecycle.finish(message)


def file_attachments(paths: Sequence[Path]) -> tuple[Attachment, ...]:
    """`--file` paths as attachments: the type from the name, the size from the disk."""
    return tuple(
        Attachment(
            name=path.name,
            media_type=mimetypes.guess_type(path.name)[0],
            size=path.stat().st_size,
            fetch=path.read_bytes,
        )
        for path in paths
    )
