"""A shared, per-workspace budget of Slack Web API calls, so many replies never provoke 429s.

Slack limits most methods per workspace per minute (chat.update Tier 3 ≈ 50/min,
chat.appendStream Tier 4 ≈ 100/min, chat.startStream / chat.stopStream Tier 2 ≈ 20/min) and
chat.postMessage to about one a second per channel. Every reply in a workspace draws from the
same budget: progress updates are optional and skipped when the window is filling up, while
the calls that deliver the final text are reserved up front, so a reply that has started can
always finish.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """At most `calls` in any rolling `window_s` seconds."""

    calls: int
    window_s: float = 60.0


# Slack's published tiers, per workspace; chat.postMessage is limited per channel.
SLACK_TIERS: dict[str, Limit] = {
    "chat.update": Limit(50),
    "chat.appendStream": Limit(100),
    "chat.startStream": Limit(20),
    "chat.stopStream": Limit(20),
    "chat.delete": Limit(50),
    "assistant.threads.setStatus": Limit(50),
    "chat.postMessage": Limit(1, 1.0),
}
PER_CHANNEL = frozenset({"chat.postMessage"})


class _Window:
    """Call times in the window plus reservations not yet spent."""

    def __init__(self, limit: Limit, window_s: float | None = None) -> None:
        self.limit = limit
        self.window_s = limit.window_s if window_s is None else window_s
        self.times: deque[float] = deque()
        self.reserved = 0
        self.blocked_until = 0.0

    def used(self, now: float) -> int:
        while self.times and self.times[0] <= now - self.window_s:
            self.times.popleft()
        return len(self.times) + self.reserved

    def wait_time(self, now: float, capacity: int) -> float:
        """Seconds until one more call fits under `capacity`, 0 if it fits now."""
        if now < self.blocked_until:
            return self.blocked_until - now
        used = self.used(now)
        if used < capacity:
            return 0.0
        excess = used - capacity  # how many recorded calls must leave the window first
        if excess >= len(self.times):
            return 0.5  # only reservations hold it; they free as they're spent, so poll
        return self.times[excess] + self.window_s - now


class Reservation:
    """Calls promised to one reply; each is spent when made or released if not needed."""

    def __init__(self, budget: CallBudget, keys: list[tuple[str, str]]) -> None:
        self._budget = budget
        self._keys = list(keys)

    def holds(self, method: str) -> bool:
        return any(m == method for _, m in self._keys)

    def spend(self, method: str) -> None:
        """Turn the reserved slot into a call made now."""
        for i, (scope, m) in enumerate(self._keys):
            if m == method:
                del self._keys[i]
                self._budget._spend_reserved(scope, m)
                return

    def release(self) -> None:
        """Give back every reserved slot not spent."""
        for scope, method in self._keys:
            self._budget._release_reserved(scope, method)
        self._keys.clear()


class CallBudget:
    """Rolling-window budgets keyed by workspace (and channel for chat.postMessage).

    `safety` keeps a margin below Slack's figures (Slack counts on its own clock); optional
    progress calls may use only `optional_share` of a window so final deliveries always fit.
    """

    def __init__(
        self,
        limits: dict[str, Limit] | None = None,
        *,
        safety: float = 0.9,
        optional_share: float = 0.6,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(SLACK_TIERS if limits is None else limits)
        self.safety = safety
        self.optional_share = optional_share
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._cond = threading.Condition()

    def _scope(self, team: str, method: str, channel: str | None) -> str:
        return f"{team}/{channel}" if method in PER_CHANNEL and channel else team

    def _window(self, scope: str, method: str) -> _Window | None:
        limit = self.limits.get(method)
        if limit is None:
            return None
        key = (scope, method)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(limit, self._window_s(limit))
        return window

    def _window_s(self, limit: Limit) -> float:
        """The window we count in: Slack's, or longer where `safety` can't trim the count.

        One call a second (chat.postMessage per channel) leaves no call to hold back, and
        paced exactly at 1/s the calls reach Slack with jitter and trip its window anyway
        (measured: 15 429s for 50 replies in one channel). Such limits get their margin in
        time instead: 1 call per 1.11 s at safety 0.9.
        """
        if limit.calls * self.safety >= 1:
            return limit.window_s
        return limit.window_s / (limit.calls * self.safety)

    def _capacity(self, window: _Window, *, optional: bool) -> int:
        capacity = max(1, int(window.limit.calls * self.safety))
        if optional:
            capacity = int(capacity * self.optional_share)
        return capacity

    def try_acquire(
        self, team: str, method: str, *, channel: str | None = None, optional: bool = False
    ) -> bool:
        """Record a call now if it fits; False means skip it (or do it later)."""
        with self._cond:
            window = self._window(self._scope(team, method, channel), method)
            if window is None:
                return True
            now = self.clock()
            if window.wait_time(now, self._capacity(window, optional=optional)) > 0:
                return False
            window.times.append(now)
            return True

    def acquire(
        self, team: str, method: str, *, channel: str | None = None, timeout: float = 60.0
    ) -> bool:
        """Wait (bounded) until a call fits, then record it. For calls that must happen."""
        deadline = self.clock() + timeout
        with self._cond:
            window = self._window(self._scope(team, method, channel), method)
            if window is None:
                return True
            while True:
                now = self.clock()
                wait = window.wait_time(now, self._capacity(window, optional=False))
                if wait <= 0:
                    window.times.append(now)
                    return True
                if now + wait > deadline:
                    return False
                self._cond.wait(min(wait, 0.5))

    def reserve(
        self, team: str, methods: Iterable[str], *, channel: str | None = None
    ) -> Reservation | None:
        """Reserve one call of each method, all or none, without making them yet."""
        methods = list(methods)
        with self._cond:
            now = self.clock()
            keys = [(self._scope(team, m, channel), m) for m in methods]
            windows = [self._window(scope, m) for scope, m in keys]
            for window in windows:
                if window and window.wait_time(now, self._capacity(window, optional=False)) > 0:
                    return None
            for window in windows:
                if window:
                    window.reserved += 1
            return Reservation(self, [k for k, w in zip(keys, windows, strict=True) if w])

    def penalize(self, team: str, method: str, retry_after: float, *, channel: str | None = None):
        """Slack said 429 anyway: hold every caller of this method until Retry-After passes."""
        with self._cond:
            window = self._window(self._scope(team, method, channel), method)
            if window is not None:
                window.blocked_until = max(window.blocked_until, self.clock() + retry_after)

    def _spend_reserved(self, scope: str, method: str) -> None:
        with self._cond:
            window = self._windows[(scope, method)]
            window.reserved -= 1
            window.times.append(self.clock())
            self._cond.notify_all()

    def _release_reserved(self, scope: str, method: str) -> None:
        with self._cond:
            self._windows[(scope, method)].reserved -= 1
            self._cond.notify_all()

    def usage(self, team: str, method: str, *, channel: str | None = None) -> int:
        """Calls counted in the current window, reservations included (for tests and stats)."""
        with self._cond:
            window = self._window(self._scope(team, method, channel), method)
            return 0 if window is None else window.used(self.clock())
