"""A shared, per-workspace budget of Slack Web API calls, spent evenly so replies never burst.

Slack limits most methods per workspace per minute (chat.update Tier 3 ≈ 50/min,
chat.appendStream Tier 4 ≈ 100/min, chat.startStream / chat.stopStream Tier 2 ≈ 20/min) and
chat.postMessage to about one a second per channel, and it does not promise to absorb a whole
minute's calls in one burst. So calls are *paced*: each method has a slot every
`window / (calls × safety)` seconds and may run at most `burst` slots ahead (a GCRA, "generic
cell rate algorithm": one number per key, the time the schedule is booked up to). Three
kinds of call share a method's slots:

- final deliveries (`acquire`) wait, first come first served, and go before anything else;
- calls that open a message (`try_acquire`) take a free slot now or do without;
- progress updates (`try_acquire(optional=True)`) take a slot only with headroom to spare,
  no final waiting, and only in turn with the other replies asking (least served first).

`reserve` promises a call made later (the final chat.update of a posted message): only a
few are owed at a time, so a reply that has shown something finishes soon. `penalize` is
what a 429 that still comes does: every caller of that method waits out Retry-After.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.settings import Settings


@dataclass(frozen=True)
class Limit:
    """`calls` per `window_s` seconds (of a 60 s minute), at most `burst` ahead of the pace."""

    calls: int
    window_s: float = 60.0
    burst: int = 1


# Slack's tiers, per workspace (PLATFORM-NOTES). Bursts are kept small on purpose: Slack
# counts per minute but a minute's calls in one second is not what it promises to absorb.
SLACK_TIERS: dict[str, Limit] = {
    "chat.update": Limit(50, burst=4),  # Tier 3
    "chat.delete": Limit(50, burst=4),  # Tier 3
    "chat.appendStream": Limit(100, burst=6),  # Tier 4
    "chat.startStream": Limit(20, burst=2),  # Tier 2
    "chat.stopStream": Limit(20, burst=2),  # Tier 2
    # Tier 3 (not published; assumed). A burst of 8: status lines are the first sign too.
    "assistant.threads.setStatus": Limit(50, burst=8),
    # The first sign that ShopMate heard someone (bot/slack/signs.py). reactions.add is Tier 3,
    # used for nothing else: its burst is what lets a rush be acknowledged at once.
    "reactions.add": Limit(50, burst=9),  # Tier 3
    "reactions.remove": Limit(20, burst=2),  # Tier 2
    # The agent view's cosmetic calls (bot/slack/assistant.py): Tier 4, taken only when free.
    "assistant.threads.setSuggestedPrompts": Limit(100, burst=6),  # Tier 4
    "assistant.threads.setTitle": Limit(100, burst=6),  # Tier 4
    # The Home tab (bot/slack/home/): Tier 4, paced in the background, never in an answer's way.
    "views.publish": Limit(100, burst=6),  # Tier 4
    "chat.postMessage": Limit(300, burst=10),  # "special": several hundred a minute
}
# chat.postMessage is also limited per channel: about one a second.
CHANNEL_TIERS: dict[str, Limit] = {"chat.postMessage": Limit(1, 1.0, burst=1)}

# How long a reply that asked for a progress slot counts as still asking (in slots).
_ACTIVE_SLOTS = 8


@dataclass
class _Pace:
    """One key's schedule: booked up to `tat`, calls promised, and who is waiting."""

    interval: float
    burst: int
    tat: float = 0.0  # "theoretical arrival time": when the schedule is free again
    reserved: int = 0
    blocked_until: float = 0.0
    waiting: list[int] = field(default_factory=list)  # tickets of waiting final calls
    served: dict[str, list[float]] = field(default_factory=dict)  # owner -> [served, asked]

    def ahead(self, now: float) -> float:
        """How far (seconds) the schedule runs ahead of now."""
        return max(self.tat, now) - now

    def wait_time(self, now: float, *, spare: int = 0) -> float:
        """Seconds until one more call fits, leaving `spare` slots of the burst (0: fits now)."""
        if now < self.blocked_until:
            return self.blocked_until - now
        # A tiny tolerance: float sums of intervals must not refuse a slot that is due.
        over = self.ahead(now) - (self.burst - 1 - spare) * self.interval
        return over if over > 1e-9 else 0.0

    def take(self, now: float) -> None:
        self.tat = max(self.tat, now) + self.interval


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
    """Paced call budgets keyed by workspace (and channel for chat.postMessage).

    `safety` paces below Slack's figures (Slack counts on its own clock, and calls reach it
    with jitter); `minute_s` is how long a "minute" is — 60 against Slack, shorter only
    against a fake Slack whose minute is shortened the same way (tests, benchmarks).
    """

    def __init__(
        self,
        limits: dict[str, Limit] | None = None,
        *,
        channel_limits: dict[str, Limit] | None = None,
        safety: float = 0.8,
        minute_s: float = Settings.slack_minute_s,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(SLACK_TIERS if limits is None else limits)
        self.channel_limits = dict(
            (CHANNEL_TIERS if limits is None else {}) if channel_limits is None else channel_limits
        )
        self.safety = safety
        self.scale = minute_s / 60.0
        self.clock = clock
        self._paces: dict[tuple[str, str], _Pace] = {}
        self._tickets = itertools.count()
        self._cond = threading.Condition()

    # ----- keys ------------------------------------------------------------------------------

    def _keys(self, team: str, method: str, channel: str | None) -> list[tuple[str, str]]:
        keys = []
        if method in self.limits:
            keys.append((team, method))
        if method in self.channel_limits and channel:
            keys.append((f"{team}/{channel}", method))
        return keys

    def _pace(self, key: tuple[str, str]) -> _Pace:
        pace = self._paces.get(key)
        if pace is None:
            scope, method = key
            limit = (self.channel_limits if "/" in scope else self.limits)[method]
            interval = limit.window_s * self.scale / (limit.calls * self.safety)
            pace = self._paces[key] = _Pace(interval, max(1, limit.burst))
        return pace

    def interval(self, team: str, method: str, *, channel: str | None = None) -> float:
        """Seconds between two paced calls of `method` (the slowest of its keys; 0 if none)."""
        with self._cond:
            return max(
                (self._pace(k).interval for k in self._keys(team, method, channel)), default=0
            )

    # ----- taking slots --------------------------------------------------------------------

    def try_acquire(
        self,
        team: str,
        method: str,
        *,
        channel: str | None = None,
        optional: bool = False,
        owner: str | None = None,
    ) -> bool:
        """Take a slot now if one is free; False means do without (or try later).

        `optional` marks a progress update: it leaves half the burst to final deliveries,
        never jumps a waiting final, and with `owner` set takes its turn among the replies
        asking, so one chatty reply cannot crowd out the others.
        """
        with self._cond:
            keys = self._keys(team, method, channel)
            if not keys:
                return True
            now = self.clock()
            paces = [self._pace(k) for k in keys]
            turn = owner if optional else None  # a progress update taking its turn
            if turn is not None:
                for pace in paces:
                    self._note_asking(pace, now, turn)
            if any(pace.waiting for pace in paces):
                return False
            if turn is not None and not all(self._my_turn(pace, turn) for pace in paces):
                return False
            if self._take_line(keys, paces, now, spare=optional) > 0:
                return False
            if turn is not None:
                for pace in paces:
                    pace.served[turn][0] = now
            return True

    @staticmethod
    def _my_turn(pace: _Pace, owner: str) -> bool:
        """Round robin: the slot goes to whoever among those asking was served longest ago."""
        return pace.served[owner][0] <= min(last for last, _ in pace.served.values())

    @staticmethod
    def _note_asking(pace: _Pace, now: float, owner: str) -> None:
        horizon = now - _ACTIVE_SLOTS * pace.interval
        for other in [o for o, (_, asked) in pace.served.items() if asked < horizon]:
            del pace.served[other]
        pace.served.setdefault(owner, [float("-inf"), now])[1] = now

    def forget(self, owner: str) -> None:
        """A reply is done: it no longer waits for a progress turn."""
        with self._cond:
            for pace in self._paces.values():
                pace.served.pop(owner, None)

    def acquire(
        self,
        team: str,
        method: str,
        *,
        channel: str | None = None,
        timeout: float = 60.0,
        reservation: Reservation | None = None,
    ) -> bool:
        """Wait (bounded) for a slot, first come first served, for a call that must happen.

        A `reservation` for this method is used up by it (the reply's message is done).
        False if no slot came within `timeout`.
        """
        deadline = self.clock() + timeout
        with self._cond:
            keys = self._keys(team, method, channel)
            if reservation is not None and reservation.holds(method):
                reservation.spend(method)
            if not keys:
                return True
            line = (method, keys, [self._pace(k) for k in keys])
            return self._wait_in_lines([line], deadline, final=True) is not None

    def acquire_any(
        self, team: str, methods: Iterable[str], *, timeout: float = 60.0
    ) -> str | None:
        """Wait (bounded) for a slot of whichever of `methods` frees first; the one taken.

        Waits in every method's line at once, first come first served in each, so one kind
        of call can be served by two tiers (the first sign: a status line or a reaction).
        None if no slot came within `timeout`. Per-channel limits do not apply here.
        """
        deadline = self.clock() + timeout
        with self._cond:
            lines = [
                (m, keys, [self._pace(k) for k in keys])
                for m in methods
                for keys in [self._keys(team, m, None)]
            ]
            free = next((m for m, keys, _ in lines if not keys), None)
            if free is not None:
                return free
            return self._wait_in_lines(lines, deadline, final=False)

    def _wait_in_lines(
        self,
        lines: list[tuple[str, list[tuple[str, str]], list[_Pace]]],
        deadline: float,
        *,
        final: bool,
    ) -> str | None:
        """Stand in every line at once (the caller holds `_cond`) until first in one whose slot
        is free: take it and return its method; None at `deadline`."""
        ticket = next(self._tickets)
        for _, _, paces in lines:
            for pace in paces:
                pace.waiting.append(ticket)
        try:
            while True:
                now = self.clock()
                soonest: float | None = None
                for method, keys, paces in lines:
                    if not all(p.waiting[0] == ticket for p in paces):
                        continue
                    wait = self._take_line(keys, paces, now, final=final)
                    if wait <= 0:
                        return method
                    wait = max(wait, 0.005)
                    soonest = wait if soonest is None else min(soonest, wait)
                if now >= deadline:
                    return None
                # Not first in any line: woken when a line moves (or in half a second).
                self._cond.wait(min(0.5 if soonest is None else soonest, deadline - now))
        finally:
            for _, _, paces in lines:
                for pace in paces:
                    pace.waiting.remove(ticket)
            self._cond.notify_all()

    # ----- the schedules themselves (this process's; SharedCallBudget keeps them in storage) --

    def _take_line(
        self,
        keys: list[tuple[str, str]],
        paces: list[_Pace],
        now: float,
        *,
        final: bool = False,
        spare: bool = False,
    ) -> float:
        """Take one slot of every key of a call whose turn it is: 0 if taken, else seconds to
        wait. `spare` leaves half the burst free (progress updates); `final` is a final call
        (it matters to the shared store, where other processes' calls give way to it)."""
        wait = self._slot_wait(keys, paces, now, spare=spare)
        if wait <= 0:
            for pace in paces:
                pace.take(now)
        return wait

    def _slot_wait(
        self, keys: list[tuple[str, str]], paces: list[_Pace], now: float, *, spare: bool
    ) -> float:
        """Seconds until every key of a call has a slot (0: now); nothing is taken."""
        return max((p.wait_time(now, spare=p.burst // 2 if spare else 0) for p in paces), default=0)

    def _block(self, keys: list[tuple[str, str]], until: float) -> None:
        """No call of these keys before `until` (a 429's Retry-After)."""
        for key in keys:
            pace = self._pace(key)
            pace.blocked_until = max(pace.blocked_until, until)

    def reserve(
        self, team: str, methods: Iterable[str], *, channel: str | None = None
    ) -> Reservation | None:
        """Promise one later call of each method, all or none; None when too many are owed.

        A posted message owes a final chat.update. Promises are capped (twice the burst) and
        given only with headroom now, so the finals owed can always go out within a few
        slots; replies beyond that wait and post their answer whole, which owes nothing.
        """
        with self._cond:
            keys = [k for m in methods for k in self._keys(team, m, channel)]
            paces = [self._pace(k) for k in keys]
            if any(p.waiting or p.reserved >= 2 * p.burst for p in paces):
                return None
            if self._slot_wait(keys, paces, self.clock(), spare=True) > 0:
                return None
            for pace in paces:
                pace.reserved += 1
            return Reservation(self, keys)

    def penalize(
        self, team: str, method: str, retry_after: float, *, channel: str | None = None
    ) -> None:
        """Slack said 429 anyway: hold every caller of this method until Retry-After passes."""
        with self._cond:
            self._block(self._keys(team, method, channel), self.clock() + retry_after)
            self._cond.notify_all()

    def _spend_reserved(self, scope: str, method: str) -> None:
        """The promised call is being made (it takes its slot like any final call)."""
        with self._cond:
            self._pace((scope, method)).reserved -= 1
            self._cond.notify_all()

    def _release_reserved(self, scope: str, method: str) -> None:
        with self._cond:
            self._pace((scope, method)).reserved -= 1
            self._cond.notify_all()

    def finals_waiting(self, team: str, method: str, *, channel: str | None = None) -> int:
        """How many final calls wait for a slot of `method` now (for tests and stats)."""
        with self._cond:
            return max(
                (len(self._pace(k).waiting) for k in self._keys(team, method, channel)), default=0
            )

    def booked_ahead(self, team: str, method: str, *, channel: str | None = None) -> float:
        """Seconds the method's schedule is booked ahead of now, reservations included."""
        with self._cond:
            now = self.clock()
            return max(
                (self._pace(k).ahead(now) for k in self._keys(team, method, channel)), default=0
            )
