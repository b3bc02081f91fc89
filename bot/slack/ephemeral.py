"""A message only one person sees: the answer to a click (a rating, a refused approval)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)


def tell_privately(
    client: WebClient, channel: str, user: str, text: str, *, thread_ts: str | None = None
) -> None:
    """`chat.postEphemeral`, never raising: the click it answers is already handled and
    stored, so a failure to say so is logged, not passed up into Bolt's listener."""
    try:
        client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text)
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else None
        logger.warning("Slack API error: method=chat.postEphemeral error=%s", code)
    except Exception as error:  # connection failures after the client's retries
        logger.warning(
            "Slack API call failed: method=chat.postEphemeral error=%s", type(error).__name__
        )
