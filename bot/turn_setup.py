"""What one turn adds to the engine's fixed request (kept apart so that building it is cheap).

The policy library builds a TurnSetup for every turn; `shopmate knowledge check` imports the
library without the anthropic SDK, which the engine needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.history import EPHEMERAL


@dataclass(frozen=True)
class TurnSetup:
    """What one turn adds to the fixed request; decided once, when the turn starts.

    `system_text` follows the system prompt as a block of its own and carries the system's
    cache breakpoint, so it is cached with the tools and the prompt before it (ShopMate's
    policies, which change only when someone edits them). `withheld_tools` are registered
    tools not offered in this turn (the policy search, while the policies are in the prompt).
    """

    system_text: str = ""
    withheld_tools: frozenset[str] = frozenset()

    def system(self, system_prompt: str) -> list[dict[str, Any]]:
        """The request's system blocks: the prompt, then this turn's text; the last one carries
        the cache breakpoint (what `shopmate doctor` measures as the cached prefix)."""
        system: list[dict[str, Any]] = [{"type": "text", "text": system_prompt}]
        if self.system_text:
            system.append({"type": "text", "text": self.system_text})
        system[-1]["cache_control"] = EPHEMERAL
        return system
