"""Hand-off storage: one escalation per thread and reason, one decision per request, all audited.

The "once" rules hold under threads released together and across two connections (two
`Storage` objects on one file), because the database decides them, not a read before a write.
"""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from storage import Storage, open_storage
from tests.storage.test_concurrency import run_at_once

THREAD = "slack:T1:C1:100.000"
ORDER = {
    "order_id": "ORD-1001",
    "status": "shipped",
    "item": "Sunset Gradient Tee (M, Orange)",
    "eta": "2 Apr",
    "tracking": "RM493827651GB",
}


def file_exchange(storage: Storage, thread: str = THREAD):
    return storage.handoff.file_request(
        kind="size_exchange",
        order_id="ORD-1001",
        details={"new_size": "L"},
        reason="too small",
        thread_key=thread,
        user="U1",
        team="T1",
    )


def decide(storage: Storage, request_id: int, decision: str, by: str):
    return storage.handoff.decide(
        request_id,
        decision,
        by=by,
        order_status="exchange approved" if decision == "approved" else None,
        order_note=f"{decision} by {by}",
    )


def test_m008_creates_the_tables_and_the_once_only_indexes(db_path: Path) -> None:
    open_storage(db_path).close()
    db = Database(db_path)
    assert {"escalations", "change_requests", "handoff_audit"} <= set(db.table_names())
    unique = {tuple(i.columns) for i in db.table("escalations").indexes if i.unique}
    assert ("thread_key", "reason") in unique
    partial = db.execute(
        "select sql from sqlite_master where name = 'idx_change_requests_one_pending'"
    ).fetchone()[0]
    assert "WHERE status = 'pending'" in partial
    db.close()


def test_an_escalation_is_filed_once_per_thread_and_reason_even_at_once(storage: Storage) -> None:
    def file(index: int):
        return storage.handoff.file_escalation(
            thread_key=THREAD, reason="complaint", summary=f"call {index}", user="U1"
        )

    results = run_at_once(8, file)
    assert sum(r.created for r in results) == 1
    assert len({r.row["id"] for r in results}) == 1
    other = storage.handoff.file_escalation(thread_key=THREAD, reason="refund", summary="money")
    assert other.created
    assert len(storage.handoff.escalations()) == 2
    filed = [a for a in storage.handoff.audit("escalation") if a["action"] == "escalated"]
    assert len(filed) == 2


def test_two_connections_file_one_escalation(db_target, storage: Storage) -> None:
    with open_storage(db_target) as second:
        results = run_at_once(
            2,
            lambda i: (storage, second)[i].handoff.file_escalation(
                thread_key=THREAD, reason="complaint", summary="s"
            ),
        )
    assert sorted(r.created for r in results) == [False, True]


def test_concurrent_decisions_apply_exactly_one(storage: Storage) -> None:
    storage.orders.upsert_many([ORDER])
    request = file_exchange(storage).row
    # Eight clicks at once: four approvers approving, four rejecting.
    results = run_at_once(
        8,
        lambda i: decide(storage, request["id"], ("approved", "rejected")[i % 2], f"U{i}"),
    )
    winners = [r for r in results if r.won]
    assert len(winners) == 1
    final = storage.handoff.request(request["id"])
    assert final["status"] == winners[0].request["status"]
    assert all(r.request["decided_by"] == final["decided_by"] for r in results)
    order = storage.orders.get("ORD-1001")
    assert order["note"] == f"{final['status']} by {final['decided_by']}"
    actions = [a["action"] for a in storage.handoff.audit("request", request["id"])]
    assert actions.count(final["status"]) == 1
    assert actions.count("ignored") == 7


def test_an_approval_changes_the_order_and_a_rejection_only_notes_it(storage: Storage) -> None:
    storage.orders.upsert_many([ORDER])
    first = file_exchange(storage).row
    assert decide(storage, first["id"], "rejected", "U9").won
    assert storage.orders.get("ORD-1001")["status"] == "shipped"
    assert storage.orders.get("ORD-1001")["note"] == "rejected by U9"
    # A decided request no longer blocks a new one for the same order (the index is partial).
    second = file_exchange(storage)
    assert second.created and second.row["id"] != first["id"]
    assert file_exchange(storage).created is False
    assert decide(storage, second.row["id"], "approved", "U9").won
    assert storage.orders.get("ORD-1001")["status"] == "exchange approved"
    assert storage.handoff.requests(only_pending=True) == []


def test_a_refused_click_is_audited_and_changes_nothing(storage: Storage) -> None:
    storage.orders.upsert_many([ORDER])
    request = file_exchange(storage).row
    storage.handoff.refused(request["id"], by="U666", clicked="approved")
    assert storage.handoff.request(request["id"])["status"] == "pending"
    assert "note" not in storage.orders.get("ORD-1001")
    [requested, refused] = storage.handoff.audit("request", request["id"])
    assert (requested["action"], requested["actor"]) == ("requested", "U1")
    assert (refused["action"], refused["actor"], refused["detail"]) == (
        "refused",
        "U666",
        {"clicked": "approved"},
    )
