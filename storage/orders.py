"""ThreadCo's orders, as the get_order tool reads them and the importer writes them."""

from __future__ import annotations

import logging
from typing import Any

from storage.database import SharedDatabase

logger = logging.getLogger(__name__)

ORDER_FIELDS = ("order_id", "status", "item", "eta", "tracking")
# Written by people's decisions (an approved exchange), never by an import.
DECISION_FIELDS = ("note",)

# Well under SQLite's limit on bound parameters in one statement.
_LOOKUP_CHUNK = 500


class OrderStore:
    """Orders keyed by their normalised id (e.g. "ORD-1001"); normalising is the caller's job."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    def upsert_many(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert new orders and overwrite existing ones, all in ONE transaction.

        An import either lands whole or not at all. Returns {"inserted": n, "updated": m},
        counting distinct order ids.
        """
        for index, row in enumerate(rows):
            missing = [field for field in ORDER_FIELDS if field not in row]
            if missing:
                raise ValueError(f"rows[{index}] lacks {', '.join(missing)}")
        ids = list(dict.fromkeys(row["order_id"] for row in rows))
        with self._shared.write() as db:
            now = self._shared.now()
            existing: set[str] = set()
            for start in range(0, len(ids), _LOOKUP_CHUNK):
                chunk = ids[start : start + _LOOKUP_CHUNK]
                placeholders = ", ".join("?" * len(chunk))
                existing.update(
                    row["order_id"]
                    for row in db.table("orders").rows_where(
                        f"order_id in ({placeholders})", chunk, select="order_id"
                    )
                )
            db.table("orders").upsert_all(
                ({**{f: row[f] for f in ORDER_FIELDS}, "updated_utc": now} for row in rows),
                pk="order_id",
            )
        counts = {"inserted": len(ids) - len(existing), "updated": len(existing)}
        logger.info("orders upserted: %s", counts)
        return counts

    def get(self, order_id: str) -> dict[str, Any] | None:
        """The order with exactly this id (with its `note` if a person left one), or None."""
        with self._shared.read() as db:
            rows = list(
                db.table("orders").rows_where(
                    "order_id = ?",
                    [order_id],
                    select=", ".join(ORDER_FIELDS + DECISION_FIELDS),
                    limit=1,
                )
            )
        if not rows:
            return None
        # Only orders a person decided about carry a note; the rest look as imported.
        return {k: v for k, v in rows[0].items() if k not in DECISION_FIELDS or v is not None}

    def record_decision(self, order_id: str, *, note: str, status: str | None = None) -> bool:
        """Write what a person decided about an order (a note, maybe a new status).

        Joins the caller's transaction when there is one (`write()` nests as a savepoint),
        so a decision and its effect on the order commit together. False if no such order.
        """
        changes: dict[str, Any] = {"note": note, "updated_utc": self._shared.now()}
        if status is not None:
            changes["status"] = status
        with self._shared.write() as db:
            assignments = ", ".join(f"[{column}] = ?" for column in changes)
            cursor = db.execute(
                f"update orders set {assignments} where order_id = ?",
                [*changes.values(), order_id],
            )
            found = cursor.rowcount == 1
        if found:
            logger.info("order %s: %s", order_id, note)
        return found

    def count(self) -> int:
        with self._shared.read() as db:
            return db.table("orders").count
