"""Live mode: many products at once under the API's limits, resumable after any interruption.

At most `concurrency` requests are in flight (one worker thread each); the SDK's own retries
(429, 529, 5xx, connection errors, with capped waits, see bot/claude_client.py) absorb rate
limits and overloads, and a 429 that outlasts them pauses every worker for the time the API
asked before the product is tried again. Each answer is stored the moment it is checked, so a
run that is interrupted (Ctrl-C, a crash, a killed process) loses at most the requests in
flight; the next run finds the rest stored and sends only what is missing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from bot.describe.catalogue import Product
from bot.describe.service import Copywriter, FatalAPIError, Outcome

logger = logging.getLogger(__name__)


# How often one product may meet a 429 that outlasted the SDK's retries before it is reported.
RATE_LIMIT_ROUNDS = 4


class _Throttle:
    """A pause every worker honours: when the API still says 429 after the SDK's own retries,
    sending more at once only earns more 429s, so all workers wait what it asked, then the
    product is tried again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)
        logger.warning("rate limited: every worker pauses %.1fs", seconds)

    def wait(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            with self._lock:
                remaining = self._until - time.monotonic()
            if remaining <= 0:
                return
            stopping.wait(remaining)


def plan(
    copywriter: Copywriter, products: list[Product], *, force: bool = False
) -> tuple[list[Product], dict[str, Outcome]]:
    """(products to send, outcomes already known by id). Pending batch items are never re-sent."""
    known = copywriter.stored(products)
    if force:
        known = {pid: o for pid, o in known.items() if o.status == "pending"}
    return [p for p in products if p.id not in known], known


def run_live(
    copywriter: Copywriter,
    products: list[Product],
    *,
    concurrency: int,
    force: bool = False,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Describe `products`, `concurrency` at a time; outcomes in the products' order.

    `on_outcome` is called (from this thread) once per product as it finishes, stored ones
    first, for a progress bar. On KeyboardInterrupt no new request starts, the ones in flight
    finish and are stored, and the interrupt is re-raised.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    todo, known = plan(copywriter, products, force=force)
    logger.info(
        "live run: %d to send, %d already stored or pending, %d at once",
        len(todo),
        len(known),
        concurrency,
    )
    results: dict[str, Outcome] = dict(known)
    for outcome in known.values():
        if on_outcome:
            on_outcome(outcome)
    stopping = threading.Event()

    throttle = _Throttle()

    def work(product: Product) -> Outcome | None:
        outcome = None
        for _ in range(RATE_LIMIT_ROUNDS):
            throttle.wait(stopping)
            if stopping.is_set():
                return outcome
            try:
                outcome = copywriter.describe(product, force=True)
            except FatalAPIError:
                stopping.set()  # at once, before this worker takes another product
                raise
            if outcome.retry_after is None:
                return outcome
            throttle.pause(outcome.retry_after)
        return outcome

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="describe")
    futures: set[Future[Outcome | None]] = set()
    try:
        futures = {pool.submit(work, product) for product in todo}
        remaining = set(futures)
        while remaining:
            done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                if outcome is None:
                    continue
                results[outcome.product.id] = outcome
                if on_outcome:
                    on_outcome(outcome)
    except BaseException as exc:
        # Ctrl-C, or a FatalAPIError from one worker: start nothing new; what is in flight
        # finishes and is stored before we leave.
        stopping.set()
        for future in futures:
            future.cancel()
        running = sum(1 for f in futures if f.running())
        logger.warning(
            "stopping (%s): %d request(s) in flight will finish and be stored; nothing new starts",
            type(exc).__name__,
            running,
        )
        pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)
    return [results[p.id] for p in products if p.id in results]
