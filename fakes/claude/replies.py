"""What an answer of the fake Claude is made of: text, tool calls, a stop reason, API-shaped ids.

Both the scripted model and the server (and the rule modules the scripted model consults) build
answers from these, so they live below all of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

#: The `model` field of every scripted answer: the stand-in must never pass itself off as Claude.
SCRIPTED_MODEL_NAME = "shopmate-scripted-model"

#: The seed's escalation sentence, verbatim, so tests and the demo can look for it.
ESCALATION_LINE = (
    "I'll pass this to our team at hello@threadco.com — you'll hear back within 1 business day."
)

STOP_REASONS = frozenset(
    {
        "end_turn",
        "tool_use",
        "max_tokens",
        "stop_sequence",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
    }
)

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class ToolCall:
    """One `tool_use` block a reply asks for; `id` is generated when left as None."""

    name: str
    input: dict[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """What the model says: text (Markdown), then tool calls, then a stop reason.

    `stop_reason=None` means "the natural one": `tool_use` when there are tool calls, else
    `end_turn`. `model=None` lets the server fill in its own model name.
    """

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: str | None = None
    stop_sequence: str | None = None
    model: str | None = None

    def effective_stop_reason(self) -> str:
        """The stop reason to report, so callers never have to repeat the default rule."""
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if self.tool_calls else "end_turn"


def reply(
    text: str = "",
    tool_calls: list[ToolCall] | tuple[ToolCall, ...] = (),
    stop_reason: str | None = None,
    *,
    stop_sequence: str | None = None,
    model: str | None = None,
) -> Reply:
    """Build a scripted answer; rejects unknown stop reasons early so typos fail in the test."""
    if stop_reason is not None and stop_reason not in STOP_REASONS:
        raise ValueError(
            f"unknown stop_reason {stop_reason!r}; expected one of {sorted(STOP_REASONS)}"
        )
    return Reply(
        text=text,
        tool_calls=tuple(tool_calls),
        stop_reason=stop_reason,
        stop_sequence=stop_sequence,
        model=model,
    )


def tool_call(name: str, input: dict[str, Any] | None = None, id: str | None = None) -> ToolCall:
    """Build a `tool_use` request for `reply(tool_calls=[...])`."""
    return ToolCall(name=name, input=dict(input or {}), id=id)


def make_id(prefix: str, seed: str, length: int = 24) -> str:
    """A deterministic id shaped like the API's (`toolu_…`, `msg_…`), for reproducible runs."""
    number = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest(), "big")
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 62)
        chars.append(_BASE62[rem])
    return prefix + "".join(chars)
