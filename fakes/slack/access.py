"""What the fake Slack lets a token do: its granted scopes and the channels the bot can see.

Real Slack reports a token's scopes in the `x-oauth-scopes` header of every Web API response
and refuses a method whose scope was not granted (`missing_scope`, naming what was `needed`).
A channel can be missing (`channel_not_found`) or one the bot is not in (`not_in_channel` for
a post; `conversations.info` says `is_member: false`). By default every scope of ShopMate's
manifest is granted and every channel exists with the bot in it, so tests that do not care
see a well-installed app; `grant_scopes`, `remove_channel` and `remove_bot_from` say no.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from bot.slack.scopes import MANIFEST_SCOPES
from fakes.slack.wire import SlackError

logger = logging.getLogger(__name__)

# By default the fake grants what manifest.yml asks for (bot/slack/scopes.py: the one copy of
# that list, which tests/doctor/test_scopes.py holds equal to the manifest).
DEFAULT_BOT_SCOPES: tuple[str, ...] = MANIFEST_SCOPES
APP_TOKEN_SCOPES: tuple[str, ...] = ("connections:write",)

# The scope a method needs, for the methods whose refusal tests care about (docs.slack.dev).
METHOD_SCOPES: dict[str, str] = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.startStream": "chat:write",
    "chat.appendStream": "chat:write",
    "chat.stopStream": "chat:write",
    "chat.postEphemeral": "chat:write",
    "assistant.threads.setStatus": "assistant:write",
    "assistant.threads.setSuggestedPrompts": "assistant:write",
    "assistant.threads.setTitle": "assistant:write",
    "usergroups.users.list": "usergroups:read",
    "users.info": "users:read",
    "conversations.info": "channels:read",
}
# Methods that write into a channel, refused where the bot is not a member.
_POSTING = frozenset({"chat.postMessage", "chat.startStream", "chat.postEphemeral"})


class AccessMethods:
    """Mixed into FakeSlack: scopes, conversations.info, and channels that say no.

    Configuration, like user groups: `reset()` keeps it.
    """

    METHODS: ClassVar[dict[str, str]] = {"conversations.info": "_conversations_info"}

    def _init_access(self) -> None:
        self._granted: tuple[str, ...] = DEFAULT_BOT_SCOPES
        self._missing_channels: set[str] = set()
        self._outside_channels: set[str] = set()

    # ----------------------------------------------------------------- test controls

    def grant_scopes(self, scopes: Iterable[str]) -> None:
        """Grant the bot token exactly these scopes (as if installed with fewer)."""
        with self._cond:  # type: ignore[attr-defined]
            self._granted = tuple(scopes)

    def remove_channel(self, channel: str) -> None:
        """Make `channel` unknown: channel_not_found for every method naming it."""
        with self._cond:  # type: ignore[attr-defined]
            self._missing_channels.add(channel)

    def remove_bot_from(self, channel: str) -> None:
        """The channel exists but the bot is not in it: posts answer not_in_channel."""
        with self._cond:  # type: ignore[attr-defined]
            self._outside_channels.add(channel)

    # ----------------------------------------------------------------- request handling

    def _scopes_header(self, token: str | None) -> dict[str, str]:
        """The x-oauth-scopes header Slack sends back for this token (none if not a token)."""
        if token is None:
            return {}
        scopes = APP_TOKEN_SCOPES if token.startswith("xapp-") else self._granted
        return {"x-oauth-scopes": ",".join(scopes)}

    def _check_access(self, method: str, args: Mapping[str, Any]) -> None:
        """Refuse a method as Slack would: a scope not granted, a channel missing or closed."""
        needed = METHOD_SCOPES.get(method)
        if needed is not None and needed not in self._granted:
            raise SlackError("missing_scope", needed=needed, provided=",".join(self._granted))
        channel = args.get("channel") or args.get("channel_id")
        if not isinstance(channel, str):
            return
        if channel in self._missing_channels:
            raise SlackError("channel_not_found")
        if method in _POSTING and channel in self._outside_channels:
            raise SlackError("not_in_channel")

    def _conversations_info(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args)  # type: ignore[attr-defined]
        return {
            "channel": {
                "id": channel,
                "name": f"channel-{channel.lower()}",
                "is_channel": channel.startswith("C"),
                "is_group": channel.startswith("G"),
                "is_im": channel.startswith("D"),
                "is_private": channel.startswith("G"),
                "is_archived": False,
                "is_member": channel not in self._outside_channels,
                "context_team_id": team,
            }
        }
