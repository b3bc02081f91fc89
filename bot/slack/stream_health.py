"""Where Slack's native streaming failed, so later replies skip it there for a while."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.slack.errors import CHANNEL_NO_STREAMING, TEAM_NO_STREAMING

logger = logging.getLogger(__name__)

# Workspace-wide streaming trouble (a missing scope, an app not allowed) may be fixed by an
# admin: try again after a while. A channel type that has no streaming keeps not having it.
STREAMING_RETRY_AFTER_S = 600.0
CHANNEL_STREAMING_RETRY_AFTER_S = 6 * 3600.0


class StreamingHealth:
    """Where native streaming failed, so later replies skip it there for a while.

    A channel whose type has no streaming turns it off for that channel only; a refusal
    about the workspace (scope, permission) turns it off for the workspace.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._off_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def usable(self, team: str, channel: str | None = None) -> bool:
        now = self._clock()
        with self._lock:
            if now < self._off_until.get(team, 0.0):
                return False
            return channel is None or now >= self._off_until.get(f"{team}/{channel}", 0.0)

    def channel_off(self, team: str, channel: str) -> None:
        with self._lock:
            self._off_until[f"{team}/{channel}"] = self._clock() + CHANNEL_STREAMING_RETRY_AFTER_S

    def team_off(self, team: str) -> None:
        with self._lock:
            self._off_until[team] = self._clock() + STREAMING_RETRY_AFTER_S

    def refused(self, team: str, channel: str, error: str | None) -> None:
        """chat.startStream was refused with `error`: note where streaming is off, if anywhere."""
        if error in CHANNEL_NO_STREAMING:
            logger.info("No native streaming in channel %s; posting instead", channel)
            self.channel_off(team, channel)
        elif error in TEAM_NO_STREAMING:
            logger.warning("Native streaming refused in workspace %s for a while", team)
            self.team_off(team)
