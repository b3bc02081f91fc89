"""Clicks on buttons of messages in the fake Slack, delivered as Slack delivers them."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from bot.simulators.slack import FakeSlack, Message
from bot.simulators.slack_events import DEFAULT_VERIFICATION_TOKEN, EventSender, next_ts, sign


def feedback_click(slack: FakeSlack, message: Message, rating: str, *, user: str) -> dict[str, Any]:
    """The block_actions payload Slack sends when `user` clicks a feedback button of `message`.

    Built from the message's blocks as the fake holds them, so only a button a user can see
    can be clicked; `rating` is "positive" or "negative".
    """
    for block in message.blocks:
        if block.get("type") != "context_actions":
            continue
        for element in block.get("elements", []):
            if element.get("type") == "feedback_buttons":
                button = element[f"{rating}_button"]
                action = {
                    "type": "feedback_buttons",
                    "action_id": element.get("action_id", ""),
                    "block_id": block.get("block_id", ""),
                    "value": button["value"],
                    "text": button["text"],
                    "action_ts": next_ts(),
                }
                return block_actions(slack, message, action, user=user)
    raise AssertionError(f"no feedback buttons on message {message.ts}: {message.blocks}")


def block_actions(
    slack: FakeSlack, message: Message, action: dict[str, Any], *, user: str
) -> dict[str, Any]:
    """A block_actions payload for one action on a message in a channel."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": message.channel,
        "is_ephemeral": False,
    }
    if message.thread_ts is not None:
        container["thread_ts"] = message.thread_ts
    return {
        "type": "block_actions",
        "user": {
            "id": user,
            "username": user.lower(),
            "name": user.lower(),
            "team_id": slack.team_id,
        },
        "api_app_id": slack.app_id,
        "token": DEFAULT_VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().hex[:12]}",
        "team": {"id": slack.team_id, "domain": slack.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": message.channel, "name": message.channel.lower()},
        "message": slack._message_dict(message, slack.team_id),
        "state": {"values": {}},
        "response_url": f"{slack.url}actions/{uuid.uuid4().hex}",
        "actions": [action],
    }


def post_interaction(
    sender: EventSender,
    payload: dict[str, Any],
    *,
    timestamp: int | None = None,
    signature: str | None = None,
    unsigned: bool = False,
) -> int:
    """POST an interaction as Slack does (form-encoded `payload=`, signed); the HTTP status."""
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if not unsigned:
        headers["X-Slack-Request-Timestamp"] = str(ts)
        headers["X-Slack-Signature"] = signature or sign(sender.signing_secret, body, ts)
    request = urllib.request.Request(sender.url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=sender.timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
