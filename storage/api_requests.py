"""Idempotent API requests: a retried POST with the same Idempotency-Key gets the first answer.

One row per (key name, Idempotency-Key): the request's fingerprint, the conversation its first
attempt chose and, once answered, the response to replay to every later retry (also after a
restart, with no second model call). The same key with a different request is a client bug and
is reported as such.

Who is running the request, and until when, is not kept here: an Idempotency-Key is a claim
like any Slack event (storage/claims.py), leased and renewed by the lifecycle. A turn that ends
without an answer forgets both, so a retry may try again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from storage.database import SharedDatabase

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredRequest:
    """What is kept of a request: what it asked, in which conversation, and its answer if any."""

    fingerprint: str
    thread_key: str
    response: dict[str, Any] | None = None


class ApiRequestStore:
    """The `api_requests` table."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    def record(
        self, key_name: str, idempotency_key: str, *, fingerprint: str, thread_key: str, owner: str
    ) -> StoredRequest:
        """The request as first recorded: this one if it is new (one transaction).

        `thread_key` is the conversation a new request would use; a retry gets the one its
        first attempt chose, and the fingerprint that attempt had, to compare with its own.
        """
        with self._shared.write() as db:
            table = db.table("api_requests")
            pk = [key_name, idempotency_key]
            rows = list(table.rows_where("key_name = ? and idempotency_key = ?", pk, limit=1))
            if not rows:
                table.insert(
                    {
                        "key_name": key_name,
                        "idempotency_key": idempotency_key,
                        "fingerprint": fingerprint,
                        "thread_key": thread_key,
                        "owner": owner,
                        "lease_until_utc": None,
                        "response_json": None,
                        "created_utc": self._shared.now(),
                        "finished_utc": None,
                    }
                )
                return StoredRequest(fingerprint, thread_key)
        row = rows[0]
        response = json.loads(row["response_json"]) if row["response_json"] is not None else None
        return StoredRequest(row["fingerprint"], row["thread_key"], response)

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

    def forget(self, key_name: str, idempotency_key: str) -> None:
        """Forget an unanswered request, so a retry (of any fingerprint) runs afresh."""
        with self._shared.write() as db:
            db.table("api_requests").delete_where(
                "key_name = ? and idempotency_key = ? and response_json is null",
                [key_name, idempotency_key],
            )
