"""Runs the turns of one conversation in order, one at a time; different ones run concurrently.

The lifecycle owns one for every front: Slack queues a thread's messages behind the turn
that is running (`submit`), the API refuses a second message to a busy conversation
(`run_if_idle`) and its client decides when to send it again.
"""

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
        self._drain(key, queue)
        return True

    def run_if_idle(self, key: str, job: Callable[[], None]) -> bool:
        """Run `job` here if nothing runs (or waits) for `key`; False, without running it, if busy.

        Exceptions propagate: the caller reports its own failures.
        """
        with self._lock:
            if key in self._queues:
                return False
            queue = self._queues[key] = []
        try:
            job()
        finally:
            # Nobody queues behind a job run this way, but `submit` could have: run those too.
            self._drain(key, queue)
        return True

    def _drain(self, key: str, queue: list[tuple[str, int, Callable[[], None]]]) -> None:
        while True:
            with self._lock:
                if not queue:
                    del self._queues[key]
                    return
                _, _, job = heapq.heappop(queue)
            try:
                job()
            except Exception:
                logger.exception("A turn failed unexpectedly in %s", key)

    def busy(self) -> int:
        with self._lock:
            return len(self._queues)
