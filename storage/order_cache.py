"""Copies of orders read from a remote order source, and the times that source failed.

Plain types in and out: an order is a dict (or None for "no such order"), times are the
stored `*_utc` strings. What to do with an old copy is the caller's business (bot/orders/).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from storage.database import SharedDatabase, as_utc_iso

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedOrder:
    """A stored copy: the order (None: the source said there is no such order) and when."""

    order: dict[str, Any] | None
    fetched_utc: str


class OrderCacheStore:
    """Keyed by (source name, ShopMate order id): switching sources never serves another's copy."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    def get(self, source: str, order_id: str) -> CachedOrder | None:
        with self._shared.read() as db:
            rows = list(
                db.table("order_cache").rows_where(
                    "source = ? and order_id = ?", [source, order_id], limit=1
                )
            )
        if not rows:
            return None
        raw = rows[0]["order_json"]
        return CachedOrder(json.loads(raw) if raw is not None else None, rows[0]["fetched_utc"])

    def put(self, source: str, order_id: str, order: dict[str, Any] | None) -> str:
        """Store the source's answer as of now; returns the stored time."""
        with self._shared.write() as db:
            now = self._shared.now()
            db.table("order_cache").upsert(
                {
                    "source": source,
                    "order_id": order_id,
                    "order_json": None if order is None else json.dumps(order, ensure_ascii=False),
                    "fetched_utc": now,
                },
                pk=("source", "order_id"),
            )
        return now

    def record_failure(self, source: str, kind: str, *, served: str, order_id: str = "") -> None:
        """Note one failed source call; `served` says what the person got (copy or none)."""
        with self._shared.write() as db:
            db.table("order_source_failures").insert(
                {
                    "at_utc": self._shared.now(),
                    "source": source,
                    "kind": kind,
                    "served": served,
                    "order_id": order_id,
                }
            )

    def failure_report(self, since: Any) -> list[dict[str, Any]]:
        """Failures since `since` per (source, kind, served): count and the latest time."""
        with self._shared.read() as db:
            return list(
                db.query(
                    "select source, kind, served, count(*) as failures, max(at_utc) as last_utc "
                    "from order_source_failures where at_utc >= ? "
                    "group by source, kind, served order by source, kind, served",
                    [as_utc_iso(since)],
                )
            )

    def purge_older_than(self, cutoff: Any) -> int:
        """Drop copies fetched before `cutoff` (they are too old to be worth serving)."""
        with self._shared.write() as db:
            cursor = db.execute(
                "delete from order_cache where fetched_utc < ?", [as_utc_iso(cutoff)]
            )
            return cursor.rowcount
