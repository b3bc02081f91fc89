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


class AnswerWriter:
    """Writes one streamed answer the way both chats show it.

    Claude's words follow "ShopMate: " as they arrive; a tool call, a notice or an error gets a
    line of its own (ending the words' line first if needed), and the words after a tool call
    start a new "ShopMate: " line.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.at_line_start = True
        self.in_words = False

    def words(self, text: str) -> None:
        """A piece of Claude's answer."""
        if not self.in_words:
            self._write("ShopMate: ")
            self.in_words = True
        self._write(text)

    def line(self, text: str) -> None:
        """A line of its own (a tool call, `ShopMate: <notice>`); the next words start anew."""
        self._write(("" if self.at_line_start else "\n") + text + "\n")
        self.in_words = False

    def end(self) -> None:
        """The answer is over: end its last line."""
        if not self.at_line_start:
            self._write("\n")

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
        self.at_line_start = text.endswith("\n")
