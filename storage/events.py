"""Exactly-once processing of incoming messages, across retries, duplicates and restarts.

Slack re-sends an event it thinks was not acknowledged, and one @mention can arrive as two
events; each front derives one key per user message and claims it before answering.

`owner` must identify one run of one process (e.g. "host:pid:random"): a claim left unfinished
by a different owner is taken to belong to a process that died, and is handed over. Two bot
processes running at the same time on one database would therefore both be allowed to answer
a message the other is still answering; run one bot process per database.
"""

from __future__ import annotations

import logging

from storage.database import SharedDatabase

logger = logging.getLogger(__name__)

CLAIMED = "claimed"
DONE = "done"


class EventLog:
    """The `processed_events` table: one row per incoming message key."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    def claim(self, key: str, *, owner: str, thread_key: str | None = None) -> bool:
        """True when the caller should process the event, False when someone else has or will.

        True for a new key (recorded as claimed by `owner`), and for a key claimed by a
        different owner that never finished it (taken over). False for a finished key, or one
        this owner already claimed (a retry arriving while the first delivery is in hand).
        Atomic across threads and processes: the read and the write share one
        `BEGIN IMMEDIATE` transaction.
        """
        with self._shared.write() as db:
            events = db.table("processed_events")
            rows = list(events.rows_where("key = ?", [key], limit=1))
            now = self._shared.now()
            if not rows:
                events.insert(
                    {
                        "key": key,
                        "owner": owner,
                        "status": CLAIMED,
                        "thread_key": thread_key,
                        "claimed_utc": now,
                        "finished_utc": None,
                    }
                )
                return True
            row = rows[0]
            if row["status"] == DONE or row["owner"] == owner:
                return False
            events.update(
                key,
                {
                    "owner": owner,
                    "claimed_utc": now,
                    "thread_key": thread_key or row["thread_key"],
                },
            )
        logger.warning(
            "took over event %s from %s, which claimed it at %s and never finished",
            key,
            row["owner"],
            row["claimed_utc"],
        )
        return True

    def finish(self, key: str) -> None:
        """Mark the event done, so no later delivery or restart processes it again.

        A key that was never claimed is recorded as done too (with a warning): the work
        happened, so it must not happen again.
        """
        with self._shared.write() as db:
            events = db.table("processed_events")
            now = self._shared.now()
            if events.count_where("key = ?", [key]):
                events.update(key, {"status": DONE, "finished_utc": now})
                return
            events.insert(
                {
                    "key": key,
                    "owner": "",
                    "status": DONE,
                    "thread_key": None,
                    "claimed_utc": now,
                    "finished_utc": now,
                }
            )
        logger.warning("finished event %s that was never claimed", key)

    def unfinished(self, *, exclude_owner: str) -> list[dict[str, str | None]]:
        """Claims never finished by an owner other than `exclude_owner`, oldest first.

        At start-up these are the messages a previous run accepted and then died on; each
        row has `key`, `owner`, `thread_key` and `claimed_utc`.
        """
        with self._shared.read() as db:
            return list(
                db.table("processed_events").rows_where(
                    "status = ? and owner != ?",
                    [CLAIMED, exclude_owner],
                    select="key, owner, thread_key, claimed_utc",
                    order_by="claimed_utc, key",
                )
            )

    def status(self, key: str) -> str | None:
        """Return "claimed", "done", or None for a key never seen."""
        with self._shared.read() as db:
            rows = list(
                db.table("processed_events").rows_where("key = ?", [key], select="status", limit=1)
            )
        return rows[0]["status"] if rows else None
