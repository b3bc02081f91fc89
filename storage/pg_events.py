"""Claims and leases on PostgreSQL: the same promises as `EventLog`, kept with PostgreSQL's tools.

On SQLite every claim is one `BEGIN IMMEDIATE` transaction: one writer at a time decides. Here
many hosts claim at once, and a claim must not queue behind unrelated writes, so nothing takes
the database-wide write lock (`write(serial=False)`):

- a new key is claimed by `INSERT ... ON CONFLICT DO NOTHING RETURNING`: the insert itself
  decides who was first, never a read before it;
- a key already present is read `FOR UPDATE`, so two processes judging the same expired lease
  take turns, and the second sees the first's take-over;
- the recovery sweep picks expired claims `FOR UPDATE SKIP LOCKED`: two sweeping processes
  never wait for each other and never take the same claim;
- renewals, releases and finishing are single conditional statements.

Leases compare wall-clock times written by different hosts, so their clocks must agree (NTP)
to well within a lease (30 s by default).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from storage.events import (
    _CLAIM_COLUMNS,
    CLAIMED,
    DEFAULT_LEASE_SECONDS,
    DONE,
    Claim,
    EventLog,
    _as_claim,
)

logger = logging.getLogger(__name__)

_COLUMNS = ", ".join(f"e.{column.strip()}" for column in _CLAIM_COLUMNS.split(","))


class PgEventLog(EventLog):
    """`processed_events` on PostgreSQL; reads are inherited, every write is its own."""

    def claim_message(
        self,
        key: str,
        *,
        owner: str,
        thread_key: str | None = None,
        message: dict[str, Any] | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> Claim | None:
        message_json = json.dumps(message, ensure_ascii=False) if message is not None else None
        now = self._shared.now()
        until = self._shared.later(lease_seconds)
        with self._shared.write(serial=False) as db:
            inserted = db.raw(
                "insert into processed_events (key, owner, status, thread_key, claimed_utc, "
                "lease_until_utc, message_json, attempts) values (%s, %s, %s, %s, %s, %s, %s, 1) "
                "on conflict (key) do nothing returning key",
                [key, owner, CLAIMED, thread_key, now, until, message_json],
            ).fetchone()
            if inserted is not None:
                return _as_claim(
                    {
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
                )
            [row] = db.raw_dicts(
                f"select {_CLAIM_COLUMNS} from processed_events where key = %s for update", [key]
            )
            changes = self._take_over_changes(db, row, owner, thread_key, message_json, now, until)
            if changes is None:
                return None
            sets = ", ".join(f"{column} = %s" for column in changes)
            db.raw(f"update processed_events set {sets} where key = %s", [*changes.values(), key])
        logger.warning(
            "took over event %s from %s, whose lease ran out at %s",
            key,
            row["owner"],
            row["lease_until_utc"],
        )
        return _as_claim({**row, **changes}, previous_owner=row["owner"])

    @staticmethod
    def _take_over_changes(
        db: Any,
        row: dict[str, Any],
        owner: str,
        thread_key: str | None,
        message_json: str | None,
        now: str,
        until: str,
    ) -> dict[str, Any] | None:
        """What a claim changes on an existing (locked) row; None when it is not the caller's."""
        if row["status"] == DONE or row["owner"] == owner:
            return None
        if row["lease_until_utc"] is not None and row["lease_until_utc"] > now:
            if message_json is not None and row["message_json"] is None:
                # A claim from before leases stored no text: keep it for whoever answers.
                db.raw(
                    "update processed_events set message_json = %s where key = %s",
                    [message_json, row["key"]],
                )
            logger.info(
                "event %s is held by %s until %s; leaving it to that owner",
                row["key"],
                row["owner"],
                row["lease_until_utc"],
            )
            return None
        return {
            "owner": owner,
            "claimed_utc": now,
            "lease_until_utc": until,
            "thread_key": thread_key or row["thread_key"],
            "message_json": row["message_json"] or message_json,
            "attempts": (row["attempts"] or 1) + 1,
        }

    def take_over_expired(
        self, *, owner: str, lease_seconds: float = DEFAULT_LEASE_SECONDS, limit: int = 20
    ) -> list[Claim]:
        now = self._shared.now()
        until = self._shared.later(lease_seconds)
        with self._shared.write(serial=False) as db:
            rows = db.raw_dicts(
                "with picked as (select key, owner as previous_owner, "
                "lease_until_utc as previous_lease from processed_events "
                "where status = %s and owner != %s "
                "and (lease_until_utc is null or lease_until_utc <= %s) "
                "order by claimed_utc, key limit %s for update skip locked) "
                "update processed_events e set owner = %s, lease_until_utc = %s, "
                "attempts = coalesce(e.attempts, 1) + 1 from picked where e.key = picked.key "
                f"returning {_COLUMNS}, picked.previous_owner, picked.previous_lease",
                [CLAIMED, owner, now, int(limit), owner, until],
            )
        rows.sort(key=lambda row: (row["claimed_utc"], row["key"]))
        taken = []
        for row in rows:
            logger.warning(
                "took over event %s from %s, whose lease ran out at %s",
                row["key"],
                row["previous_owner"],
                row["previous_lease"],
            )
            taken.append(_as_claim(row, previous_owner=row["previous_owner"]))
        return taken

    def renew(
        self, keys: Iterable[str], *, owner: str, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> list[str]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        with self._shared.write(serial=False) as db:
            held = {
                row[0]
                for row in db.raw(
                    "update processed_events set lease_until_utc = %s "
                    "where owner = %s and status = %s and key = any(%s) returning key",
                    [self._shared.later(lease_seconds), owner, CLAIMED, wanted],
                ).fetchall()
            }
        return [key for key in wanted if key not in held]

    def release(self, keys: Iterable[str], *, owner: str) -> int:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return 0
        with self._shared.write(serial=False) as db:
            cursor = db.raw(
                "update processed_events set lease_until_utc = %s "
                "where owner = %s and status = %s and key = any(%s)",
                [self._shared.now(), owner, CLAIMED, wanted],
            )
            return int(cursor.rowcount)

    def record_reply(self, key: str, ts: str) -> None:
        with self._shared.write(serial=False) as db:
            row = db.raw(
                "select replies_json from processed_events where key = %s for update", [key]
            ).fetchone()
            if row is None:
                return
            replies = json.loads(row[0] or "[]")
            if ts not in replies:
                replies.append(ts)
            db.raw(
                "update processed_events set replies_json = %s where key = %s",
                [json.dumps(replies), key],
            )

    def finish(self, key: str) -> None:
        now = self._shared.now()
        with self._shared.write(serial=False) as db:
            [inserted] = db.raw(
                "insert into processed_events (key, owner, status, claimed_utc, finished_utc) "
                "values (%s, '', %s, %s, %s) on conflict (key) do update set "
                "status = excluded.status, finished_utc = excluded.finished_utc, "
                "message_json = null returning (xmax = 0)",
                [key, DONE, now, now],
            ).fetchone()
        if inserted:
            logger.warning("finished event %s that was never claimed", key)
