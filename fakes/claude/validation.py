"""The Messages API's request checks: what it refuses with invalid_request_error, and why."""

from __future__ import annotations

import logging
import re
from typing import Any

from fakes.claude.media import inspect, is_media

logger = logging.getLogger(__name__)

_MAX_CACHE_BREAKPOINTS = 4
_TOOL_USE_ID_RE = re.compile(r"[a-zA-Z0-9_-]+")


# --------------------------------------------------------------------------- request checks


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def _ids_of(message: dict[str, Any] | None, kind: str, key: str) -> list[Any]:
    """The `key` of every `kind` block in a message (tool_use ids, or the ids results answer)."""
    return [
        b.get(key) for b in _content_blocks((message or {}).get("content")) if b.get("type") == kind
    ]


def validate_request(body: Any) -> str | None:
    """The `invalid_request_error` message the real API would give, or None if acceptable.

    Only rules the real API is known to enforce, so the fake catches the seed's bugs (tool blocks
    without `tools`, unanswered `tool_use`) without rejecting anything the API accepts.
    """
    if not isinstance(body, dict):
        return "Request body must be a JSON object"
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return f"{name}: Field required"
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return "max_tokens: Input should be a positive integer"
    refused = _thinking_refused(body)
    if refused:
        return refused
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    uses_tool_blocks = False
    seen_tool_use_ids: set[str] = set()
    breakpoints = sum(
        1
        for block in [*(body.get("tools") or []), *_content_blocks(body.get("system"))]
        if isinstance(block, dict) and "cache_control" in block
    )
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        is_final_assistant = index == len(messages) - 1 and message["role"] == "assistant"
        if isinstance(content, str):
            if not content and not is_final_assistant:
                return (
                    f"messages.{index}: all messages must have non-empty content except for "
                    "the optional final assistant message"
                )
            continue
        if not isinstance(content, list):
            return f"messages.{index}.content: Input should be a valid list or string"
        if not content and not is_final_assistant:
            return (
                f"messages.{index}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        seen_other = False
        for position, block in enumerate(content):
            if not isinstance(block, dict):
                return f"messages.{index}.content.{position}: Input should be an object"
            kind = block.get("type")
            if "cache_control" in block:
                breakpoints += 1
            if kind == "text" and not block.get("text") and not is_final_assistant:
                return (
                    f"messages.{index}.content.{position}.text: "
                    "text content blocks must be non-empty"
                )
            if is_media(block):
                media = inspect(block, f"messages.{index}.content.{position}")
                if isinstance(media, str):
                    return media
            if kind in ("tool_use", "tool_result"):
                uses_tool_blocks = True
            if kind == "tool_use":
                tool_use_id = block.get("id")
                if not isinstance(tool_use_id, str) or not _TOOL_USE_ID_RE.fullmatch(tool_use_id):
                    return (
                        f"messages.{index}.content.{position}.tool_use.id: String should match "
                        "pattern '^[a-zA-Z0-9_-]+$'"
                    )
                if tool_use_id in seen_tool_use_ids:
                    return f"messages.{index}.content.{position}: `tool_use` ids must be unique"
                seen_tool_use_ids.add(tool_use_id)
            if kind == "tool_result":
                if message["role"] != "user":
                    return f"messages.{index}: tool_result blocks are only allowed in user messages"
                if seen_other:
                    return (
                        f"messages.{index}: tool_result blocks must come first in the content, "
                        "before any other blocks"
                    )
            else:
                seen_other = True
    if breakpoints > _MAX_CACHE_BREAKPOINTS:
        return (
            f"A maximum of {_MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {breakpoints}."
        )
    if uses_tool_blocks and not body.get("tools"):
        return "Requests which include `tool_use` or `tool_result` blocks must define tools."
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        use_ids = _ids_of(message, "tool_use", "id")
        following = messages[index + 1] if index + 1 < len(messages) else None
        result_ids = set(_ids_of(following, "tool_result", "tool_use_id"))
        if use_ids and following is not None:
            missing = [i for i in use_ids if i not in result_ids]
            if missing:
                return (
                    f"messages.{index + 1}: `tool_use` ids were found without `tool_result` "
                    f"blocks immediately after: {', '.join(map(str, missing))}. Each `tool_use` "
                    "block must have a corresponding `tool_result` block in the next message."
                )
    for index, message in enumerate(messages):
        if message["role"] != "user":
            continue
        result_ids = _ids_of(message, "tool_result", "tool_use_id")
        if not result_ids:
            continue
        previous = messages[index - 1] if index > 0 else {}
        use_ids = set(_ids_of(previous, "tool_use", "id"))
        unexpected = [i for i in result_ids if i not in use_ids]
        if unexpected:
            return (
                f"messages.{index}.content: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {', '.join(map(str, unexpected))}. Each `tool_result` block must have "
                "a corresponding `tool_use` block in the previous message."
            )
    return None


# Models that think by default and what `thinking.type` values they take (Anthropic's
# "What's new in Claude Sonnet 5.5": "disabled" is refused, "between_tools" is the lowest).
_THINKING_TYPES = {"claude-sonnet-5-5": ("adaptive", "between_tools")}


def _thinking_refused(body: dict[str, Any]) -> str | None:
    """The 400 a thinking setting gets on a model that does not take it, or None."""
    thinking = body.get("thinking")
    accepted = _THINKING_TYPES.get(str(body.get("model")))
    if thinking is None or accepted is None:
        return None
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "disabled":
        return (
            f'thinking.type: "disabled" is not supported on {body["model"]}; '
            'use "between_tools" to turn off up-front thinking'
        )
    if kind not in accepted:
        return f"thinking.type: Input should be one of {', '.join(map(repr, accepted))}"
    return None
