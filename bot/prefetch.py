"""Which tool calls to make before Claude is asked: order ids pasted into the user's message.

Staff paste order ids all day ("ORD-1001?"). Claude would answer such a message by asking for
`get_order` first, a whole model round trip. Looking the ids up before the first call and
handing Claude the results (as if it had asked) lets it answer in one call. This module only
reads text and plans the calls; the engine runs them through the tool registry, so the same
id checks and error results apply as for a call Claude makes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

from bot.settings import Settings

logger = logging.getLogger(__name__)

# Characters that, glued to a match, make it part of a longer token ("ORD-1001x"): such a
# token is looked up as written, so the tool's own id check refuses it and Claude explains.
_TOKEN_CHARS = re.compile(r"[\w-]")


@dataclass(frozen=True)
class PlannedCall:
    """A tool call to make before the model is asked: tool name and its input."""

    name: str
    input: dict[str, Any]


class Prefetcher(Protocol):
    """Plans the tool calls worth making before the first model call of a turn."""

    def plan(self, text: str) -> list[PlannedCall]: ...


class OrderIdPrefetcher:
    """Plans one `get_order` per distinct order id named in a message, up to `limit`.

    A candidate is a match of the order-id pattern (case-insensitive, as ids are compared
    upper-cased), widened to the whole word it sits in. A clean id ("ORD-1001,") is looked
    up; one glued to more characters ("ORD-1001x") is passed on whole, and the tool answers
    with its usual "not a valid order id" error for Claude to explain. Beyond `limit` ids,
    Claude asks for the rest itself, as it would without prefetching.
    """

    def __init__(
        self,
        id_pattern: str,
        *,
        limit: int = Settings.prefetch_max_ids,
        tool_name: str = "get_order",
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._pattern = re.compile(id_pattern, re.IGNORECASE)
        self.limit = limit
        self.tool_name = tool_name

    def plan(self, text: str) -> list[PlannedCall]:
        ids: list[str] = []
        for candidate in self._candidates(text):
            normalised = candidate.strip().upper()
            if normalised and normalised not in ids:
                ids.append(normalised)
            if len(ids) == self.limit:
                break
        return [PlannedCall(self.tool_name, {"order_id": order_id}) for order_id in ids]

    def _candidates(self, text: str) -> list[str]:
        found: list[str] = []
        position = 0
        while position <= len(text):
            match = self._pattern.search(text, position)
            if match is None:
                break
            start, end = match.span()
            if end == start:  # a pattern that matches the empty string finds no ids
                position = end + 1
                continue
            while start > 0 and _TOKEN_CHARS.fullmatch(text[start - 1]):
                start -= 1
            while end < len(text) and _TOKEN_CHARS.fullmatch(text[end]):
                end += 1
            found.append(text[start:end])
            position = end
        return found


def text_of(content: str | list[dict[str, Any]]) -> str:
    """The text a user message carries (text blocks joined), for planning."""
    if isinstance(content, str):
        return content
    return "\n".join(str(b.get("text", "")) for b in content if b.get("type") == "text")
