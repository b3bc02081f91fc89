"""Idempotent API requests: a retried POST with the same Idempotency-Key gets the first answer.

One row per (key name, Idempotency-Key). The first request claims the row with a lease (its
owner renews it while the turn runs); a retry arriving while it runs is told so; a retry after
it finished gets the stored response back, with no second model call, also after a restart.
A claim whose owner died (its lease ran out) is taken over by the next retry, which continues
the same conversation. A turn that ends without an answer releases its row, so a retry may try
again. The same key with a different request is a client bug and is reported as such.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from storage.database import SharedDatabase, to_utc_iso

logger = logging.getLogger(__name__)

State = Literal["new", "replay", "running", "mismatch"]


@dataclass(frozen=True)
class Begun:
    """What `begin` decided: run the request (`new`), or answer with what is stored."""

    state: State
    thread_key: str | None = None
    response: dict[str, Any] | None = None


class ApiRequestStore:
    """The `api_requests` table."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    def _later(self, now: str, seconds: float) -> str:
        return to_utc_iso(datetime.fromisoformat(now) + timedelta(seconds=seconds))

    def begin(
        self,
        key_name: str,
        idempotency_key: str,
        *,
        fingerprint: str,
        thread_key: str,
        owner: str,
        lease_seconds: float,
    ) -> Begun:
        """Claim (key_name, idempotency_key) for `owner`, or say why not; one transaction.

        `thread_key` is the conversation a new request would use; a taken-over request keeps
        the one its first attempt chose (returned in `Begun.thread_key`).
        """
        with self._shared.write() as db:
            table = db.table("api_requests")
            pk = [key_name, idempotency_key]
            rows = list(table.rows_where("key_name = ? and idempotency_key = ?", pk, limit=1))
            now = self._shared.now()
            if not rows:
                table.insert(
                    {
                        "key_name": key_name,
                        "idempotency_key": idempotency_key,
                        "fingerprint": fingerprint,
                        "thread_key": thread_key,
                        "owner": owner,
                        "lease_until_utc": self._later(now, lease_seconds),
                        "response_json": None,
                        "created_utc": now,
                        "finished_utc": None,
                    }
                )
                return Begun("new", thread_key)
            row = rows[0]
            if row["fingerprint"] != fingerprint:
                return Begun("mismatch", row["thread_key"])
            if row["response_json"] is not None:
                return Begun("replay", row["thread_key"], json.loads(row["response_json"]))
            if row["lease_until_utc"] and row["lease_until_utc"] > now:
                return Begun("running", row["thread_key"])
            table.update(pk, {"owner": owner, "lease_until_utc": self._later(now, lease_seconds)})
        logger.warning(
            "took over request %s of key %s from %s, whose lease ran out",
            idempotency_key,
            key_name,
            row["owner"],
        )
        return Begun("new", row["thread_key"])

    def renew(
        self, key_name: str, idempotency_key: str, *, owner: str, lease_seconds: float
    ) -> bool:
        """Push the lease forward while the turn runs; False if the row is no longer ours."""
        with self._shared.write() as db:
            table = db.table("api_requests")
            where = "key_name = ? and idempotency_key = ? and owner = ? and response_json is null"
            args = [key_name, idempotency_key, owner]
            if not table.count_where(where, args):
                return False
            until = self._later(self._shared.now(), lease_seconds)
            table.update([key_name, idempotency_key], {"lease_until_utc": until})
            return True

    def finish(
        self, key_name: str, idempotency_key: str, *, owner: str, response: dict[str, Any]
    ) -> None:
        """Store the response to replay to every later retry."""
        with self._shared.write() as db:
            table = db.table("api_requests")
            table.update(
                [key_name, idempotency_key],
                {
                    "owner": owner,
                    "response_json": json.dumps(response, ensure_ascii=False),
                    "finished_utc": self._shared.now(),
                    "lease_until_utc": None,
                },
            )

    def release(self, key_name: str, idempotency_key: str, *, owner: str) -> None:
        """Forget an unfinished claim of ours, so a retry runs the request again."""
        with self._shared.write() as db:
            db.table("api_requests").delete_where(
                "key_name = ? and idempotency_key = ? and owner = ? and response_json is null",
                [key_name, idempotency_key, owner],
            )
