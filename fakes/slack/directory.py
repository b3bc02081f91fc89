"""The fake's read-only methods: the app, users, the workspace, threads, Socket Mode."""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

from fakes.slack.messages import ts_key
from fakes.slack.wire import SlackError, require

logger = logging.getLogger(__name__)


class DirectoryMethods:
    """Mixed into FakeSlack, whose state (messages, users, team) these read."""

    METHODS: ClassVar[dict[str, str]] = {
        "auth.test": "_auth_test",
        "conversations.replies": "_replies",
        "users.info": "_users_info",
        "team.info": "_team_info",
        "apps.connections.open": "_connections_open",
        "chat.getPermalink": "_get_permalink",
    }

    def _auth_test(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "shopmate",
            "team_id": team,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _replies(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args)
        require(args, "ts")
        ts = str(args["ts"])
        found = sorted(
            (
                m
                for m in self._messages.values()
                if m.channel == channel and not m.deleted and (m.ts == ts or m.thread_ts == ts)
            ),
            key=lambda m: ts_key(m.ts),
        )
        # An unknown thread answers ok with no messages (the fake never saw the user's post),
        # so bots work without seeding; seed with add_user_message() for realistic history.
        try:
            limit = max(1, min(int(args.get("limit") or 1000), 1000))
            start = int(args.get("cursor") or 0)
        except ValueError as exc:
            raise SlackError("invalid_cursor") from exc
        page = found[start : start + limit]
        more = start + limit < len(found)
        out = [self._message_dict(m, team) for m in page]
        for item in out:
            item.setdefault("thread_ts", ts)
        return {
            "messages": out,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _users_info(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        user = args.get("user")
        if not isinstance(user, str) or not user:
            raise SlackError("user_not_found")
        is_bot = user == self.bot_user_id
        name = "shopmate" if is_bot else user.lower()
        return {
            "user": {
                "id": user,
                "team_id": team,
                "name": name,
                "real_name": "ShopMate" if is_bot else f"User {user}",
                "tz": "America/New_York",
                "tz_offset": -18000,
                "is_bot": is_bot,
                "deleted": False,
                "profile": {
                    "display_name": name,
                    "real_name": "ShopMate" if is_bot else f"User {user}",
                    "team": team,
                },
            }
        }

    def _connections_open(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        if self.socket_mode is None:
            raise SlackError("not_allowed")
        return {"url": self.socket_mode.new_url()}

    def _team_info(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        return {
            "team": {
                "id": team,
                "name": self.team_name,
                "domain": self.team_domain,
                "email_domain": "",
                "icon": {},
            }
        }

    def _get_permalink(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        """Slack's link form: /archives/C/p<ts without the dot>, with thread_ts for replies.

        The fake does not hold every user message (it answers for any well-formed ts); a
        message it does hold that was deleted answers message_not_found, as Slack does.
        """
        channel = self._channel(args)
        require(args, "message_ts")
        ts = str(args["message_ts"])
        if not re.fullmatch(r"\d+\.\d{6}", ts):
            raise SlackError("message_not_found")
        known = self._messages.get((channel, ts))
        if known is not None and known.deleted:
            raise SlackError("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if known is not None and known.thread_ts and known.thread_ts != ts:
            link += f"?thread_ts={known.thread_ts}&cid={channel}"
        return {"channel": channel, "permalink": link}
