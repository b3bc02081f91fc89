"""Slack's rate limits as the fake enforces them: token buckets per method, channel, workspace."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType

logger = logging.getLogger(__name__)


# Slack's limits per method per workspace, modelled as token buckets: `SLACK_LIMITS` calls a
# minute refill the bucket, which holds at most `SLACK_BURSTS` calls. Slack counts per minute
# but does not promise to absorb a minute's calls in one burst; a bucket is the honest model,
# and deliberately not the bot's own pacing algorithm, so agreement with it proves nothing.
# Tiers (PLATFORM-NOTES): Tier 2 ~20/min, Tier 3 ~50/min, Tier 4 ~100/min. chat.postMessage is
# "special": about 1 per second per channel (see CHANNEL_POST_LIMIT), several hundred a minute
# per workspace.
SLACK_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "auth.test": 100,
        "chat.postMessage": 300,
        "chat.update": 50,  # Tier 3
        "chat.delete": 50,  # Tier 3
        "chat.startStream": 20,  # Tier 2
        "chat.appendStream": 100,  # Tier 4
        "chat.stopStream": 20,  # Tier 2
        "assistant.threads.setStatus": 50,  # Tier 3 assumed
        "conversations.replies": 50,  # Tier 3 (internal apps; non-Marketplace apps get far less)
        "users.info": 100,  # Tier 4
        "team.info": 50,  # Tier 3
        "chat.postEphemeral": 100,  # Tier 4
        "chat.getPermalink": 100,  # Tier 4 ("special" in the docs; generous)
        "usergroups.users.list": 20,  # Tier 2
        "assistant.threads.setSuggestedPrompts": 100,  # Tier 4
        "assistant.threads.setTitle": 100,  # Tier 4
        "views.publish": 100,  # Tier 4
        "reactions.add": 50,  # Tier 3
        "reactions.remove": 20,  # Tier 2
    }
)
# The most calls a full bucket lets through at once; methods not listed get a fifth of a minute.
SLACK_BURSTS: Mapping[str, int] = MappingProxyType(
    {
        "chat.postMessage": 20,
        "chat.update": 10,
        "chat.delete": 10,
        "chat.startStream": 4,
        "chat.appendStream": 20,
        "chat.stopStream": 4,
        "assistant.threads.setStatus": 10,
        "reactions.add": 10,
        "reactions.remove": 4,
    }
)
# chat.postMessage per channel: (burst, seconds per call) — 1/s sustained, two at once at most.
CHANNEL_POST_LIMIT: tuple[int, float] = (2, 1.0)


class Buckets:
    """Token buckets per key: `rate` tokens a second up to `burst`; a call takes one token.

    Never emptied by `FakeSlack.reset()`: Slack does not forget the calls of a minute ago
    because a test moved on to its next phase.
    """

    def __init__(self) -> None:
        self._state: dict[tuple[str, ...], tuple[float, float]] = {}  # key -> (tokens, at)

    def _tokens(self, key: tuple[str, ...], rate: float, burst: int, now: float) -> float:
        tokens, at = self._state.get(key, (float(burst), now))
        return min(float(burst), tokens + max(0.0, now - at) * rate)

    def wait_needed(self, key: tuple[str, ...], rate: float, burst: int, now: float) -> float:
        """Seconds until the bucket holds a whole token (0 when a call may go now)."""
        tokens = self._tokens(key, rate, burst, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate

    def take(self, key: tuple[str, ...], rate: float, burst: int, now: float) -> None:
        self._state[key] = (self._tokens(key, rate, burst, now) - 1.0, now)
