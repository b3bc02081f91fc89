"""`shopmate doctor --post-test CHANNEL`: the one check that writes.

It posts a short parent message, streams a reply under it through the same `SlackReply` every
answer uses (native chat.startStream / appendStream / stopStream, falling back to
chat.postMessage + chat.update exactly as replies do), says which way worked, and deletes
everything it posted (chat.delete of the bot's own messages needs only chat:write). That is
how an operator learns whether native streaming works in their workspace before users do.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.doctor.result import Check, ok, problem, warning
from bot.doctor.slack import token_kind
from bot.doctor.slack_calls import SlackCallFailed, call, web_client
from bot.events import TextDelta
from bot.settings import Settings
from bot.slack.budget import CallBudget
from bot.slack.reply import ReplyOptions, ReplyTarget, SlackReply

logger = logging.getLogger(__name__)

AREA = "post-test"
PARENT_TEXT = "ShopMate doctor: checking how replies reach this channel. This deletes itself."
REPLY_PARTS = ("ShopMate doctor: ", "streamed replies ", "work here.")
STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")
_CHANNEL_FIXES = {
    "not_in_channel": "Invite ShopMate: type /invite @ShopMate in that channel.",
    "channel_not_found": "Give a channel id (C..., G... or D...) from the channel's details.",
    "is_archived": "Give a channel that is not archived.",
}


class RecordingClient(WebClient):
    """A WebClient that remembers each call's method and error code (None when it worked)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: list[tuple[str, str | None]] = []

    def api_call(self, api_method: str, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            response = super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            data = error.response.data if isinstance(error.response.data, dict) else {}
            self.outcomes.append((api_method, str(data.get("error") or "error")))
            raise
        except Exception:
            self.outcomes.append((api_method, "connection"))
            raise
        self.outcomes.append((api_method, None))
        return response

    def first(self, method: str) -> tuple[bool, str | None] | None:
        """(worked, error) of the first call to `method`; None if it was not called."""
        for name, error in self.outcomes:
            if name == method:
                return error is None, error
        return None

    def worked(self, method: str) -> bool:
        return any(name == method and error is None for name, error in self.outcomes)


def post_test(settings: Settings, channel: str) -> list[Check]:
    token = settings.slack_bot_token
    if not token or token_kind(token) != "bot":
        return [
            problem(AREA, channel, "not run: SLACK_BOT_TOKEN is not a bot token.", "See above.")
        ]
    plain = web_client(settings, token)
    client = RecordingClient(
        token=token, base_url=plain.base_url, timeout=plain.timeout, logger=plain.logger
    )
    try:
        auth = call(client.auth_test)
        parent = call(client.chat_postMessage, channel=channel, text=PARENT_TEXT)["ts"]
    except SlackCallFailed as failed:
        return [
            problem(
                AREA,
                channel,
                f"ShopMate cannot post in {channel} ({failed.code}).",
                _CHANNEL_FIXES.get(failed.code, "Run `shopmate doctor` without --post-test."),
            )
        ]
    target = ReplyTarget(
        team=str(auth.get("team_id")),
        channel=channel,
        thread_ts=parent,
        # Streams outside a DM name who they are for; the bot itself stands in here.
        user=None if channel.startswith("D") else auth.get("user_id"),
    )
    options = ReplyOptions(flush_interval=0.0, native_streaming=True, feedback=False)
    reply = SlackReply(
        client, CallBudget(minute_s=settings.slack_minute_s), target, options=options
    )
    try:
        for part in REPLY_PARTS:
            reply.handle(TextDelta(part))
    finally:
        reply.finish()
    return [_path_check(client, channel), _cleanup_check(client, channel, [*reply.posted, parent])]


def _path_check(client: RecordingClient, channel: str) -> Check:
    started = client.first("chat.startStream")
    if started is not None and started[0] and client.worked("chat.stopStream"):
        return ok(
            AREA,
            "streaming",
            f"native streaming works in {channel} ({', '.join(STREAM_METHODS)}).",
        )
    refused = started[1] if started is not None else "not tried"
    posted = sum(1 for name, error in client.outcomes if name == "chat.postMessage" and not error)
    if posted >= 2:  # the parent, then the reply
        return warning(
            AREA,
            "streaming",
            f"native streaming refused in {channel} ({refused}); replies fall back to "
            "chat.postMessage + chat.update, which worked.",
            "Replies still arrive, edited as they are written. For native streaming the app "
            "needs Slack's AI app features (agent view, assistant:write) in this workspace.",
        )
    return problem(
        AREA,
        "streaming",
        f"no reply reached {channel}: streaming ({refused}) and posting both failed.",
        "Look at the Slack errors above (--log-level debug shows every call).",
    )


def _cleanup_check(client: RecordingClient, channel: str, posted: list[str]) -> Check:
    left = []
    for ts in dict.fromkeys(posted):  # the reply's messages first, the parent last
        try:
            call(client.chat_delete, channel=channel, ts=ts)
        except SlackCallFailed as failed:
            if failed.code != "message_not_found":
                left.append(f"{ts} ({failed.code})")
    if left:
        return problem(
            AREA,
            "cleanup",
            f"could not delete {len(left)} test message(s) in {channel}: {', '.join(left)}.",
            "Delete them by hand in Slack.",
        )
    return ok(AREA, "cleanup", f"the test message and its reply were deleted ({len(posted)}).")
