"""Thumbs up/down under finished answers: the buttons, and what a click does.

An answer's last message carries a `context_actions` block with Slack's `feedback_buttons`
element. Each button's value names the stored turn it rates ("positive:42"), so a click is
linked to that turn; the click is checked against where it happened (the turn must be in
the clicked message's channel and thread), stored once per person per answer (a second
click changes it), and only then acknowledged, to the clicker alone (an ephemeral message).
A click delivered twice (Socket Mode re-sends an unacknowledged envelope) is stored once and
acknowledged once. Other interactive features register their own listeners beside this one;
everything here is namespaced by `ACTION_ID`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.models.blocks import (
    ContextActionsBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
)

from bot.slack.ephemeral import tell_privately
from storage import StorageClosed
from storage.feedback import CHANGED, DUPLICATE, NEW, SAME, UNKNOWN, Click, FeedbackStore

logger = logging.getLogger(__name__)

ACTION_ID = "shopmate_feedback"
BLOCK_PREFIX = "shopmate_feedback_"
_VALUE = re.compile(r"(positive|negative):(\d{1,18})")

THANKS = {
    ("positive", NEW): "Thanks for the :thumbsup: — glad that helped.",
    ("negative", NEW): "Thanks for the :thumbsdown: — the team reviews answers rated like this.",
    ("positive", CHANGED): "Changed your rating of that answer to :thumbsup:. Thanks!",
    ("negative", CHANGED): "Changed your rating of that answer to :thumbsdown:. Thanks!",
    ("positive", SAME): "You have already rated that answer :thumbsup:.",
    ("negative", SAME): "You have already rated that answer :thumbsdown:.",
}
GONE = "Sorry, that answer is no longer on record, so your rating could not be saved."
UNAVAILABLE = "Sorry, your rating could not be saved just now. Please try again in a minute."


def feedback_blocks(turn_id: int) -> list[dict[str, Any]]:
    """The block that puts thumbs up/down under the answer stored as turn `turn_id`.

    Built with slack_sdk's models, which check Slack's limits (button text ≤ 75, value
    ≤ 2,000 characters, at most 5 elements). The block_id is unique per answer, as Slack
    asks of a block in a message that may be updated.
    """
    block = ContextActionsBlock(
        block_id=f"{BLOCK_PREFIX}{turn_id}",
        elements=[
            FeedbackButtonsElement(
                action_id=ACTION_ID,
                positive_button=FeedbackButtonObject(
                    text="👍",
                    accessibility_label="Good answer",
                    value=f"positive:{turn_id}",
                ),
                negative_button=FeedbackButtonObject(
                    text="👎",
                    accessibility_label="Not a good answer",
                    value=f"negative:{turn_id}",
                ),
            )
        ],
    )
    return [block.to_dict()]


@dataclass(frozen=True)
class _Where:
    """Where a click happened, from the block_actions payload: the acknowledgement goes there."""

    channel: str | None
    thread_ts: str | None
    message_ts: str | None
    user: str | None


def parse_click(body: dict[str, Any], action: dict[str, Any]) -> tuple[Click | None, _Where]:
    """The click in a block_actions payload, or None when its value is not one of ours."""
    container = _dict(body.get("container"))
    message = _dict(body.get("message"))
    user = _dict(body.get("user"))
    team = _dict(body.get("team"))
    channel = _str(container.get("channel_id")) or _str(_dict(body.get("channel")).get("id"))
    message_ts = _str(container.get("message_ts")) or _str(message.get("ts"))
    # A message in a thread names its root; the root itself (a DM reply's first message
    # never is one) has none, and then the answer's own ts stands in.
    thread_ts = _str(message.get("thread_ts")) or _str(container.get("thread_ts"))
    where = _Where(channel, thread_ts or message_ts, message_ts, _str(user.get("id")))
    match = _VALUE.fullmatch(_str(action.get("value")) or "")
    action_ts = _str(action.get("action_ts"))
    if match is None or where.user is None or action_ts is None:
        return None, where
    click = Click(
        turn_id=int(match.group(2)),
        user=where.user,
        rating=match.group(1),
        action_ts=action_ts,
        team=_str(user.get("team_id")) or _str(team.get("id")),
        team_domain=_str(team.get("domain")),
        channel=channel,
        thread_ts=thread_ts,
        message_ts=message_ts,
    )
    return click, where


def handle_click(
    body: dict[str, Any], action: dict[str, Any], store: FeedbackStore, client: WebClient
) -> str:
    """Store one click and tell the clicker; returns what storage did (or UNKNOWN)."""
    click, where = parse_click(body, action)
    if click is None:
        logger.warning(
            "Refused a feedback click with an unreadable value from %s in %s",
            where.user,
            where.channel,
        )
        _tell(client, where, GONE)
        return UNKNOWN
    try:
        outcome = store.record(click)
    except StorageClosed:
        logger.warning(
            "Feedback of %s on turn %s arrived while stopping", click.user, click.turn_id
        )
        _tell(client, where, UNAVAILABLE)
        return UNKNOWN
    if outcome == DUPLICATE:
        # Already stored, and already acknowledged by whoever stored it.
        logger.info("Feedback click %s of %s delivered again; ignored", click.action_ts, click.user)
        return outcome
    if outcome == UNKNOWN:
        logger.warning(
            "Refused feedback of %s on turn %s: no such answer in %s (thread %s)",
            click.user,
            click.turn_id,
            click.channel,
            click.thread_ts,
        )
        _tell(client, where, GONE)
        return outcome
    logger.info(
        "Feedback %s on turn %s by %s (%s)", click.rating, click.turn_id, click.user, outcome
    )
    _tell(client, where, THANKS[(click.rating, outcome)])
    return outcome


def _tell(client: WebClient, where: _Where, text: str) -> None:
    """An ephemeral message: only the clicker sees it, in the thread of the rated answer."""
    if where.channel is None or where.user is None:
        return
    tell_privately(client, where.channel, where.user, text, thread_ts=where.thread_ts)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
