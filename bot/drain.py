"""Graceful shutdown: count the work in flight, stop taking new work, cut what outlives the grace.

A deploy sends SIGTERM. Work accepted before it (an HTTP request being handled, an event
Bolt acked, an answer streaming into a thread) is finished within the grace period; work
offered after it is refused so that Slack gives it to the next process (HTTP 503, or a
closed Socket Mode connection). Answers still open when the grace is over end with a notice
and keep their claim unfinished, for the next process to pick up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

# After the grace, how long answers get to notice it and post their notice.
NOTICE_WINDOW_S = 5.0


class Drain:
    """One per process (bot/process.py): shared by its server, its worker pools and its front."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = 0
        self.stopping = threading.Event()  # set: take no new work
        self.expired = threading.Event()  # set: the grace is over, cut open answers now

    @contextmanager
    def working(self) -> Iterator[None]:
        """Count the body as work in flight."""
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def enter(self) -> None:
        with self._cond:
            self._busy += 1

    def leave(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def busy(self) -> int:
        with self._cond:
            return self._busy

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is in flight; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def finish(self, grace: float, *, notice_window: float = NOTICE_WINDOW_S) -> bool:
        """Stop taking work, let work in flight finish within `grace`, then cut what is left.

        Returns True when nothing is left running; False if some answer is stuck (waiting on
        Claude without a word for the whole notice window), and the caller should exit anyway.
        """
        self.stopping.set()
        started = time.monotonic()
        if self.wait_idle(grace):
            logger.info("Drained in %.1f s", time.monotonic() - started)
            return True
        logger.warning(
            "%d piece(s) of work still running after %.0f s; ending open answers with a notice",
            self.busy(),
            grace,
        )
        self.expired.set()
        if self.wait_idle(notice_window):
            return True
        logger.error("%d piece(s) of work did not stop; exiting anyway", self.busy())
        return False


class DrainingExecutor(ThreadPoolExecutor):
    """A worker pool (Bolt's listeners, Slack's recovery, the API's turns) counting each job as
    work in flight until it returns.

    Bolt acks an event before its listener runs here, so a job queued in this pool is work
    Slack will not send again: the shutdown must wait for it.
    """

    def __init__(self, drain: Drain, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drain = drain

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.drain.enter()
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self.drain.leave()
            raise
        future.add_done_callback(lambda _: self.drain.leave())
        return future
