"""Block Kit checks for interactive blocks, as Slack makes them: the fake refuses what Slack would.

Covers the `context_actions` block and its `feedback_buttons` / `icon_button` elements
(docs.slack.dev/reference/block-kit), and block_id rules for every block: at most 255
characters and unique within a message. A refusal is `invalid_blocks`, as from Slack.
`check_view` checks a whole view (views.publish) against Block Kit's limits: the block count,
text lengths, element types and duplicate ids; it refuses with `invalid_arguments`.
`parse_blocks` reads a message's `blocks` argument and applies all of the message checks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from fakes.slack.wire import SlackError

logger = logging.getLogger(__name__)

BLOCK_ID_MAX = 255
ACTION_ID_MAX = 255
CONTEXT_ACTIONS_ELEMENTS_MAX = 5
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACCESSIBILITY_LABEL_MAX = 75
BLOCKS_MAX = 50
MARKDOWN_BLOCKS_MAX = 12_000


def parse_blocks(raw: Any) -> list[dict[str, Any]]:
    """A message's `blocks` (JSON text or a list), refused as Slack refuses them."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise SlackError("invalid_blocks_format") from exc
    if not isinstance(raw, list):
        raise SlackError("invalid_blocks_format")
    if len(raw) > BLOCKS_MAX:
        raise SlackError("invalid_blocks")
    markdown_total = 0
    for block in raw:
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise SlackError("invalid_blocks")
        if block["type"] == "markdown":
            text = block.get("text")
            if not isinstance(text, str):
                raise SlackError("invalid_blocks")
            markdown_total += len(text)
        elif block["type"] == "section":
            text = block.get("text")
            if isinstance(text, Mapping) and len(str(text.get("text", ""))) > SECTION_TEXT_MAX:
                raise SlackError("invalid_blocks")
    if markdown_total > MARKDOWN_BLOCKS_MAX:
        raise SlackError("invalid_blocks")
    check_blocks(raw)  # interactive blocks (feedback buttons) and block_ids, as Slack checks
    return [dict(b) for b in raw]


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


# -- views (views.publish) ----------------------------------------------------------------------
# Limits from docs.slack.dev/reference/block-kit (blocks, block elements, composition objects)
# and views.publish: a view holds at most 100 blocks; Slack answers a view that breaks a rule
# with `invalid_arguments` and one "[ERROR] … [json-pointer:/view/…]" line per problem in
# `response_metadata.messages`.
VIEW_BLOCKS_MAX = 100
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
MARKDOWN_TEXT_MAX = 12_000
URL_MAX = 3000
VIEW_TYPES = frozenset({"home", "modal"})
VIEW_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
    }
)
ACTION_ELEMENT_TYPES = frozenset(
    {
        "button",
        "checkboxes",
        "datepicker",
        "datetimepicker",
        "overflow",
        "radio_buttons",
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
        "timepicker",
        "workflow_button",
    }
)
ACCESSORY_TYPES = ACTION_ELEMENT_TYPES | {"image"}


def check_view(view: Any) -> None:
    """Raise SlackError("invalid_arguments") listing every rule `view` breaks, as Slack does."""
    problems: list[str] = []
    _view_problems(view, problems)
    if problems:
        logger.debug("fake slack: invalid view (%s)", problems)
        raise SlackError("invalid_arguments", response_metadata={"messages": problems})


def _view_problems(view: Any, problems: list[str]) -> None:
    def say(problem: str, pointer: str) -> None:
        problems.append(f"[ERROR] {problem} [json-pointer:/view{pointer}]")

    if not isinstance(view, Mapping):
        say("must provide an object", "")
        return
    if view.get("type") not in VIEW_TYPES:
        say("must be one of home, modal", "/type")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        say("must provide an array", "/blocks")
        return
    if len(blocks) > VIEW_BLOCKS_MAX:
        say(f"must be less than {VIEW_BLOCKS_MAX + 1} items", "/blocks")
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        _block(block, f"/blocks/{index}", seen, say)


def _block(block: Any, at: str, seen: set[str], say: Callable[[str, str], None]) -> None:
    if not isinstance(block, Mapping) or block.get("type") not in VIEW_BLOCK_TYPES:
        say("failed to match all allowed schemas", at)
        return
    block_id = block.get("block_id")
    if block_id is not None:
        if not isinstance(block_id, str) or not 0 < len(block_id) <= BLOCK_ID_MAX:
            say(f"must be less than {BLOCK_ID_MAX + 1} characters", f"{at}/block_id")
        elif block_id in seen:
            say(f"duplicate block_id {block_id!r}", f"{at}/block_id")
        seen.add(str(block_id))
    kind = block["type"]
    if kind == "section":
        _section(block, at, say)
    elif kind == "header":
        _text(block.get("text"), f"{at}/text", HEADER_TEXT_MAX, say, plain_only=True)
    elif kind == "context":
        _context(block, at, say)
    elif kind == "actions":
        _actions(block, at, say)
    elif kind == "markdown":
        text = block.get("text")
        if not isinstance(text, str) or not 0 < len(text) <= MARKDOWN_TEXT_MAX:
            say(f"must be 1 to {MARKDOWN_TEXT_MAX} characters", f"{at}/text")


def _items(value: Any, most: int, at: str, say: Callable[[str, str], None]) -> list[Any]:
    """`value` when it is a list of 1 to `most` items; else says so and gives no items to check."""
    if not isinstance(value, list) or not 0 < len(value) <= most:
        say(f"must be 1 to {most} items", at)
        return []
    return value


def _section(block: Mapping[str, Any], at: str, say: Callable[[str, str], None]) -> None:
    fields = block.get("fields")
    if block.get("text") is None and fields is None:
        say("must provide text or fields", at)
    if block.get("text") is not None:
        _text(block["text"], f"{at}/text", SECTION_TEXT_MAX, say)
    if fields is not None:
        for i, field in enumerate(_items(fields, SECTION_FIELDS_MAX, f"{at}/fields", say)):
            _text(field, f"{at}/fields/{i}", SECTION_FIELD_TEXT_MAX, say)
    accessory = block.get("accessory")
    if accessory is not None:
        _element(accessory, f"{at}/accessory", ACCESSORY_TYPES, say)


def _context(block: Mapping[str, Any], at: str, say: Callable[[str, str], None]) -> None:
    elements = _items(block.get("elements"), CONTEXT_ELEMENTS_MAX, f"{at}/elements", say)
    for i, element in enumerate(elements):
        if isinstance(element, Mapping) and element.get("type") == "image":
            continue
        _text(element, f"{at}/elements/{i}", SECTION_TEXT_MAX, say)


def _actions(block: Mapping[str, Any], at: str, say: Callable[[str, str], None]) -> None:
    elements = _items(block.get("elements"), ACTIONS_ELEMENTS_MAX, f"{at}/elements", say)
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        _element(element, f"{at}/elements/{i}", ACTION_ELEMENT_TYPES, say)
        action_id = element.get("action_id") if isinstance(element, Mapping) else None
        if isinstance(action_id, str):
            if action_id in action_ids:
                say(f"duplicate action_id {action_id!r}", f"{at}/elements/{i}/action_id")
            action_ids.add(action_id)


def _element(
    element: Any, at: str, allowed: frozenset[str], say: Callable[[str, str], None]
) -> None:
    if not isinstance(element, Mapping) or element.get("type") not in allowed:
        say("failed to match all allowed schemas", at)
        return
    action_id = element.get("action_id")
    if action_id is not None and (
        not isinstance(action_id, str) or not 0 < len(action_id) <= ACTION_ID_MAX
    ):
        say(f"must be less than {ACTION_ID_MAX + 1} characters", f"{at}/action_id")
    if element["type"] != "button":
        return
    _text(element.get("text"), f"{at}/text", BUTTON_TEXT_MAX, say, plain_only=True)
    value = element.get("value")
    if value is not None and (not isinstance(value, str) or len(value) > BUTTON_VALUE_MAX):
        say(f"must be less than {BUTTON_VALUE_MAX + 1} characters", f"{at}/value")
    url = element.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > URL_MAX):
        say(f"must be less than {URL_MAX + 1} characters", f"{at}/url")
    if element.get("style") not in (None, "primary", "danger"):
        say("must be one of primary, danger", f"{at}/style")


def _text(
    obj: Any,
    at: str,
    limit: int,
    say: Callable[[str, str], None],
    *,
    plain_only: bool = False,
) -> None:
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if not isinstance(obj, Mapping) or obj.get("type") not in kinds:
        say(f"must be a {' or '.join(kinds)} text object", at)
        return
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        say("must be more than 0 characters", f"{at}/text")
    elif len(text) > limit:
        say(f"must be less than {limit + 1} characters", f"{at}/text")
