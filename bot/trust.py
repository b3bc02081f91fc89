"""Who may ask, what it may cost, and what is kept: the rules that make ShopMate safe to leave on.

Front-agnostic: it knows workspace, channel and user ids as plain strings, and reads usage
through storage's API. The Slack responder asks it before every turn.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot import prompts
from bot.settings import Settings
from storage import utc_now

logger = logging.getLogger(__name__)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# C0/C1 control characters other than tab and newlines: invisible, and NUL upsets C libraries.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


# ----------------------------------------------------------------------------- input text


def clean_text(text: str) -> str:
    """Text safe to store, log and send on: valid UTF-8, no control characters.

    A lone surrogate (JSON allows "\\ud800") cannot be encoded as UTF-8, so SQLite, the SDK
    and Slack would all refuse it: it becomes U+FFFD. Text with nothing visible in it (only
    spaces, zero-width or control characters) becomes "", so it is treated as empty.
    Emoji, right-to-left text and zero-width joiners inside real text are kept as written.
    """
    text = _CONTROL.sub("", _LONE_SURROGATE.sub("\ufffd", text))
    if not any(unicodedata.category(ch)[0] not in "ZC" for ch in text):
        return ""
    return text


def cut_input(text: str, limit: int) -> tuple[str, bool]:
    """The first `limit` characters of `text`, and whether anything was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit].rstrip(), True


# ----------------------------------------------------------------------------- who may ask


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


# ----------------------------------------------------------------------------- what it costs


class UsageSource(Protocol):
    """What the limits read: storage.conversations has this method."""

    def turns_since(
        self, since_utc: str | datetime, *, user: str | None = None, team: str | None = None
    ) -> dict[str, int]: ...


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
        if user_minute["turns"] + self._running[("user", user)] >= limits.user_turns_per_minute:
            return Refusal("user_turns_per_minute", prompts.USER_SLOW_DOWN_NOTICE)
        team_minute = self.usage.turns_since(minute, team=team)
        if team_minute["turns"] + self._running[("team", team)] >= limits.team_turns_per_minute:
            return Refusal("team_turns_per_minute", prompts.TEAM_BUSY_NOTICE)
        if self.usage.turns_since(day, user=user, team=team)["tokens"] >= (
            limits.user_tokens_per_day
        ):
            return Refusal("user_tokens_per_day", prompts.USER_DAILY_LIMIT_NOTICE)
        if self.usage.turns_since(day, team=team)["tokens"] >= limits.team_tokens_per_day:
            return Refusal("team_tokens_per_day", prompts.TEAM_DAILY_LIMIT_NOTICE)
        return None


# ----------------------------------------------------------------------------- what is kept


class Purger(Protocol):
    """What retention needs: storage.conversations has this method."""

    def purge_older_than(self, cutoff_utc: str | datetime) -> dict[str, int]: ...


def purge_expired(
    conversations: Purger, retention_days: int, *, clock: Callable[[], datetime] = utc_now
) -> dict[str, int] | None:
    """Delete conversations idle for more than `retention_days`; None when kept forever (0)."""
    if retention_days <= 0:
        return None
    return conversations.purge_older_than(clock() - timedelta(days=retention_days))


class RetentionSweeper:
    """Applies the retention setting now and then once every `interval_s` while a server runs."""

    def __init__(
        self,
        conversations: Purger,
        retention_days: int,
        *,
        interval_s: float = 24 * 3600.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.conversations = conversations
        self.retention_days = retention_days
        self.interval_s = interval_s
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> dict[str, int] | None:
        """Purge once; a failure is logged (the next sweep tries again), never raised."""
        try:
            return purge_expired(self.conversations, self.retention_days, clock=self.clock)
        except Exception:
            logger.exception("Retention purge failed; will retry at the next sweep")
            return None

    def start(self) -> RetentionSweeper:
        """Sweep at once, then in the background; does nothing when conversations are kept."""
        if self.retention_days <= 0:
            return self
        self.sweep()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sweep()
