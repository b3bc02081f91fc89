"""The events the engine yields while it answers one user message; fronts turn them into UI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Usage:
    """Token usage summed over every model call of one turn."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    model_calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.model_calls + other.model_calls,
        )

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_input_tokens
            + self.cache_creation_input_tokens
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "model_calls": self.model_calls,
        }


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text, as Claude wrote it."""

    text: str


@dataclass(frozen=True)
class ToolStarted:
    """Claude asked for a tool; it is running now.

    `batch` holds the ids of every call started together with this one (Claude's parallel
    calls of one turn, in order), so a front can show them at once: this event is the last
    of its batch when its id is the batch's last. `title` names the step for the user
    ("Looking up ORD-1001"); "" for a tool that has no title of its own.
    """

    tool_use_id: str
    name: str
    input: dict[str, Any]
    batch: tuple[str, ...] = ()
    title: str = ""


@dataclass(frozen=True)
class ToolFinished:
    """A tool returned. `summary` is a few words for a status line, e.g. 'shipped'.

    `fact` is the result's key finding in one line ("ORD-1001 · shipped · Royal Mail
    RM493827651GB · due 2 Apr"), made by the tool from its own result; "" when it has none.
    """

    tool_use_id: str
    name: str
    input: dict[str, Any]
    result: str
    is_error: bool
    summary: str
    fact: str = ""


@dataclass(frozen=True)
class TurnComplete:
    """The answer is done. `messages` are the new assistant/tool messages to store, in order."""

    text: str
    messages: list[dict[str, Any]]
    usage: Usage
    stop_reason: str | None
    notice: str | None = None
    turn_id: int | None = None  # the stored turn, once storage has it (feedback rates it)


@dataclass(frozen=True)
class TurnFailed:
    """The answer could not be finished. `message` is plain language for the user."""

    message: str
    error: str
    usage: Usage = field(default_factory=Usage)


EngineEvent = TextDelta | ToolStarted | ToolFinished | TurnComplete | TurnFailed


# The turn lifecycle (bot/lifecycle.py) yields these around the engine's own events.


@dataclass(frozen=True)
class Started:
    """The message passed its checks (access, limits); Claude is about to be asked."""


@dataclass(frozen=True)
class Notice:
    """A fixed sentence from ShopMate itself, not from Claude.

    `kind` says why: "refusal" (who may ask), "limit" (turns or tokens), "only_text" (files
    without text, from a front that reads none), "file" (files ShopMate won't or can't read),
    "input_cut" (a long message was cut), "restart" (a delayed or lost answer).
    A `final` notice is the whole reply; a non-final one comes before the answer.
    """

    kind: str
    text: str
    reason: str = ""
    final: bool = True
