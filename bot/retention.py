"""What is kept: conversations idle longer than SHOPMATE_RETENTION_DAYS are deleted, daily,
and so are copies of orders fetched from the shop's system before then (they hold customer
data too, and a copy that old is never worth serving).

The process owns the sweeper (bot/process.py), whichever fronts it serves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from storage import utc_now

logger = logging.getLogger(__name__)


class Purger(Protocol):
    """What retention needs: storage.conversations has this method."""

    def purge_older_than(self, cutoff_utc: str | datetime) -> dict[str, int]: ...


class CopyPurger(Protocol):
    """Order copies to drop: storage.order_cache has this method (returns how many went)."""

    def purge_older_than(self, cutoff: str | datetime) -> int: ...


def purge_expired(
    conversations: Purger,
    retention_days: int,
    *,
    order_copies: CopyPurger | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, int] | None:
    """Delete conversations idle for more than `retention_days`, and order copies fetched
    before then; None when kept forever (0)."""
    if retention_days <= 0:
        return None
    cutoff = clock() - timedelta(days=retention_days)
    removed = conversations.purge_older_than(cutoff)
    if order_copies is not None:
        dropped = order_copies.purge_older_than(cutoff)
        if dropped:
            logger.info("dropped %d order copies fetched before %s", dropped, cutoff)
        removed = {**removed, "order_copies": dropped}
    return removed


class RetentionSweeper:
    """Applies the retention setting now and then once every `interval_s` while a server runs."""

    def __init__(
        self,
        conversations: Purger,
        retention_days: int,
        *,
        order_copies: CopyPurger | None = None,
        interval_s: float = 24 * 3600.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.conversations = conversations
        self.order_copies = order_copies
        self.retention_days = retention_days
        self.interval_s = interval_s
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> dict[str, int] | None:
        """Purge once; a failure is logged (the next sweep tries again), never raised."""
        try:
            return purge_expired(
                self.conversations,
                self.retention_days,
                order_copies=self.order_copies,
                clock=self.clock,
            )
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
