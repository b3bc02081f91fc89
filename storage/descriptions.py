"""Product descriptions and the Message Batches that produce them, as plain dicts.

A description is stored under (product id, input hash): the hash covers the product's fields
and the whole prompt, so "have we already paid for this exact answer?" is one lookup. A batch
is recorded in two steps around the API call (`begin_batch` before, `confirm_batch` after), and
its items carry each product's fields, so `--collect` needs neither the CSV nor the process
that submitted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from storage.database import SharedDatabase

logger = logging.getLogger(__name__)

# Well under SQLite's limit on bound parameters in one statement.
_CHUNK = 500
OPEN_BATCH_STATES = ("submitting", "in_progress", "canceling", "ended")


class DescriptionStore:
    """Descriptions, batches and batch items; every multi-row write is one transaction."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    # ------------------------------------------------------------------ descriptions

    def get(self, product_id: str, input_hash: str) -> dict[str, Any] | None:
        """The stored description for exactly these inputs, or None."""
        found = self.find([(product_id, input_hash)])
        return found.get((product_id, input_hash))

    def find(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Stored descriptions for many (product id, input hash) pairs, in a few queries."""
        wanted = set(keys)
        ids = sorted({product_id for product_id, _ in wanted})
        out: dict[tuple[str, str], dict[str, Any]] = {}
        with self._shared.read() as db:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                for row in db.table("descriptions").rows_where(f"product_id in ({marks})", chunk):
                    key = (row["product_id"], row["input_hash"])
                    if key in wanted:
                        out[key] = _decode(row)
        return out

    def save(
        self,
        *,
        product_id: str,
        input_hash: str,
        name: str,
        status: str,
        text: str,
        problems: list[str],
        model: str,
        mode: str,
        model_calls: int,
        usage: dict[str, Any],
        batch_id: str | None = None,
    ) -> None:
        """Store (or replace, after --force) the paid-for answer for these inputs."""
        if status not in ("ok", "rejected"):
            raise ValueError(f"status must be ok or rejected, not {status!r}")
        with self._shared.write() as db:
            db.table("descriptions").upsert(
                {
                    "product_id": product_id,
                    "input_hash": input_hash,
                    "name": name,
                    "status": status,
                    "text": text,
                    "problems_json": json.dumps(problems, ensure_ascii=False),
                    "model": model,
                    "mode": mode,
                    "batch_id": batch_id,
                    "model_calls": model_calls,
                    "usage_json": json.dumps(usage),
                    "created_utc": self._shared.now(),
                },
                pk=("product_id", "input_hash"),
            )

    def count(self) -> int:
        with self._shared.read() as db:
            return db.table("descriptions").count

    # ------------------------------------------------------------------ batches

    def begin_batch(
        self,
        *,
        model: str,
        prompt_hash: str,
        out_path: str | None,
        items: list[dict[str, Any]],
    ) -> int:
        """Record a batch about to be submitted (status `submitting`); returns its local id.

        `items` are dicts with product_id, input_hash and product (a dict of its fields).
        """
        with self._shared.write() as db:
            now = self._shared.now()
            table = db.table("description_batches")
            table.insert(
                {
                    "batch_id": None,
                    "status": "submitting",
                    "model": model,
                    "prompt_hash": prompt_hash,
                    "out_path": out_path,
                    "request_count": len(items),
                    "counts_json": None,
                    "created_utc": now,
                },
            )
            local_id = int(table.last_pk)  # type: ignore[arg-type]
            db.table("description_batch_items").insert_all(
                (
                    {
                        "batch": local_id,
                        "product_id": item["product_id"],
                        "input_hash": item["input_hash"],
                        "product_json": json.dumps(item["product"], ensure_ascii=False),
                        "result": "pending",
                        "error": None,
                    }
                    for item in items
                ),
                pk=("batch", "product_id"),
            )
        return local_id

    def confirm_batch(self, local_id: int, batch_id: str) -> None:
        """The API accepted the batch: remember its id. Written right after `create` returns."""
        self.update_batch(
            local_id, batch_id=batch_id, status="in_progress", submitted_utc=self._shared.now()
        )

    def drop_batch(self, local_id: int) -> None:
        """The API refused the batch: forget it, so its products count as not sent."""
        with self._shared.write() as db:
            db.execute("delete from description_batch_items where batch = ?", [local_id])
            db.table("description_batches").delete(local_id)

    def update_batch(self, local_id: int, **fields: Any) -> None:
        if "counts" in fields:
            fields["counts_json"] = json.dumps(fields.pop("counts"))
        with self._shared.write() as db:
            db.table("description_batches").update(local_id, fields)

    def mark_ended(self, local_id: int) -> None:
        self.update_batch(local_id, status="ended", ended_utc=self._shared.now())

    def mark_collected(self, local_id: int) -> None:
        self.update_batch(local_id, status="collected", collected_utc=self._shared.now())

    def batches(self, *, open_only: bool = False) -> list[dict[str, Any]]:
        """Batches newest first; `open_only` leaves out collected ones."""
        where = None
        args: list[Any] = []
        if open_only:
            where = f"status in ({', '.join('?' * len(OPEN_BATCH_STATES))})"
            args = list(OPEN_BATCH_STATES)
        with self._shared.read() as db:
            rows = list(db.table("description_batches").rows_where(where, args, order_by="id desc"))
        return [_decode(row) for row in rows]

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        with self._shared.read() as db:
            rows = list(
                db.table("description_batches").rows_where("batch_id = ?", [batch_id], limit=1)
            )
        return _decode(rows[0]) if rows else None

    def batch_items(self, local_id: int) -> list[dict[str, Any]]:
        """The batch's products in submission order, each with its result so far."""
        with self._shared.read() as db:
            rows = list(
                db.table("description_batch_items").rows_where(
                    "batch = ?", [local_id], order_by="rowid"
                )
            )
        for row in rows:
            row.pop("rowid", None)  # PostgreSQL's stand-in for SQLite's implicit rowid
            row["product"] = json.loads(row.pop("product_json"))
        return rows

    def set_item_result(
        self, local_id: int, product_id: str, result: str, error: str | None = None
    ) -> None:
        with self._shared.write() as db:
            db.table("description_batch_items").update(
                (local_id, product_id), {"result": result, "error": error}
            )

    def pending_keys(self) -> dict[tuple[str, str], str]:
        """(product id, input hash) -> batch id, for products sent in a batch not yet answered.

        Live runs and new batches skip these: they are already paid for.
        """
        with self._shared.read() as db:
            rows = list(
                db.query(
                    "select i.product_id, i.input_hash, b.batch_id from description_batch_items i "
                    "join description_batches b on b.id = i.batch "
                    "where i.result = 'pending' and b.status in ('in_progress', 'canceling', "
                    "'ended')"
                )
            )
        return {(r["product_id"], r["input_hash"]): r["batch_id"] for r in rows}


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    """JSON columns as Python values, without the `_json` suffix."""
    out = dict(row)
    for key in list(out):
        if key.endswith("_json"):
            raw = out.pop(key)
            out[key[: -len("_json")]] = json.loads(raw) if raw else None
    return out
