"""Who may ask: only the installing workspace (plus any listed), optionally only in listed channels.

Front-agnostic: it knows workspace and channel ids as plain strings. The lifecycle asks it
before every turn of a front that names a channel (Slack); an API key has already decided.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot import prompts
from bot.settings import Settings


@dataclass(frozen=True)
class Refusal:
    """Why a message gets no model call, and the sentence the user sees instead."""

    reason: str
    notice: str


class AccessPolicy:
    """Only the installing workspace (plus any listed) may ask; optionally only in listed channels.

    In a Slack Connect channel, people from other organisations can mention the bot; by
    default they get a polite refusal and never reach Claude or the order data.
    """

    def __init__(
        self, *, allowed_teams: Iterable[str] = (), allowed_channels: Iterable[str] = ()
    ) -> None:
        self.allowed_teams = frozenset(allowed_teams)
        self.allowed_channels = frozenset(allowed_channels)

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessPolicy:
        return cls(allowed_teams=settings.allowed_teams, allowed_channels=settings.allowed_channels)

    def check(self, *, team: str, sender_teams: Iterable[str], channel: str) -> Refusal | None:
        """None if the sender may ask here; else why not.

        `team` is the workspace that installed the app, `sender_teams` every workspace id the
        event names for the sender (user_team, source_team, team): all must be allowed.
        """
        allowed = self.allowed_teams | {team}
        if any(sender not in allowed for sender in sender_teams):
            return Refusal("other_workspace", prompts.OTHER_WORKSPACE_NOTICE)
        if self.allowed_channels and channel not in self.allowed_channels:
            return Refusal("channel_not_allowed", prompts.CHANNEL_NOT_ALLOWED_NOTICE)
        return None
