"""The Slack call budget's shared state: one paced schedule per (workspace scope, method).

Every ShopMate process that talks to one workspace reads and books the same rows, so together
they stay under each method's tier however many processes there are (bot/slack/shared_budget.py
decides what to ask; this module only keeps the numbers). A row holds, as wall-clock seconds
since the epoch (processes on several hosts share it; their clocks agree through NTP):

- `tat`: the time the method's schedule is booked up to (the GCRA's one number);
- `blocked_until`: a 429's Retry-After, which holds every process's callers of the method;
- `finals_until`: a final delivery in some process waits for a slot until then, so the other
  processes' optional calls hold back and the final goes first.

`take` books one slot on several keys at once (a channel's chat.postMessage counts against the
workspace's and the channel's), all or none, in one transaction: SQLite's one writer at a time,
or PostgreSQL rows locked `FOR UPDATE` in key order (no deadlock between two processes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from storage.database import SharedDatabase

logger = logging.getLogger(__name__)

_TOLERANCE = 1e-9  # float sums of intervals must not refuse a slot that is due


@dataclass(frozen=True)
class Slot:
    """One key a call needs a slot of: its pace (`interval`) and how far ahead it may book."""

    scope: str
    method: str
    interval: float
    allowance: float


@dataclass(frozen=True)
class Schedule:
    """One key's shared state, in epoch seconds."""

    tat: float = 0.0
    blocked_until: float = 0.0
    finals_until: float = 0.0

    def wait(self, now: float, allowance: float, *, final: bool) -> float:
        """Seconds until one more call fits (0 if it fits now)."""
        if now < self.blocked_until:
            return self.blocked_until - now
        if not final and now < self.finals_until:
            return self.finals_until - now
        ahead = max(self.tat, now) - now
        return max(0.0, ahead - allowance) if ahead > allowance + _TOLERANCE else 0.0


class BudgetStore:
    """The `slack_budget` table."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared
        self._pg = shared.backend == "postgresql"

    def _rows(self, db: Any, keys: list[tuple[str, str]], *, lock: bool) -> dict:
        """The keys' schedules (rows created as needed), locked on PostgreSQL if `lock`."""
        for scope, method in keys:
            db.execute(
                "insert or ignore into slack_budget (scope, method, tat, blocked_until, "
                "finals_until) values (?, ?, 0, 0, 0)",
                [scope, method],
            )
        out: dict[tuple[str, str], Schedule] = {}
        for scope, method in sorted(set(keys)):
            suffix = " for update" if (lock and self._pg) else ""
            [row] = db.query(
                "select tat, blocked_until, finals_until from slack_budget "
                f"where scope = ? and method = ?{suffix}",
                [scope, method],
            )
            out[(scope, method)] = Schedule(
                float(row["tat"]), float(row["blocked_until"]), float(row["finals_until"])
            )
        return out

    def take(self, slots: list[Slot], *, now: float, final: bool) -> float:
        """Book one slot of every key, all or none; 0.0 when booked, else seconds to wait.

        Optional and opening calls (`final=False`) also wait while another process's final
        waits. A `final` that must wait says so in the rows, for the other processes.
        """
        if not slots:
            return 0.0
        with self._shared.write(serial=False) as db:
            keys = [(s.scope, s.method) for s in slots]
            rows = self._rows(db, keys, lock=True)
            wait = max(rows[(s.scope, s.method)].wait(now, s.allowance, final=final) for s in slots)
            if wait > 0:
                if final:
                    for slot in slots:
                        until = now + wait + slot.interval
                        db.execute(
                            "update slack_budget set finals_until = ? where scope = ? "
                            "and method = ? and finals_until < ?",
                            [until, slot.scope, slot.method, until],
                        )
                return wait
            for slot in slots:
                tat = max(rows[(slot.scope, slot.method)].tat, now) + slot.interval
                db.execute(
                    "update slack_budget set tat = ? where scope = ? and method = ?",
                    [tat, slot.scope, slot.method],
                )
        return 0.0

    def schedules(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Schedule]:
        """The keys' current schedules (a key never booked: all zero)."""
        if not keys:
            return {}
        with self._shared.write(serial=False) as db:
            return self._rows(db, keys, lock=False)

    def block(self, keys: list[tuple[str, str]], until: float) -> None:
        """Slack said 429: no process calls these keys before `until`."""
        with self._shared.write(serial=False) as db:
            self._rows(db, keys, lock=True)
            for scope, method in keys:
                db.execute(
                    "update slack_budget set blocked_until = ? where scope = ? and method = ? "
                    "and blocked_until < ?",
                    [until, scope, method, until],
                )
        logger.info("Slack call budget: %s held until %.3f", keys, until)
