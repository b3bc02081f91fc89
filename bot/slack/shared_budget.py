"""The Slack call budget, shared by every ShopMate process on one database (any number of hosts).

`CallBudget` (bot/slack/budget.py) paces one process's calls. Two processes each pacing
themselves at a workspace's full rate would together call twice as fast as Slack allows, so
`SharedCallBudget` keeps the schedules themselves (when each method's schedule is booked up to,
a 429's hold, a waiting final) in the shared store (storage/slack_budget.py: the SQLite file,
or PostgreSQL), and books every slot there, all keys of a call at once. What stays in the
process is what only it knows: the order its own finals wait in (first come first served), the
turn its own replies take for progress updates, and the finals it has promised (`reserve`).

Priority across processes: a final that has to wait marks the schedule (`finals_until`), and
every process's opening and progress calls hold back while the mark stands; progress updates
also leave half the burst free, as in one process. Every booking is one short transaction, a
fraction of a millisecond next to the Slack call it paces.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from bot.settings import Settings
from bot.slack.budget import CallBudget, Limit, Reservation, _Pace
from storage.slack_budget import BudgetStore, Slot

logger = logging.getLogger(__name__)


class SharedCallBudget(CallBudget):
    """`CallBudget`'s promises, kept for every process that shares `store`.

    The clock is wall time (seconds since the epoch): it is compared across processes.
    """

    def __init__(
        self,
        store: BudgetStore,
        limits: dict[str, Limit] | None = None,
        *,
        channel_limits: dict[str, Limit] | None = None,
        safety: float = 0.8,
        minute_s: float = Settings.slack_minute_s,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            limits, channel_limits=channel_limits, safety=safety, minute_s=minute_s, clock=clock
        )
        self.store = store

    def _slots(self, keys: list[tuple[str, str]], *, spare: bool) -> list[Slot]:
        slots = []
        for key in keys:
            pace = self._pace(key)
            free = pace.burst // 2 if spare else 0
            slots.append(
                Slot(key[0], key[1], pace.interval, (pace.burst - 1 - free) * pace.interval)
            )
        return slots

    def try_acquire(
        self,
        team: str,
        method: str,
        *,
        channel: str | None = None,
        optional: bool = False,
        owner: str | None = None,
    ) -> bool:
        with self._cond:
            keys = self._keys(team, method, channel)
            if not keys:
                return True
            now = self.clock()
            paces = [self._pace(k) for k in keys]
            if optional and owner is not None:
                for pace in paces:
                    self._note_asking(pace, now, owner)
            if any(pace.waiting for pace in paces):
                return False
            if (
                optional
                and owner is not None
                and not all(self._my_turn(pace, owner) for pace in paces)
            ):
                return False
            if self.store.take(self._slots(keys, spare=optional), now=now, final=False) > 0:
                return False
            if optional and owner is not None:
                for pace in paces:
                    pace.served[owner][0] = now
            return True

    @staticmethod
    def _my_turn(pace: _Pace, owner: str) -> bool:
        """Round robin among this process's replies asking: least recently served first."""
        return pace.served[owner][0] <= min(last for last, _ in pace.served.values())

    def acquire(
        self,
        team: str,
        method: str,
        *,
        channel: str | None = None,
        timeout: float = 60.0,
        reservation: Reservation | None = None,
    ) -> bool:
        deadline = self.clock() + timeout
        with self._cond:
            keys = self._keys(team, method, channel)
            if reservation is not None and reservation.holds(method):
                reservation.spend(method)
            if not keys:
                return True
            paces = [self._pace(k) for k in keys]
            ticket = next(self._tickets)
            for pace in paces:
                pace.waiting.append(ticket)
            try:
                while True:
                    now = self.clock()
                    wait = 0.5
                    if all(p.waiting[0] == ticket for p in paces):
                        wait = self.store.take(self._slots(keys, spare=False), now=now, final=True)
                        if wait <= 0:
                            return True
                    if now >= deadline:
                        return False
                    self._cond.wait(min(max(wait, 0.005), deadline - now))
            finally:
                for pace in paces:
                    pace.waiting.remove(ticket)
                self._cond.notify_all()

    def _take_line(self, keys: list[tuple[str, str]], paces: list[_Pace], now: float) -> float:
        """First signs (`acquire_any`) are booked in the shared store like every other call:
        counted in-process only, a rush provoked 429s. Not a final: answers' last calls keep
        their priority."""
        return self.store.take(self._slots(keys, spare=False), now=now, final=False)

    def reserve(
        self, team: str, methods: Iterable[str], *, channel: str | None = None
    ) -> Reservation | None:
        with self._cond:
            keys = [k for m in methods for k in self._keys(team, m, channel)]
            paces = [self._pace(k) for k in keys]
            if any(p.waiting or p.reserved >= 2 * p.burst for p in paces):
                return None
            now = self.clock()
            schedules = self.store.schedules(keys)
            for slot in self._slots(keys, spare=True):
                if schedules[(slot.scope, slot.method)].wait(now, slot.allowance, final=False) > 0:
                    return None
            for pace in paces:
                pace.reserved += 1
            return Reservation(self, keys)

    def penalize(
        self, team: str, method: str, retry_after: float, *, channel: str | None = None
    ) -> None:
        with self._cond:
            keys = self._keys(team, method, channel)
            self.store.block(keys, self.clock() + retry_after)
            self._cond.notify_all()

    def booked_ahead(self, team: str, method: str, *, channel: str | None = None) -> float:
        with self._cond:
            now = self.clock()
            keys = self._keys(team, method, channel)
            schedules = self.store.schedules(keys)
            return max((max(s.tat, now) - now for s in schedules.values()), default=0.0)
