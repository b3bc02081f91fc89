"""Runs the turns of one thread in order, one at a time; different threads run concurrently."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class ThreadSerializer:
    """Per-key ordered execution without a thread of its own per key.

    The listener thread that finds a key idle becomes its runner and drains the queue;
    others enqueue and return at once, freeing their pool thread. Jobs run in order of
    their sort key (Slack's message ts), so two messages that race into the pool are still
    answered in the order they were written.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, list[tuple[str, int, Callable[[], None]]]] = {}
        self._counter = itertools.count()

    def submit(self, key: str, order: str, job: Callable[[], None]) -> bool:
        """Queue `job`; run the queue here if no one else is. True if this call ran jobs."""
        with self._lock:
            queue = self._queues.get(key)
            if queue is not None:
                heapq.heappush(queue, (order, next(self._counter), job))
                return False
            queue = self._queues[key] = [(order, next(self._counter), job)]
        while True:
            with self._lock:
                if not queue:
                    del self._queues[key]
                    return True
                _, _, job = heapq.heappop(queue)
            try:
                job()
            except Exception:
                logger.exception("A turn failed unexpectedly in %s", key)

    def busy(self) -> int:
        with self._lock:
            return len(self._queues)
