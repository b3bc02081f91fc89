"""Hand-offs to people: escalations, change requests an approver decides, and their audit trail.

Plain dicts in and out. Every "only once" rule is decided by the database in one statement,
never by a read followed by a write (two listener threads, or two processes, could both pass
the read):

- one escalation per (thread, reason): `INSERT OR IGNORE` against a unique index;
- one pending request per (order, kind): a partial unique index;
- one decision per request: `UPDATE ... WHERE status = 'pending'`; the caller whose update
  changed the row won, and its effect on the order and its audit row commit with it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from storage.database import SharedDatabase
from storage.orders import OrderStore

logger = logging.getLogger(__name__)

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
DECISIONS = (APPROVED, REJECTED)
OPEN = "open"
RESOLVED = "resolved"


@dataclass(frozen=True)
class Filed:
    """The outcome of filing: the stored row, and whether this call created it."""

    row: dict[str, Any]
    created: bool


@dataclass(frozen=True)
class Decided:
    """The outcome of a click: the request as it now stands, and whether this click decided it."""

    request: dict[str, Any] | None
    won: bool


class HandoffStore:
    """The `escalations`, `change_requests` and `handoff_audit` tables."""

    def __init__(self, shared: SharedDatabase, orders: OrderStore) -> None:
        self._shared = shared
        self._orders = orders

    # ------------------------------------------------------------------ escalations

    def file_escalation(
        self,
        *,
        thread_key: str,
        reason: str,
        summary: str,
        order_id: str | None = None,
        user: str | None = None,
        team: str | None = None,
    ) -> Filed:
        """Store an escalation unless this thread already has one for `reason`."""
        now = self._shared.now()
        with self._shared.write() as db:
            row, created = self._file_once(
                db,
                "escalations",
                {
                    "thread_key": thread_key,
                    "reason": reason,
                    "summary": summary,
                    "order_id": order_id,
                    "user": user,
                    "team": team,
                    "status": OPEN,
                    "created_utc": now,
                    "updated_utc": now,
                },
                unique=("thread_key", "reason", "status"),
            )
            if created:
                self._audit(db, user, "escalated", "escalation", row["id"], {"reason": reason})
        return Filed(row, created)

    def escalation_posted(
        self, escalation_id: int, *, channel: str, ts: str, permalink: str | None
    ) -> None:
        """Remember where the escalation was posted (and the thread's permalink)."""
        with self._shared.write() as db:
            db.table("escalations").update(
                escalation_id,
                {
                    "channel": channel,
                    "message_ts": ts,
                    "permalink": permalink,
                    "updated_utc": self._shared.now(),
                },
            )
            self._audit(
                db, None, "posted", "escalation", escalation_id, {"channel": channel, "ts": ts}
            )

    def withdraw_escalation(self, escalation_id: int, why: str) -> None:
        """Forget an escalation whose notice could not be posted, so a retry may file it again."""
        with self._shared.write() as db:
            db.table("escalations").delete(escalation_id)
            self._audit(db, None, "withdrawn", "escalation", escalation_id, {"why": why})

    def resolve_escalation(self, escalation_id: int, *, by: str, note: str = "") -> str:
        """Mark an open escalation resolved: "resolved", or why not ("unknown", "resolved"
        already). Conditional on status, like a decision: two people resolving at once
        resolve it once."""
        now = self._shared.now()
        with self._shared.write() as db:
            cursor = db.execute(
                "update escalations set status = ?, resolved_by = ?, resolution = ?, "
                "updated_utc = ? where id = ? and status = ?",
                [RESOLVED, by, note or None, now, escalation_id, OPEN],
            )
            if cursor.rowcount == 1:
                self._audit(db, by, "resolved", "escalation", escalation_id, {"note": note})
                return RESOLVED
            found = db.execute(
                "select status from escalations where id = ?", [escalation_id]
            ).fetchone()
        return "unknown" if found is None else f"{found[0]} already"

    def escalations(self, *, only_open: bool = False, limit: int = 200) -> list[dict[str, Any]]:
        """Escalations, newest first."""
        with self._shared.read() as db:
            return list(
                db.table("escalations").rows_where(
                    "status = ?" if only_open else None,
                    [OPEN] if only_open else None,
                    order_by="id desc",
                    limit=limit,
                )
            )

    # ------------------------------------------------------------------ change requests

    def file_request(
        self,
        *,
        kind: str,
        order_id: str,
        details: dict[str, Any],
        reason: str,
        thread_key: str,
        user: str | None = None,
        team: str | None = None,
    ) -> Filed:
        """Store a pending request unless the order already has one of this kind pending."""
        now = self._shared.now()
        with self._shared.write() as db:
            row, created = self._file_once(
                db,
                "change_requests",
                {
                    "kind": kind,
                    "order_id": order_id,
                    "details_json": json.dumps(details),
                    "reason": reason,
                    "thread_key": thread_key,
                    "user": user,
                    "team": team,
                    "status": PENDING,
                    "created_utc": now,
                },
                unique=("order_id", "kind", "status"),
            )
            if created:
                self._audit(db, user, "requested", "request", row["id"], {"kind": kind, **details})
        return Filed(_request(row), created)

    def request_posted(self, request_id: int, *, channel: str, ts: str) -> None:
        """Remember the approval message, so a decision can update it."""
        with self._shared.write() as db:
            db.table("change_requests").update(request_id, {"channel": channel, "message_ts": ts})
            self._audit(db, None, "posted", "request", request_id, {"channel": channel, "ts": ts})

    def withdraw_request(self, request_id: int, why: str) -> None:
        """Forget a request whose approval message could not be posted (nobody could decide it)."""
        with self._shared.write() as db:
            db.table("change_requests").delete(request_id)
            self._audit(db, None, "withdrawn", "request", request_id, {"why": why})

    def request(self, request_id: int) -> dict[str, Any] | None:
        with self._shared.read() as db:
            rows = list(db.table("change_requests").rows_where("id = ?", [request_id], limit=1))
        return _request(rows[0]) if rows else None

    def requests(self, *, only_pending: bool = False, limit: int = 200) -> list[dict[str, Any]]:
        """Change requests, newest first."""
        with self._shared.read() as db:
            rows = list(
                db.table("change_requests").rows_where(
                    "status = ?" if only_pending else None,
                    [PENDING] if only_pending else None,
                    order_by="id desc",
                    limit=limit,
                )
            )
        return [_request(row) for row in rows]

    def decide(
        self,
        request_id: int,
        decision: str,
        *,
        by: str,
        order_status: str | None,
        order_note: str,
    ) -> Decided:
        """Approve or reject a pending request; only the first decision counts.

        The conditional UPDATE, the order's new status/note and the audit row commit in one
        transaction. A later click (Slack re-sending it, or a second approver at the same
        moment) changes nothing, is audited as `ignored`, and gets `won=False` with the
        request as the winner left it.
        """
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
        with self._shared.write() as db:
            cursor = db.execute(
                "update change_requests set status = ?, decided_by = ?, decided_utc = ? "
                "where id = ? and status = ?",
                [decision, by, self._shared.now(), request_id, PENDING],
            )
            won = cursor.rowcount == 1
            rows = list(db.table("change_requests").rows_where("id = ?", [request_id], limit=1))
            request = _request(rows[0]) if rows else None
            if request is None:
                self._audit(db, by, "ignored", "request", request_id, {"why": "no such request"})
            elif won:
                self._orders.record_decision(
                    request["order_id"], note=order_note, status=order_status
                )
                self._audit(db, by, decision, "request", request_id, {"order_status": order_status})
            else:
                self._audit(
                    db,
                    by,
                    "ignored",
                    "request",
                    request_id,
                    {"clicked": decision, "already": request["status"]},
                )
        return Decided(request, won)

    # ------------------------------------------------------------------ audit

    def refused(self, request_id: int, *, by: str, clicked: str) -> None:
        """Audit a click by someone who may not decide (nothing else changes)."""
        with self._shared.write() as db:
            self._audit(db, by, "refused", "request", request_id, {"clicked": clicked})

    def audit(
        self, subject: str | None = None, subject_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Audit rows in the order they happened, optionally for one subject."""
        where, args = [], []
        if subject is not None:
            where.append("subject = ?")
            args.append(subject)
        if subject_id is not None:
            where.append("subject_id = ?")
            args.append(subject_id)
        with self._shared.read() as db:
            rows = list(
                db.table("handoff_audit").rows_where(
                    " and ".join(where) or None, args or None, order_by="id"
                )
            )
        for row in rows:
            row["detail"] = json.loads(row.pop("detail_json") or "{}")
        return rows

    def _audit(
        self,
        db: Any,
        actor: str | None,
        action: str,
        subject: str,
        subject_id: int,
        detail: dict[str, Any],
    ) -> None:
        db.table("handoff_audit").insert(
            {
                "at_utc": self._shared.now(),
                "actor": actor,
                "action": action,
                "subject": subject,
                "subject_id": subject_id,
                "detail_json": json.dumps(detail, ensure_ascii=False),
            }
        )

    @staticmethod
    def _file_once(
        db: Any, table: str, values: dict[str, Any], *, unique: tuple[str, ...]
    ) -> tuple[dict[str, Any], bool]:
        """Insert `values` unless the table's partial unique index already holds a row with the
        same `unique` columns (one statement decides); that row, and whether it is new."""
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        cursor = db.execute(
            f"insert or ignore into {table} ({columns}) values ({marks})", list(values.values())
        )
        where = " and ".join(f"{column} = ?" for column in unique)
        rows = db.table(table).rows_where(where, [values[column] for column in unique], limit=1)
        return next(iter(rows)), cursor.rowcount == 1


def _request(row: dict[str, Any]) -> dict[str, Any]:
    """A request row with its details decoded."""
    out = dict(row)
    out["details"] = json.loads(out.pop("details_json") or "{}")
    return out
