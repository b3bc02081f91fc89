"""The Slack side of the hand-off: escalations and approval requests posted in a channel.

`SlackHandoffNotifier` is the front's `HandoffNotifier`: it links the asker's thread
(chat.getPermalink), mentions the escalation user group and, for a change request, adds
Approve / Reject buttons (handled in bot/slack/approvals.py). Text is Slack mrkdwn.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

from bot.handoff.service import KIND_WORDS, NotifyFailed, Posted, describe_request
from bot.keys import SLACK, Key
from bot.settings import Settings
from bot.slack.budget import CallBudget
from bot.slack.calls import NO_BUDGET, SlackCalls

logger = logging.getLogger(__name__)

# How long a hand-off post may wait for a slot in the workspace's call budget.
BUDGET_WAIT_S = 30.0
# Namespaced so other buttons (feedback) never collide with ours.
APPROVE_ACTION = "handoff.approve"
REJECT_ACTION = "handoff.reject"
SECTION_LIMIT = 3000


class SlackHandoffNotifier:
    """Posts hand-offs in SHOPMATE_ESCALATION_CHANNEL with the bot's own Web client.

    Its posts take their turn in the workspace's call budget, shared with the replies, so a
    hand-off never provokes a 429 that an answer would pay for.
    """

    def __init__(
        self, client: WebClient, settings: Settings, *, budget: CallBudget | None = None
    ) -> None:
        if not settings.escalation_channel:
            raise ValueError("SlackHandoffNotifier needs SHOPMATE_ESCALATION_CHANNEL")
        self.client = client
        self.channel = settings.escalation_channel
        self.group = settings.escalation_group
        self.calls = SlackCalls(budget)

    def post_escalation(self, escalation: dict[str, Any], conversation: Key) -> Posted:
        link = self._permalink(conversation)
        lines = [
            f"{self._mention()}*Hand-off from ShopMate* ({escalation['reason'].replace('_', ' ')})",
            f"*Summary:* {escalation['summary']}",
            f"*Order:* {escalation.get('order_id') or 'none given'}",
            f"*Asked by:* {_user(escalation.get('user'))}",
            f"*Thread:* {_link(link)}",
            "Please reply in that thread; the customer was told a person will follow up there.",
        ]
        return self._post("\n".join(lines), link, conversation, blocks=None)

    def post_request(self, request: dict[str, Any], conversation: Key) -> Posted:
        link = self._permalink(conversation)
        text = "\n".join(
            [
                f"{self._mention()}*Approval needed:* {describe_request(request)}",
                f"*Reason:* {request.get('reason') or '-'}",
                f"*Asked by:* {_user(request.get('user'))}",
                f"*Thread:* {_link(link)}",
            ]
        )
        blocks = request_blocks(text, request["id"])
        return self._post(text, link, conversation, blocks=blocks)

    def _post(
        self, text: str, link: str | None, conversation: Key, *, blocks: list[dict] | None
    ) -> Posted:
        team = conversation.parts[0] if conversation.platform == SLACK else "unknown"
        outcome = self.calls.waited(
            self.client,
            team,
            "chat.postMessage",
            timeout=BUDGET_WAIT_S,
            channel=self.channel,
            text=text,
            blocks=blocks,
            unfurl_links=False,
        )
        if outcome.error == NO_BUDGET:
            raise NotifyFailed("no chat.postMessage slot in the call budget")
        if not outcome.ok:
            raise NotifyFailed(f"chat.postMessage: {outcome.error}")
        return Posted(self.channel, outcome.response["ts"], link)

    def _permalink(self, conversation: Key) -> str | None:
        """The asker's thread as a link, or None (the post still goes out without it)."""
        if conversation.platform != SLACK:
            return None
        _, channel, thread_ts = conversation.parts
        outcome = self.calls.call(
            self.client, None, "chat.getPermalink", channel=channel, message_ts=thread_ts
        )
        if not outcome.ok:
            logger.warning("chat.getPermalink failed: %s", outcome.error)
            return None
        return outcome.response["permalink"]

    def _mention(self) -> str:
        return f"<!subteam^{self.group}> " if self.group else ""


def request_blocks(text: str, request_id: int) -> list[dict[str, Any]]:
    """The request's text and its Approve / Reject buttons (value: the request id)."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}},
        {
            "type": "actions",
            "block_id": f"handoff_request_{request_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE_ACTION,
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                    "value": str(request_id),
                },
                {
                    "type": "button",
                    "action_id": REJECT_ACTION,
                    "text": {"type": "plain_text", "text": "Reject"},
                    "style": "danger",
                    "value": str(request_id),
                },
            ],
        },
    ]


def decided_blocks(request: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The request message once decided: its text and who decided, buttons gone."""
    verb = "Approved" if request["status"] == "approved" else "Rejected"
    what = KIND_WORDS.get(request["kind"], request["kind"])
    headline = f"{verb} by <@{request['decided_by']}>: {what} for {request['order_id']}"
    size = request["details"].get("new_size")
    if size:
        headline += f" (to {size})"
    return headline, [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:SECTION_LIMIT]}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Request {request['id']}"}],
        },
    ]


def _user(user: str | None) -> str:
    return f"<@{user}>" if user else "unknown"


def _link(url: str | None) -> str:
    return f"<{url}|open the thread>" if url else "(no link available)"
