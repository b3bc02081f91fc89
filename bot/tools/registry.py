"""A registry of the tools Claude may call: name -> schema and handler; handlers never raise."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

STEP_TITLE_CHARS = 80  # a step title is one short line under the message

_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns: JSON-able content, whether it failed, and a few words for a status.

    `fact` is the result's key finding in one line, built from `content` itself (e.g.
    bot/facts.py's order line), for a front to show before Claude writes; "" for none.
    """

    content: Any
    is_error: bool = False
    summary: str = ""
    fact: str = ""

    def content_text(self) -> str:
        """The content as the string put in a `tool_result` block."""
        if isinstance(self.content, str):
            return self.content
        return json.dumps(self.content, ensure_ascii=False)


@dataclass(frozen=True)
class ToolContext:
    """Where and for whom a turn runs, for tools that act on the conversation (the hand-off).

    Plain strings, so the engine that carries it knows nothing of Slack: `conversation` is
    the stored thread key (`bot.keys.Key.parse` reads it back), `user`/`team` the asker.
    """

    conversation: str
    user: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class Tool:
    """One tool: its Claude-facing definition and the function that runs it.

    A tool that must know whose conversation it acts in (an escalation names the thread and
    the asker) gives `context_handler` instead of `handler`; the registry passes it the turn's
    `ToolContext`. A tool that only reads (get_order) keeps the plain `handler`.
    """

    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Callable[[dict[str, Any]], ToolResult] | None = field(default=None, compare=False)
    context_handler: Callable[[dict[str, Any], ToolContext], ToolResult] | None = field(
        default=None, compare=False
    )
    # How a front names one call to the user (a Slack task step): a template over the
    # call's input, e.g. "Looking up {order_id}". Empty: a plain title from the name.
    step: str = ""

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.context_handler is None):
            raise ValueError(f"tool {self.name!r} needs exactly one of handler, context_handler")

    def to_param(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }


class ToolRegistry:
    """The tools offered to Claude. `run` turns every failure into an error result.

    Claude decides what to call and with what input, so anything can arrive: an unknown
    name, a missing field, a number where a string belongs. The model can recover from an
    error result (it tells the user); it cannot recover from an exception in our loop.
    """

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools = {tool.name: tool for tool in tools}

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def params(self, *, exclude: Collection[str] = ()) -> list[dict[str, Any]]:
        """Tool definitions in the Messages API's `tools` format, leaving out `exclude`."""
        return [tool.to_param() for tool in self._tools.values() if tool.name not in exclude]

    def step_title(self, name: str, tool_input: Any) -> str:
        """A short title for one call, for the user ("Looking up ORD-1001"); never raises.

        "" when the tool has none it can fill in: input comes from Claude, and a field the
        template names may be missing or odd. Each front says such a call its own way.
        """
        tool = self._tools.get(name)
        if tool is None or not tool.step or not isinstance(tool_input, dict):
            return ""
        try:
            title = tool.step.format_map({k: str(v) for k, v in tool_input.items()})
        except (KeyError, ValueError, IndexError):
            return ""
        return title[:STEP_TITLE_CHARS]

    def run(self, name: str, tool_input: Any, context: ToolContext | None = None) -> ToolResult:
        tool = self._tools.get(name)
        if tool is None:
            error = {"error": f"Unknown tool {name!r}."}
            return ToolResult(error, is_error=True, summary="unknown")
        problem = schema_problem(tool.input_schema, tool_input)
        if problem:
            return ToolResult({"error": problem}, is_error=True, summary="bad input")
        try:
            if tool.context_handler is not None:
                if context is None:
                    # A front that runs turns without a conversation cannot hand anything off.
                    error = {"error": f"{name} is not available in this conversation."}
                    return ToolResult(error, is_error=True, summary="unavailable")
                return tool.context_handler(tool_input, context)
            assert tool.handler is not None
            return tool.handler(tool_input)
        except Exception:
            logger.exception("Tool %s failed", name)
            return ToolResult(
                {"error": "The lookup failed on our side. Please try again shortly."},
                is_error=True,
                summary="failed",
            )


def schema_problem(schema: dict[str, Any], value: Any) -> str | None:
    """A one-line description of how `value` breaks a flat object schema, or None if it fits."""
    if not isinstance(value, dict):
        return "The tool input must be a JSON object."
    properties: dict[str, Any] = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            return f"Missing required field {key!r}."
    for key, item in value.items():
        spec = properties.get(key)
        if spec is None:
            if schema.get("additionalProperties") is False:
                return f"Unexpected field {key!r}."
            continue
        type_name = spec.get("type")
        if type_name and not _has_json_type(item, type_name):
            return f"Field {key!r} must be a {type_name}."
        max_length = spec.get("maxLength")
        if max_length is not None and isinstance(item, str) and len(item) > max_length:
            return f"Field {key!r} is longer than {max_length} characters."
    return None


def _has_json_type(item: Any, type_name: str) -> bool:
    # bool is a subclass of int in Python, but not a JSON integer.
    if isinstance(item, bool):
        return type_name == "boolean"
    expected = _JSON_TYPES.get(type_name)
    return expected is None or isinstance(item, expected)
