"""Claims and leases on PostgreSQL: the same promises as `Claims`, kept with PostgreSQL's tools.

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

from storage.claims import (
    CLAIM_COLUMNS,
    CLAIMED,
    DONE,
    Claim,
    Claims,
    claim_changes,
    log_take_over,
    new_row,
)

logger = logging.getLogger(__name__)

_COLUMNS = ", ".join(f"e.{column.strip()}" for column in CLAIM_COLUMNS.split(","))


class PgClaims(Claims):
    """`processed_events` on PostgreSQL; reads are inherited, every write is its own."""

    def _claim(
        self, key: str, owner: str, thread_key: str | None, message_json: str | None, lease: float
    ) -> Claim | None:
        now = self._shared.now()
        until = self._shared.later(lease)
        with self._shared.write(serial=False) as db:
            inserted = db.raw(
                "insert into processed_events (key, owner, status, thread_key, claimed_utc, "
                "lease_until_utc, message_json, attempts) values (%s, %s, %s, %s, %s, %s, %s, 1) "
                "on conflict (key) do nothing returning key",
                [key, owner, CLAIMED, thread_key, now, until, message_json],
            ).fetchone()
            if inserted is not None:
                return Claim.from_row(new_row(key, owner, thread_key, message_json, now, until))
            # Read `FOR UPDATE`: two processes judging the same expired lease take turns.
            [row] = db.raw_dicts(
                f"select {CLAIM_COLUMNS} from processed_events where key = %s for update", [key]
            )
            changes, claimed = claim_changes(row, owner, thread_key, message_json, now, until)
            if changes:
                sets = ", ".join(f"{column} = %s" for column in changes)
                db.raw(
                    f"update processed_events set {sets} where key = %s", [*changes.values(), key]
                )
            if not claimed:
                return None
        log_take_over(key, row["owner"], row["lease_until_utc"])
        return Claim.from_row({**row, **changes}, previous_owner=row["owner"])

    def take_over_expired(
        self, *, owner: str, lease_seconds: float, prefix: str = "", limit: int = 20
    ) -> list[Claim]:
        now = self._shared.now()
        until = self._shared.later(lease_seconds)
        with self._shared.write(serial=False) as db:
            rows = db.raw_dicts(
                "with picked as (select key, owner as previous_owner, "
                "lease_until_utc as previous_lease from processed_events "
                "where status = %s and owner != %s "
                "and (lease_until_utc is null or lease_until_utc <= %s) "
                "and left(key, %s) = %s "
                "order by claimed_utc, key limit %s for update skip locked) "
                "update processed_events e set owner = %s, lease_until_utc = %s, "
                "attempts = coalesce(e.attempts, 1) + 1 from picked where e.key = picked.key "
                f"returning {_COLUMNS}, picked.previous_owner, picked.previous_lease",
                [CLAIMED, owner, now, len(prefix), prefix, int(limit), owner, until],
            )
        rows.sort(key=lambda row: (row["claimed_utc"], row["key"]))
        taken = []
        for row in rows:
            log_take_over(row["key"], row["previous_owner"], row["previous_lease"])
            taken.append(Claim.from_row(row, previous_owner=row["previous_owner"]))
        return taken

    def renew(self, keys: Iterable[str], *, owner: str, lease_seconds: float) -> list[str]:
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

    def forget(self, key: str, *, owner: str) -> bool:
        with self._shared.write(serial=False) as db:
            cursor = db.raw(
                "delete from processed_events where key = %s and owner = %s and status = %s",
                [key, owner, CLAIMED],
            )
            return bool(cursor.rowcount)

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
