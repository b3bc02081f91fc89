"""`shopmate chat`: a conversation on stdin/stdout, streamed token by token, stored like Slack's."""

from __future__ import annotations

import json
import logging
from typing import TextIO

from bot.conversation import ConversationService
from bot.events import TextDelta, ToolFinished, ToolStarted, TurnComplete, TurnFailed

logger = logging.getLogger(__name__)


def tool_line(event: ToolFinished) -> str:
    """One line per tool call, e.g. `[get_order ORD-1001 -> shipped]`."""
    shown = " ".join(str(v) for v in event.input.values()) or json.dumps(event.input)
    return f"[{event.name} {shown} -> {event.summary or ('error' if event.is_error else 'ok')}]"


def print_turn(events, out: TextIO) -> bool:
    """Write one turn's events as they arrive; True if the turn completed."""
    at_line_start = True
    started = False

    def write(text: str) -> None:
        nonlocal at_line_start
        out.write(text)
        out.flush()
        at_line_start = text.endswith("\n")

    for event in events:
        if isinstance(event, TextDelta):
            if not started:
                write("ShopMate: ")
                started = True
            write(event.text)
        elif isinstance(event, ToolStarted):
            continue
        elif isinstance(event, ToolFinished):
            write(("" if at_line_start else "\n") + "  " + tool_line(event) + "\n")
            started = False
        elif isinstance(event, TurnFailed):
            write(("" if at_line_start else "\n") + f"ShopMate: {event.message}\n")
            return False
        elif isinstance(event, TurnComplete):
            write("\n" if not at_line_start else "")
            return True
    return False


def chat(service: ConversationService, thread_key: str, *, stdin: TextIO, out: TextIO) -> int:
    """Read questions line by line until EOF or Ctrl-C; every turn is stored under thread_key."""
    out.write("ShopMate support chat. Type a question; Ctrl-D or Ctrl-C to leave.\n")
    if service.storage.conversations.exists(thread_key):
        count = len(service.storage.conversations.history(thread_key))
        out.write(f"(resuming thread {thread_key!r}: {count} earlier messages)\n")
    out.flush()
    try:
        while True:
            out.write("You: ")
            out.flush()
            line = stdin.readline()
            if not line:
                out.write("\n")
                break
            text = line.strip()
            if not text:
                continue
            print_turn(service.answer(thread_key, text), out)
    except KeyboardInterrupt:
        out.write("\n")
    out.write("Bye.\n")
    out.flush()
    return 0
