"""A person clicking a button of a message in the fake Slack: the `block_actions` payload Slack
would send, built from the blocks the message shows right now.

Only what is visible can be clicked: a deleted message, or one without that element, raises
LookupError, so a test cannot click a button the app never sent. Deliver the payload with
`EventSender.post_interaction` (HTTP) or `FakeSocketMode.send_interaction` (Socket Mode).
"""

from __future__ import annotations

import logging
from typing import Any

from fakes.slack.events import block_actions_payload, view_block_actions_payload

logger = logging.getLogger(__name__)


def click(
    slack: Any,
    channel: str,
    ts: str,
    *,
    user: str,
    action_id: str,
    button: str | None = None,
) -> dict[str, Any]:
    """`user` clicks the element `action_id` of message `ts` in `channel`.

    For `feedback_buttons`, `button` says which: "positive" or "negative". For a `button`
    element it is not needed. `slack` is a FakeSlack.
    """
    message = slack.message(channel, ts)
    if message.deleted:
        raise LookupError(f"message {ts} in {channel} was deleted")
    for block in message.blocks:
        for element in _elements(block):
            if element.get("action_id") != action_id:
                continue
            if element.get("type") == "feedback_buttons":
                if button not in ("positive", "negative"):
                    raise ValueError("say button='positive' or 'negative' for feedback_buttons")
                chosen = element[f"{button}_button"]
                action = _action(block, element, chosen["value"], chosen["text"])
            else:
                action = _action(block, element, element.get("value"), element.get("text"))
            return block_actions_payload(
                **_workspace(slack),
                channel=channel,
                user=user,
                message=slack._message_dict(message, slack.team_id),
                action=action,
            )
    raise LookupError(f"message {ts} in {channel} shows no element {action_id!r}")


def click_home(
    slack: Any, user: str, *, action_id: str, block_id: str | None = None
) -> dict[str, Any]:
    """`user` clicks the element `action_id` (in block `block_id`, when several blocks show
    one) on the Home tab they see now; LookupError if their Home shows no such element."""
    view = slack.home_view(user)
    if view is None:
        raise LookupError(f"nothing is published on {user}'s Home")
    for block in view.get("blocks", []):
        if block_id is not None and block.get("block_id") != block_id:
            continue
        for element in _elements(block):
            if element.get("action_id") != action_id:
                continue
            action = _action(block, element, element.get("value"), element.get("text"))
            return view_block_actions_payload(
                **_workspace(slack),
                user=user,
                view=view,
                action=action,
            )
    raise LookupError(f"{user}'s Home shows no element {action_id!r} (block {block_id!r})")


def _elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The interactive elements a block shows (actions and context_actions blocks, accessories)."""
    found = [e for e in block.get("elements", []) or [] if isinstance(e, dict)]
    accessory = block.get("accessory")
    if isinstance(accessory, dict):
        found.append(accessory)
    return found


def _action(
    block: dict[str, Any], element: dict[str, Any], value: Any, text: Any
) -> dict[str, Any]:
    """The `actions[0]` Slack reports for a click on `element`: its value and text when it has
    them (a feedback button's are those of the side clicked)."""
    action: dict[str, Any] = {
        "type": element.get("type"),
        "action_id": element.get("action_id"),
        "block_id": block.get("block_id", ""),
    }
    action.update({k: v for k, v in (("value", value), ("text", text)) if v is not None})
    return action


def _workspace(slack: Any) -> dict[str, str]:
    """Whose app was clicked: the fake workspace and app every payload names."""
    return {"team": slack.team_id, "team_domain": slack.team_domain, "api_app_id": slack.app_id}
