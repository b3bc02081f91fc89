"""Block Kit checks for interactive blocks, as Slack makes them: the fake refuses what Slack would.

Covers the `context_actions` block and its `feedback_buttons` / `icon_button` elements
(docs.slack.dev/reference/block-kit), and block_id rules for every block: at most 255
characters and unique within a message. A refusal is `invalid_blocks`, as from Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fakes.slack.messages import SlackError

logger = logging.getLogger(__name__)

BLOCK_ID_MAX = 255
ACTION_ID_MAX = 255
CONTEXT_ACTIONS_ELEMENTS_MAX = 5
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACCESSIBILITY_LABEL_MAX = 75


def check_blocks(blocks: list[Any]) -> None:
    """Raise SlackError("invalid_blocks") if Slack would refuse these blocks' interactive parts."""
    seen: set[str] = set()
    for block in blocks:
        block_id = block.get("block_id")
        if block_id is not None:
            _require(isinstance(block_id, str) and 0 < len(block_id) <= BLOCK_ID_MAX, "block_id")
            _require(block_id not in seen, f"duplicate block_id {block_id!r}")
            seen.add(block_id)
        if block.get("type") == "context_actions":
            _context_actions(block)


def _context_actions(block: Mapping[str, Any]) -> None:
    elements = block.get("elements")
    _require(isinstance(elements, list) and elements, "context_actions needs elements")
    _require(len(elements) <= CONTEXT_ACTIONS_ELEMENTS_MAX, "context_actions: at most 5 elements")
    action_ids: set[str] = set()
    for element in elements:
        _require(isinstance(element, Mapping), "context_actions: an element is not an object")
        kind = element.get("type")
        if kind == "feedback_buttons":
            for side in ("positive_button", "negative_button"):
                _feedback_button(element.get(side), side)
        elif kind == "icon_button":
            _require(isinstance(element.get("icon"), str), "icon_button needs an icon")
            _plain_text(element.get("text"), "icon_button text")
        else:
            _require(False, f"context_actions takes no {kind!r} element")
        action_id = element.get("action_id")
        if action_id is not None:
            _require(
                isinstance(action_id, str) and 0 < len(action_id) <= ACTION_ID_MAX, "action_id"
            )
            _require(action_id not in action_ids, f"duplicate action_id {action_id!r}")
            action_ids.add(action_id)


def _feedback_button(button: Any, side: str) -> None:
    _require(isinstance(button, Mapping), f"feedback_buttons needs {side}")
    _plain_text(button.get("text"), f"{side} text")
    value = button.get("value")
    _require(isinstance(value, str) and 0 < len(value) <= BUTTON_VALUE_MAX, f"{side} value")
    label = button.get("accessibility_label")
    if label is not None:
        _require(
            isinstance(label, str) and len(label) <= ACCESSIBILITY_LABEL_MAX,
            f"{side} accessibility_label",
        )


def _plain_text(obj: Any, what: str) -> None:
    _require(
        isinstance(obj, Mapping)
        and obj.get("type") == "plain_text"
        and isinstance(obj.get("text"), str)
        and 0 < len(obj["text"]) <= BUTTON_TEXT_MAX,
        f"{what}: plain_text of 1 to {BUTTON_TEXT_MAX} characters",
    )


def _require(ok: bool, problem: str) -> None:
    if not ok:
        logger.debug("fake slack: invalid_blocks (%s)", problem)
        raise SlackError("invalid_blocks", response_metadata={"messages": [f"[ERROR] {problem}"]})
