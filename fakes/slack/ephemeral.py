"""The fake's chat.postEphemeral: a message only one person sees, and never in history."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from fakes.slack.wire import SlackError, present, require

logger = logging.getLogger(__name__)

EPHEMERAL_TEXT_MAX = 40_000


@dataclass(frozen=True)
class Ephemeral:
    """What one person was shown, only to them (Slack keeps no copy the app can read back)."""

    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    at: float


class EphemeralMethods:
    """Mixed into FakeSlack, whose lock, clock and ts counter these use."""

    METHODS: ClassVar[dict[str, str]] = {"chat.postEphemeral": "_post_ephemeral"}

    def _post_ephemeral(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args)  # type: ignore[attr-defined]
        require(args, "user")
        text = str(args.get("text") or "")
        blocks = args.get("blocks") or []
        if not text and not blocks:
            raise SlackError("no_text")
        if len(text) > EPHEMERAL_TEXT_MAX:
            raise SlackError("msg_too_long")
        thread_ts = str(args["thread_ts"]) if present(args, "thread_ts") else None
        shown = Ephemeral(channel, str(args["user"]), text, list(blocks), thread_ts, now)
        self._ephemerals.append(shown)  # type: ignore[attr-defined]
        return {"message_ts": self._next_ts()}  # type: ignore[attr-defined]

    def ephemerals(self, user: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages shown so far, optionally only those shown to `user`."""
        with self._cond:  # type: ignore[attr-defined]
            return [e for e in self._ephemerals if user is None or e.user == user]  # type: ignore[attr-defined]
