"""A message only one person sees: the answer to a click (a rating, a refused approval)."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.slack.calls import SlackCalls


def tell_privately(
    client: WebClient, channel: str, user: str, text: str, *, thread_ts: str | None = None
) -> None:
    """`chat.postEphemeral`, never raising: the click it answers is already handled and
    stored, so a failure to say so is logged (by method and code), not passed up into Bolt's
    listener."""
    kwargs = {"channel": channel, "user": user, "thread_ts": thread_ts, "text": text}
    SlackCalls().call(client, None, "chat.postEphemeral", **kwargs)
