"""Which Slack events ShopMate answers, and what a user message is once Slack's noise is gone."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from bot.input_cut import clean_text
from bot.keys import SLACK, Key
from bot.lifecycle import UserMessage
from bot.slack.files import file_fields

# Message subtypes that are not a person writing to us: edits, deletions, joins, bot posts...
# A message with no subtype (or thread_broadcast / file_share, handled as text) is a person's.
_PERSON_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
# Slack's ids (T…, C…, U…) and message timestamps ("1700000000.000100"). Anything else in a
# signed body is not a message from a person, and must never become part of a storage key.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TS = re.compile(r"\d{1,12}(\.\d{1,9})?")


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
    sender_teams: tuple[str, ...] = ()  # every workspace id the event gives for the sender
    files: tuple[dict[str, Any], ...] = ()  # Slack file objects (bot/slack/files.py's fields)

    @property
    def thread_key(self) -> str:
        return str(Key.slack(self.team, self.channel, self.thread_ts))

    @property
    def event_key(self) -> str:
        """One user message, however often and in however many event types Slack sends it."""
        return str(Key.slack(self.team, self.channel, self.ts))

    def as_message(self) -> UserMessage:
        """This message as the turn lifecycle takes it (any front's shape)."""
        return UserMessage(
            conversation=Key.slack(self.team, self.channel, self.thread_ts),
            text=self.text,
            user=self.user,
            team=self.team,
            message=Key.slack(self.team, self.channel, self.ts),
            channel=self.channel,
            sender_teams=self.sender_teams,
            has_files=self.has_files,
            thread_ts=self.thread_ts,
        )

    def to_stored(self) -> dict[str, Any]:
        """A plain dict to store with the claim, so another process can answer it later."""
        stored = dataclasses.asdict(self)
        stored["sender_teams"] = list(self.sender_teams)
        stored["files"] = [dict(f) for f in self.files]
        return stored

    @classmethod
    def from_stored(cls, stored: Any) -> Incoming | None:
        """Rebuild a message from `to_stored()`'s dict; None if it is not one (or tampered)."""
        if not isinstance(stored, dict):
            return None
        files = file_fields(stored.get("files"))
        if files is None:
            return None
        try:
            incoming = cls(
                **{
                    **stored,
                    "sender_teams": tuple(stored.get("sender_teams") or ()),
                    "files": files,
                }
            )
        except TypeError:
            return None
        ids = (incoming.team, incoming.user_team, incoming.channel, incoming.user)
        if not (all(_is_id(v) for v in ids) and _is_ts(incoming.ts) and _is_ts(incoming.thread_ts)):
            return None
        if not isinstance(incoming.text, str):
            return None
        return incoming


def parse_event(event: dict[str, Any], *, team: str, bot_user_id: str | None) -> Incoming | None:
    """Turn an app_mention or message event into an Incoming, or None if it is not for us.

    Ignored: our own messages, other bots, edits/deletes and other subtypes, and events
    whose ids or text are not what Slack sends (wrong types, odd characters). The caller
    decides whether a channel message without a mention is a follow-up in a known thread.
    """
    if event.get("subtype") not in _PERSON_SUBTYPES:
        return None
    if event.get("bot_id") or event.get("bot_profile"):
        return None
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    thread_ts = event.get("thread_ts") or ts
    if not (_is_id(team) and _is_id(user) and _is_id(channel) and _is_ts(ts)):
        return None
    if not _is_ts(thread_ts) or (bot_user_id and user == bot_user_id):
        return None
    sender_fields = [event.get(name) for name in ("user_team", "source_team", "team")]
    if not all(value is None or _is_id(value) for value in sender_fields):
        return None
    sender_teams = tuple(dict.fromkeys(value for value in sender_fields if value))
    raw_text = event.get("text")
    if raw_text is None:
        raw_text = ""
    if not isinstance(raw_text, str):
        return None
    files = file_fields(event.get("files"))
    if files is None:
        return None
    raw_text = clean_text(raw_text)
    mentioned = event.get("type") == "app_mention" or bool(
        bot_user_id and any(m == bot_user_id for m in _MENTION.findall(raw_text))
    )
    is_dm = event.get("channel_type") == "im" or channel.startswith("D")
    return Incoming(
        team=team,
        user_team=sender_teams[0] if sender_teams else team,
        channel=channel,
        user=user,
        text=clean_text(strip_mention(raw_text, bot_user_id)),
        ts=ts,
        thread_ts=thread_ts,
        is_dm=is_dm,
        mentioned=mentioned,
        has_files=bool(event.get("files")),
        sender_teams=sender_teams,
        files=files,
    )


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _is_ts(value: Any) -> bool:
    return isinstance(value, str) and _TS.fullmatch(value) is not None


def parse_event_key(key: str) -> tuple[str, str, str] | None:
    """(team, channel, ts) from an `Incoming.event_key` or `thread_key`; None if not one."""
    parsed = Key.parse(key)
    if parsed is None or parsed.platform != SLACK:
        return None
    team, channel, ts = parsed.parts
    if not (_is_id(team) and _is_id(channel) and _is_ts(ts)):
        return None
    return team, channel, ts


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """Remove our own <@U…> mention; other people's mentions stay, they carry meaning."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", "", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()
