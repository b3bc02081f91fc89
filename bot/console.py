"""The terminal prompt both chats share (local `shopmate chat` and `shopmate chat --url`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TextIO


def read_questions(
    stdin: TextIO, out: TextIO, before_prompt: Callable[[], None] = lambda: None
) -> Iterator[str]:
    """Prompt "You: " and yield each non-blank line, stripped, until end of input.

    `before_prompt` runs before each prompt, when nothing is half-written on the screen.
    At end of input the prompt's line is ended, so what follows starts on its own line.
    Ctrl-C (KeyboardInterrupt) reaches the caller, which decides how to say goodbye.
    """
    while True:
        before_prompt()
        out.write("You: ")
        out.flush()
        line = stdin.readline()
        if not line:
            out.write("\n")
            return
        text = line.strip()
        if text:
            yield text
