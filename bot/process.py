"""What one running ShopMate process owns, whichever front it serves: its drain and retention.

`shopmate serve`, `shopmate run` and `shopmate api` each build one `Process` around their front:

- the `Drain` counts the work in flight (Bolt's listeners, recovered answers, API turns), so a
  SIGTERM lets it finish within the grace and cuts what outlives it (bot/drain.py);
- the `RetentionSweeper` applies SHOPMATE_RETENTION_DAYS at start and then daily
  (bot/retention.py) to conversations and order copies, however many fronts or none are
  answering.

The claims' heartbeat and the recovery sweep are the lifecycle's (bot/lifecycle.py): the front
starts them with its own way of answering what a dead process left.
"""

from __future__ import annotations

import logging

from bot.drain import Drain
from bot.retention import RetentionSweeper
from bot.wiring import Services

logger = logging.getLogger(__name__)


class Process:
    """The drain and the retention sweeper of one process; `start()` once, `stop()` at exit."""

    def __init__(self, services: Services, *, drain: Drain | None = None) -> None:
        self.drain = drain or Drain()
        self.retention = RetentionSweeper(
            services.storage.conversations,
            services.settings.retention_days,
            order_copies=services.storage.order_cache,
        )

    def start(self) -> Process:
        """Apply retention now (before any front takes work), then daily in the background."""
        self.retention.start()
        return self

    def finish(self, grace: float) -> bool:
        """Stop taking work and let what runs finish within `grace` (see `Drain.finish`)."""
        return self.drain.finish(grace)

    def stop(self) -> None:
        self.retention.stop()
