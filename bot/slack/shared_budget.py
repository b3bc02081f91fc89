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
from collections.abc import Callable

from bot.settings import Settings
from bot.slack.budget import CallBudget, Limit, _Pace
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

    def _take_line(
        self,
        keys: list[tuple[str, str]],
        paces: list[_Pace],
        now: float,
        *,
        final: bool = False,
        spare: bool = False,
    ) -> float:
        """Every slot is booked in the shared store, first signs (`acquire_any`) included:
        counted in-process only, a rush provoked 429s. Only a final marks the schedule, so
        the other processes' opening and progress calls give way to it."""
        return self.store.take(self._slots(keys, spare=spare), now=now, final=final)

    def _slot_wait(
        self, keys: list[tuple[str, str]], paces: list[_Pace], now: float, *, spare: bool
    ) -> float:
        schedules = self.store.schedules(keys)
        return max(
            (
                schedules[(slot.scope, slot.method)].wait(now, slot.allowance, final=False)
                for slot in self._slots(keys, spare=spare)
            ),
            default=0.0,
        )

    def _block(self, keys: list[tuple[str, str]], until: float) -> None:
        self.store.block(keys, until)

    def booked_ahead(self, team: str, method: str, *, channel: str | None = None) -> float:
        with self._cond:
            now = self.clock()
            keys = self._keys(team, method, channel)
            schedules = self.store.schedules(keys)
            return max((max(s.tat, now) - now for s in schedules.values()), default=0.0)
