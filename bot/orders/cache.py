"""The order service the tools use: a source behind a read-through cache with an honest age.

A remote source is asked at most once per order per SHOPMATE_ORDER_CACHE_S, however many
turns, prefetches and tool calls want that order (concurrent asks for one order share one
source call). When the source cannot answer, the last copy is served with the time it was
read; with no copy the caller gets `OrderUnavailable` and says so, never a guess.
The table source is local: it is asked directly, with no cache and no copy.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.orders.source import Order, OrderSource, SourceUnavailable, keep_fields
from bot.settings import Settings
from storage.database import utc_now
from storage.order_cache import CachedOrder, OrderCacheStore

logger = logging.getLogger(__name__)


class OrderUnavailable(Exception):
    """The order system did not answer and there is no copy to fall back on."""

    def __init__(self, source: str, kind: str) -> None:
        super().__init__(f"the order system ({source}) is unavailable: {kind}")
        self.source = source
        self.kind = kind


@dataclass(frozen=True)
class Lookup:
    """An answer: the order (None: no such order) and, for a copy served because the source
    failed, the time that copy was read (`as_of`); None means the answer is current."""

    order: Order | None
    as_of: datetime | None = None


class OrderService:
    """What `get_order`, the prefetch and the hand-off tools ask; the source stays hidden."""

    def __init__(
        self,
        source: OrderSource,
        *,
        cache: OrderCacheStore | None = None,
        cache_seconds: float = Settings.order_cache_seconds,
        allowed_fields: tuple[str, ...] = (),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.source = source
        self._cache = cache
        self._ttl = timedelta(seconds=cache_seconds)
        self._allowed = allowed_fields
        self._clock = clock
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def get(self, order_id: str) -> Order | None:
        """The order or None; raises OrderUnavailable (for checks such as the hand-off's)."""
        return self.lookup(order_id).order

    def lookup(self, order_id: str) -> Lookup:
        if self._cache is None:
            return self._ask(order_id, copy=None)
        fresh = self._fresh(self._cache.get(self.source.name, order_id))
        if fresh is not None:
            return fresh
        with self._lock_for(order_id):
            # Another thread may have asked the source while this one waited for the lock.
            copy = self._cache.get(self.source.name, order_id)
            fresh = self._fresh(copy)
            if fresh is not None:
                return fresh
            return self._ask(order_id, copy=copy)

    def _fresh(self, copy: CachedOrder | None) -> Lookup | None:
        """The copy as an answer, if it is recent enough to serve without asking the source."""
        if copy is None or self._clock() - _parse(copy.fetched_utc) >= self._ttl:
            return None
        return Lookup(copy.order)

    def _ask(self, order_id: str, copy: CachedOrder | None) -> Lookup:
        name = self.source.name
        try:
            found = self.source.lookup(order_id)
        except SourceUnavailable as failure:
            return self._fall_back(order_id, copy, failure.kind, failure.message)
        except Exception as failure:  # a bug or a reply we did not foresee: still no traceback
            logger.exception("order source %s failed on %s", name, order_id)
            return self._fall_back(order_id, copy, "error", str(failure))
        order = None if found is None else keep_fields(found, self._allowed)
        if self._cache is not None:
            self._cache.put(name, order_id, order)
        return Lookup(order)

    def _fall_back(
        self, order_id: str, copy: CachedOrder | None, kind: str, message: str
    ) -> Lookup:
        name = self.source.name
        # A remembered "no such order" is not worth serving late: the order may exist now.
        usable = copy is not None and copy.order is not None
        logger.warning(
            "order source %s could not answer for %s (%s: %s); %s",
            name,
            order_id,
            kind,
            message,
            f"serving the copy from {copy.fetched_utc}" if usable else "no copy to serve",
        )
        if self._cache is not None:
            self._cache.record_failure(
                name, kind, served="copy" if usable else "none", order_id=order_id
            )
        if not usable:
            raise OrderUnavailable(name, kind)
        return Lookup(copy.order, as_of=_parse(copy.fetched_utc))

    def _lock_for(self, order_id: str) -> threading.Lock:
        with self._locks_guard:
            if len(self._locks) > 10_000:  # ids are user input: keep the map bounded
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault(order_id, threading.Lock())


def _parse(stored_utc: str) -> datetime:
    return datetime.fromisoformat(stored_utc)
