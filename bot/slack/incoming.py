"""Which Slack events ShopMate answers, and what a user message is once Slack's noise is gone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Message subtypes that are not a person writing to us: edits, deletions, joins, bot posts...
# A message with no subtype (or thread_broadcast / file_share, handled as text) is a person's.
_PERSON_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class Incoming:
    """A user message worth answering, with the thread it belongs to."""

    team: str  # the workspace that installed the app (keys storage and budgets)
    user_team: str  # the sender's workspace; differs in Slack Connect channels
    channel: str
    user: str
    text: str
    ts: str
    thread_ts: str  # where the reply goes
    is_dm: bool
    mentioned: bool
    has_files: bool = False

    @property
    def thread_key(self) -> str:
        return f"slack:{self.team}:{self.channel}:{self.thread_ts}"

    @property
    def event_key(self) -> str:
        """One user message, however often and in however many event types Slack sends it."""
        return f"slack:{self.team}:{self.channel}:{self.ts}"


def parse_event(event: dict[str, Any], *, team: str, bot_user_id: str | None) -> Incoming | None:
    """Turn an app_mention or message event into an Incoming, or None if it is not for us.

    Ignored: our own messages, other bots, edits/deletes and other subtypes. The caller
    decides whether a channel message without a mention is a follow-up in a known thread.
    """
    if event.get("subtype") not in _PERSON_SUBTYPES:
        return None
    if event.get("bot_id") or event.get("bot_profile"):
        return None
    user = event.get("user")
    if not user or (bot_user_id and user == bot_user_id):
        return None
    channel = event.get("channel")
    ts = event.get("ts")
    if not channel or not ts:
        return None
    raw_text = event.get("text") or ""
    mentioned = event.get("type") == "app_mention" or bool(
        bot_user_id and any(m == bot_user_id for m in _MENTION.findall(raw_text))
    )
    is_dm = event.get("channel_type") == "im" or str(channel).startswith("D")
    return Incoming(
        team=team,
        user_team=event.get("user_team") or event.get("team") or team,
        channel=channel,
        user=user,
        text=strip_mention(raw_text, bot_user_id),
        ts=ts,
        thread_ts=event.get("thread_ts") or ts,
        is_dm=is_dm,
        mentioned=mentioned,
        has_files=bool(event.get("files")),
    )


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """Remove our own <@U…> mention; other people's mentions stay, they carry meaning."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", "", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()
