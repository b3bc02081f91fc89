"""Reading a Messages API request body: its content blocks, texts, offered tools and order ids.

The scripted model and its rule modules (hand-off, copywriter) all read requests this way; the
helpers live here, below them, so that the rule modules need nothing from the model they serve.
"""

from __future__ import annotations

import re
from typing import Any

# `ORD-?\w+` as briefed, but anchored and requiring a digit so the word "order" is not an id.
_ORDER_ID_RE = re.compile(r"\bORD-?\w*\d\w*\b", re.IGNORECASE)


def content_blocks(content: Any) -> list[dict[str, Any]]:
    """Normalise message content (a string or a list of blocks) to a list of block dicts."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def text_of(content: Any) -> str:
    """All text in a message's (or tool_result's) content, joined."""
    return "\n".join(
        str(b.get("text", "")) for b in content_blocks(content) if b.get("type") == "text"
    ).strip()


def tool_names(request: dict[str, Any]) -> set[str]:
    """The names of the tools the request offers."""
    return {str(t.get("name")) for t in request.get("tools") or [] if isinstance(t, dict)}


def tools_allowed(request: dict[str, Any]) -> bool:
    """False when `tool_choice` forbids tools (`{"type": "none"}`)."""
    choice = request.get("tool_choice")
    return not (isinstance(choice, dict) and choice.get("type") == "none")


def order_ids(text: str) -> list[str]:
    """Distinct order ids in order of appearance, normalised to `ORD-XXXX` as Claude would."""
    seen: list[str] = []
    for match in _ORDER_ID_RE.finditer(text):
        raw = match.group(0).upper()
        normalised = "ORD-" + raw[3:].lstrip("-")
        if normalised not in seen:
            seen.append(normalised)
    return seen
