"""Claims: exactly-once handling of incoming messages across retries, crashes and replicas.

Slack re-sends an event it thinks was not acknowledged, one @mention can arrive as two events,
an API client retries a POST with the same Idempotency-Key, and two processes may share one
database (a rolling deploy, a second replica): each front derives one key per user message and
the lifecycle claims it before answering (bot/lifecycle.py).

A claim is a lease. It names its `owner` (one run of one process, e.g. "host:pid:random") and
an expiry, `lease_until_utc`, which the owner pushes forward (`renew`) for as long as it works
on the message. Nobody else may take the message while the lease runs; once it has passed, the
owner is taken to be dead (or frozen) and another process may take the message over (`claim`
for a re-delivery or a retried request, `take_over_expired` for the periodic recovery sweep).
Several processes may therefore run on one database at the same time: each message is
answered by one of them. The lease's length is the caller's (SHOPMATE_CLAIM_LEASE, passed in by
the lifecycle): nothing here types a default.

The claim also stores the accepted message itself (`message`, a plain dict: its text and where
to answer) and the Slack messages posted for its answer so far (`record_reply`), so a successor
can answer it from the stored text, and retire a half-shown answer, instead of asking the person
to repeat themselves. The stored text is dropped when the message is finished.

Leases compare wall-clock times written by different processes, so every process on one
database must share a clock, which SQLite's own rule (one machine, a local file) already gives.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from storage.database import SharedDatabase

logger = logging.getLogger(__name__)

CLAIMED = "claimed"
DONE = "done"

# Columns a Claim is read from (JSON columns decoded, under their plain names).
CLAIM_COLUMNS = (
    "key, owner, status, thread_key, claimed_utc, lease_until_utc, message_json, replies_json, "
    "attempts"
)


@dataclass(frozen=True)
class Claim:
    """One message's claim: who holds it, until when, and what a successor needs to answer it."""

    key: str
    owner: str
    status: str
    thread_key: str | None
    claimed_utc: str
    lease_until_utc: str | None
    # The accepted message as its front stored it (its text and where to answer); dropped
    # once finished.
    message: dict[str, Any] | None = None
    # The Slack messages posted for its answer so far (their ts), oldest first.
    replies: tuple[str, ...] = ()
    attempts: int = 1
    # Set when this claim was taken over from an owner whose lease ran out.
    previous_owner: str | None = None

    @property
    def taken_over(self) -> bool:
        return self.previous_owner is not None

    @classmethod
    def from_row(cls, row: dict[str, Any], *, previous_owner: str | None = None) -> Claim:
        message = row.get("message_json")
        replies = row.get("replies_json")
        return cls(
            key=row["key"],
            owner=row["owner"],
            status=row["status"],
            thread_key=row["thread_key"],
            claimed_utc=row["claimed_utc"],
            lease_until_utc=row["lease_until_utc"],
            message=json.loads(message) if message else None,
            replies=tuple(json.loads(replies)) if replies else (),
            attempts=row["attempts"] or 1,
            previous_owner=previous_owner,
        )


def encode_message(message: dict[str, Any] | None) -> str | None:
    return json.dumps(message, ensure_ascii=False) if message is not None else None


def new_row(
    key: str, owner: str, thread_key: str | None, message_json: str | None, now: str, until: str
) -> dict[str, Any]:
    """The row of a key claimed for the first time."""
    return {
        "key": key,
        "owner": owner,
        "status": CLAIMED,
        "thread_key": thread_key,
        "claimed_utc": now,
        "lease_until_utc": until,
        "message_json": message_json,
        "replies_json": None,
        "attempts": 1,
    }


def claim_changes(
    row: dict[str, Any],
    owner: str,
    thread_key: str | None,
    message_json: str | None,
    now: str,
    until: str,
) -> tuple[dict[str, Any], bool]:
    """What a claim writes on an existing row, and whether the caller now holds it.

    Not the caller's: a finished key, one this owner already holds (a retry arriving while
    the first delivery is in hand), or one whose owner's lease still runs. A claim another
    owner holds from before leases stored no text keeps this delivery's text for it.
    """
    if row["status"] == DONE or row["owner"] == owner:
        return {}, False
    if row["lease_until_utc"] is not None and row["lease_until_utc"] > now:
        logger.info(
            "event %s is held by %s until %s; leaving it to that owner",
            row["key"],
            row["owner"],
            row["lease_until_utc"],
        )
        keep = message_json is not None and row["message_json"] is None
        return ({"message_json": message_json} if keep else {}), False
    changes = {
        "owner": owner,
        "claimed_utc": now,
        "lease_until_utc": until,
        "thread_key": thread_key or row["thread_key"],
        "message_json": row["message_json"] or message_json,
        "attempts": (row["attempts"] or 1) + 1,
    }
    return changes, True


def log_take_over(key: str, previous_owner: str | None, lease_until: str | None) -> None:
    logger.warning(
        "took over event %s from %s, whose lease ran out at %s", key, previous_owner, lease_until
    )


class Claims:
    """The `processed_events` table: one claim per incoming message key."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    def claim(
        self,
        key: str,
        *,
        owner: str,
        lease_seconds: float,
        thread_key: str | None = None,
        message: dict[str, Any] | None = None,
    ) -> bool:
        """True when the caller should process the message, False when someone else has or will.

        See `claim_message`, which also says whether the message was taken over.
        """
        claim = self.claim_message(
            key, owner=owner, thread_key=thread_key, message=message, lease_seconds=lease_seconds
        )
        return claim is not None

    def claim_message(
        self,
        key: str,
        *,
        owner: str,
        lease_seconds: float,
        thread_key: str | None = None,
        message: dict[str, Any] | None = None,
    ) -> Claim | None:
        """Claim `key` for `owner` for `lease_seconds`; the claim, or None if not the caller's.

        A new key is recorded as claimed, with `message` stored beside it. A key another owner
        claimed is taken over only once its lease has passed; the returned claim then carries
        `previous_owner`, the replies that owner posted, and `attempts` > 1. None for a
        finished key, one whose owner's lease still runs, or one this owner already holds (a
        retry arriving while the first delivery is in hand). Atomic across threads and
        processes: the read and the write share one `BEGIN IMMEDIATE` transaction.
        """
        return self._claim(key, owner, thread_key, encode_message(message), lease_seconds)

    def _claim(
        self, key: str, owner: str, thread_key: str | None, message_json: str | None, lease: float
    ) -> Claim | None:
        with self._shared.write() as db:
            events = db.table("processed_events")
            rows = list(events.rows_where("key = ?", [key], select=CLAIM_COLUMNS, limit=1))
            now = self._shared.now()
            until = self._shared.later(lease)
            if not rows:
                row = new_row(key, owner, thread_key, message_json, now, until)
                events.insert(row)
                return Claim.from_row(row)
            row = rows[0]
            changes, claimed = claim_changes(row, owner, thread_key, message_json, now, until)
            if changes:
                events.update(key, changes)
            if not claimed:
                return None
        log_take_over(key, row["owner"], row["lease_until_utc"])
        return Claim.from_row({**row, **changes}, previous_owner=row["owner"])

    def take_over_expired(
        self, *, owner: str, lease_seconds: float, prefix: str = "", limit: int = 20
    ) -> list[Claim]:
        """Take over up to `limit` unfinished claims of other owners whose lease has passed.

        Oldest first, only keys starting with `prefix` (a front's own: another front's claims
        are not its to answer); each comes back as `claim_message` returns a take-over. This
        is how a live process finds the messages a dead one accepted, whether or not they are
        sent again. One transaction, so two processes sweeping at once never take the same one.
        """
        taken: list[Claim] = []
        expired = (
            "status = ? and owner != ? and (lease_until_utc is null or lease_until_utc <= ?) "
            "and substr(key, 1, ?) = ?"
        )
        # Most sweeps find nothing: look first without taking SQLite's write lock, which
        # every other process's claims and renewals would have to wait for.
        with self._shared.read() as db:
            args = [CLAIMED, owner, self._shared.now(), len(prefix), prefix]
            if not db.table("processed_events").count_where(expired, args):
                return []
        with self._shared.write() as db:
            now = self._shared.now()
            until = self._shared.later(lease_seconds)
            events = db.table("processed_events")
            rows = list(
                events.rows_where(
                    expired,
                    [CLAIMED, owner, now, len(prefix), prefix],
                    select=CLAIM_COLUMNS,
                    order_by="claimed_utc, key",
                    limit=limit,
                )
            )
            for row in rows:
                changes = {
                    "owner": owner,
                    "lease_until_utc": until,
                    "attempts": (row["attempts"] or 1) + 1,
                }
                events.update(row["key"], changes)
                taken.append(Claim.from_row({**row, **changes}, previous_owner=row["owner"]))
        for row in rows:
            log_take_over(row["key"], row["owner"], row["lease_until_utc"])
        return taken

    def renew(self, keys: Iterable[str], *, owner: str, lease_seconds: float) -> list[str]:
        """Extend `owner`'s lease on `keys`; return the keys among them it no longer holds.

        A key is lost when another owner took it over (this owner stalled past its lease) or
        when it was finished; the caller should stop working on a key taken from it.
        """
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        held: set[str] = set()
        with self._shared.write() as db:
            until = self._shared.later(lease_seconds)
            # Chunks stay far below SQLite's limit on bound parameters.
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                where = f"owner = ? and status = ? and key in ({marks})"
                db.execute(
                    f"update processed_events set lease_until_utc = ? where {where}",
                    [until, owner, CLAIMED, *chunk],
                )
                held.update(
                    row["key"]
                    for row in db.table("processed_events").rows_where(
                        where, [owner, CLAIMED, *chunk], select="key"
                    )
                )
        return [key for key in wanted if key not in held]

    def release(self, keys: Iterable[str], *, owner: str) -> int:
        """End `owner`'s leases on unfinished `keys` now, so a successor needn't wait them out.

        For a process that stops before finishing some messages (a graceful shutdown whose
        grace ran out): the next sweep of any live process answers them. Returns how many.
        """
        wanted = list(dict.fromkeys(keys))
        released = 0
        with self._shared.write() as db:
            now = self._shared.now()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                cursor = db.execute(
                    "update processed_events set lease_until_utc = ? "
                    f"where owner = ? and status = ? and key in ({marks})",
                    [now, owner, CLAIMED, *chunk],
                )
                released += cursor.rowcount
        return released

    def forget(self, key: str, *, owner: str) -> bool:
        """Drop `owner`'s unfinished claim on `key`, as if it had never been made.

        For a message whose handling gave no answer and may simply be sent again (an API
        request: its retry, even to this same process, runs it afresh). True if it was ours.
        """
        with self._shared.write() as db:
            cursor = db.execute(
                "delete from processed_events where key = ? and owner = ? and status = ?",
                [key, owner, CLAIMED],
            )
            return bool(cursor.rowcount)

    def record_reply(self, key: str, ts: str) -> None:
        """Remember that Slack message `ts` was posted as (part of) the answer to `key`.

        Called right after each message of an answer is created, so a successor that takes
        the key over knows what is already showing in the thread.
        """
        with self._shared.write() as db:
            rows = list(
                db.table("processed_events").rows_where(
                    "key = ?", [key], select="replies_json", limit=1
                )
            )
            if not rows:
                return
            replies = json.loads(rows[0]["replies_json"] or "[]")
            if ts not in replies:
                replies.append(ts)
            db.table("processed_events").update(key, {"replies_json": json.dumps(replies)})

    def finish(self, key: str) -> None:
        """Mark the event done, so no later delivery, sweep or restart processes it again.

        The stored message text is dropped: the conversation keeps what it needs. A key
        that was never claimed is recorded as done too (with a warning): the work happened,
        so it must not happen again.
        """
        with self._shared.write() as db:
            events = db.table("processed_events")
            now = self._shared.now()
            if events.count_where("key = ?", [key]):
                events.update(key, {"status": DONE, "finished_utc": now, "message_json": None})
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

    def get(self, key: str) -> Claim | None:
        """The claim recorded for `key` (as `claim_message` returns it), or None."""
        with self._shared.read() as db:
            rows = list(
                db.table("processed_events").rows_where(
                    "key = ?", [key], select=CLAIM_COLUMNS, limit=1
                )
            )
        return Claim.from_row(rows[0]) if rows else None

    def unfinished(self, *, exclude_owner: str) -> list[dict[str, str | None]]:
        """Claims never finished by an owner other than `exclude_owner`, oldest first.

        Each row has `key`, `owner`, `thread_key` and `claimed_utc`, whether or not its
        lease still runs (tests use it to check that nothing was left behind).
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
