"""What a turn may cost: per-user and per-workspace caps on turns per minute and tokens per day.

Front-agnostic: it reads usage through storage's API. The lifecycle holds a place for every
turn while it runs (`UsageLimiter.turn`); a refusal is a `Refusal` the front shows.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot import prompts
from bot.access import Refusal
from bot.settings import Settings
from storage import Usage, utc_now


class UsageSource(Protocol):
    """What the limits read: storage.conversations has this method."""

    def turns_since(
        self, since_utc: str | datetime, *, user: str | None = None, team: str | None = None
    ) -> Usage: ...


@dataclass(frozen=True)
class Limits:
    """Per-user and per-workspace caps on turns per minute and tokens per (rolling) day."""

    # Defaults live in Settings only; these read them from there.
    user_turns_per_minute: int = Settings.user_turns_per_minute
    team_turns_per_minute: int = Settings.team_turns_per_minute
    user_tokens_per_day: int = Settings.user_tokens_per_day
    team_tokens_per_day: int = Settings.team_tokens_per_day

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            user_turns_per_minute=settings.user_turns_per_minute,
            team_turns_per_minute=settings.team_turns_per_minute,
            user_tokens_per_day=settings.user_tokens_per_day,
            team_tokens_per_day=settings.team_tokens_per_day,
        )


class UsageLimiter:
    """Admits a turn only while its user and workspace are under their limits.

    Turns and tokens come from what storage recorded. A turn is recorded when it ends, so
    turns still running are counted here too: otherwise a burst of messages in different
    threads would all be admitted before the first one finished. Tokens of running turns are
    not known yet; the daily token cap can therefore be passed by at most the turns in flight.
    """

    def __init__(
        self,
        usage: UsageSource,
        limits: Limits | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.usage = usage
        self.limits = limits or Limits()
        self.clock = clock
        self._lock = threading.Lock()
        self._running: Counter[tuple[str, str]] = Counter()

    @contextmanager
    def turn(self, *, user: str, team: str) -> Iterator[Refusal | None]:
        """Hold a place for one turn while the block runs; yields None, or why it may not run."""
        with self._lock:
            refusal = self._check(user, team)
            if refusal is None:
                self._running[("user", user)] += 1
                self._running[("team", team)] += 1
        try:
            yield refusal
        finally:
            if refusal is None:
                with self._lock:
                    for key in (("user", user), ("team", team)):
                        self._running[key] -= 1
                        if not self._running[key]:
                            del self._running[key]

    def _check(self, user: str, team: str) -> Refusal | None:
        limits, now = self.limits, self.clock()
        minute, day = now - timedelta(minutes=1), now - timedelta(days=1)
        user_minute = self.usage.turns_since(minute, user=user, team=team)
        if user_minute.turns + self._running[("user", user)] >= limits.user_turns_per_minute:
            return Refusal("user_turns_per_minute", prompts.USER_SLOW_DOWN_NOTICE)
        team_minute = self.usage.turns_since(minute, team=team)
        if team_minute.turns + self._running[("team", team)] >= limits.team_turns_per_minute:
            return Refusal("team_turns_per_minute", prompts.TEAM_BUSY_NOTICE)
        if self.usage.turns_since(day, user=user, team=team).tokens >= (limits.user_tokens_per_day):
            return Refusal("user_tokens_per_day", prompts.USER_DAILY_LIMIT_NOTICE)
        if self.usage.turns_since(day, team=team).tokens >= limits.team_tokens_per_day:
            return Refusal("team_tokens_per_day", prompts.TEAM_DAILY_LIMIT_NOTICE)
        return None
