"""The schema: named migrations applied once, the expected tables, columns and indexes."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from storage import open_storage
from storage.migrations import m012_slack_call_budget, migrations

EXPECTED_COLUMNS = {
    "conversations": {
        "id": int,
        "thread_key": str,
        "platform": str,
        "team": str,
        "channel": str,
        "thread_ts": str,
        "created_utc": str,
        "updated_utc": str,
    },
    "messages": {
        "id": int,
        "conversation_id": int,
        "seq": int,
        "role": str,
        "user": str,
        "content_json": str,
        "created_utc": str,
    },
    "turns": {
        "id": int,
        "conversation_id": int,
        "status": str,
        "error": str,
        "input_tokens": int,
        "output_tokens": int,
        "cache_read_input_tokens": int,
        "cache_creation_input_tokens": int,
        "model_calls": int,
        "user": str,
        "team": str,
        "channel": str,
        "model": str,
        "created_utc": str,
        "question_id": int,
    },
    "orders": {
        "order_id": str,
        "status": str,
        "item": str,
        "eta": str,
        "tracking": str,
        "updated_utc": str,
        "note": str,  # m008: what a person decided (escalations and requests: tests/handoff)
    },
    "processed_events": {
        "key": str,
        "owner": str,
        "status": str,
        "thread_key": str,
        "claimed_utc": str,
        "finished_utc": str,
        "lease_until_utc": str,
        "message_json": str,
        "replies_json": str,
        "attempts": int,
    },
    "api_keys": {"name": str, "key_hash": str, "created_utc": str, "revoked_utc": str},
    "api_requests": {
        "key_name": str,
        "idempotency_key": str,
        "fingerprint": str,
        "thread_key": str,
        "owner": str,
        "lease_until_utc": str,
        "response_json": str,
        "created_utc": str,
        "finished_utc": str,
    },
    "feedback": {
        "turn_id": int,
        "user": str,
        "team": str,
        "team_domain": str,
        "rating": str,
        "channel": str,
        "message_ts": str,
        "action_ts": str,
        "created_utc": str,
        "updated_utc": str,
    },
    # m010: copies of orders from a remote source, and that source's failures (tests/orders)
    "order_cache": {"source": str, "order_id": str, "order_json": str, "fetched_utc": str},
    "order_source_failures": {
        "id": int,
        "at_utc": str,
        "source": str,
        "kind": str,
        "served": str,
        "order_id": str,
    },
}


def test_open_storage_creates_the_parent_directory_and_every_table(db_path: Path) -> None:
    assert not db_path.parent.exists()
    open_storage(db_path).close()

    db = Database(db_path)
    for table, columns in EXPECTED_COLUMNS.items():
        assert db.table(table).columns_dict == columns, table
    db.close()


def test_primary_keys_and_foreign_keys_are_declared(db_path: Path) -> None:
    open_storage(db_path).close()
    db = Database(db_path)
    assert db.table("conversations").pks == ["id"]
    assert db.table("orders").pks == ["order_id"]
    assert db.table("processed_events").pks == ["key"]
    for child in ("messages", "turns"):
        [fk] = db.table(child).foreign_keys
        assert (fk.column, fk.other_table, fk.other_column) == (
            "conversation_id",
            "conversations",
            "id",
        )
    db.close()


def test_lookups_have_indexes(db_path: Path) -> None:
    open_storage(db_path).close()
    db = Database(db_path)

    def indexes(table: str) -> dict[tuple[str, ...], bool]:
        return {tuple(i.columns): bool(i.unique) for i in db.table(table).indexes}

    assert indexes("messages")[("conversation_id", "seq")] is True
    assert indexes("conversations")[("thread_key",)] is True
    assert ("updated_utc",) in indexes("conversations")
    assert {("conversation_id",), ("created_utc",), ("user", "created_utc")} <= set(
        indexes("turns")
    )
    assert ("team", "created_utc") in indexes("turns")
    assert ("thread_key",) in indexes("processed_events")
    assert ("status", "lease_until_utc") in indexes("processed_events")
    db.close()


def test_history_is_one_query_that_reads_messages_in_seq_order_off_the_index(
    db_path: Path,
) -> None:
    storage = open_storage(db_path)
    storage.conversations.add_user_message("local:default", "hi")
    traced: list[tuple[str, object]] = []
    with storage._shared.read() as db:
        with db.tracer(lambda sql, params: traced.append((sql, params))):
            storage.conversations.history("local:default")
        [(sql, params)] = traced
        plan = " ".join(row["detail"] for row in db.query(f"explain query plan {sql}", params))
    storage.close()

    assert "idx_messages_conversation_id_seq" in plan
    assert "TEMP B-TREE" not in plan  # no sort step: rows come out of the index in order


def test_each_migration_is_recorded_by_name_and_applied_only_once(db_path: Path) -> None:
    open_storage(db_path).close()
    open_storage(db_path).close()

    db = Database(db_path)
    applied = [
        row["name"]
        for row in db.table("_sqlite_migrations").rows_where(
            "migration_set = ?", ["shopmate"], order_by="id"
        )
    ]
    assert applied == [
        "m001_initial",
        "m002_product_descriptions",
        "m003_claim_leases_and_stored_messages",
        "m004_api_keys_and_idempotent_requests",
        "m006_feedback",
        "m008_escalations_and_requests",
        "m009_escalations_resolved",
        "m010_order_cache",
        "m011_attached_files",
        "m012_slack_call_budget",
    ]
    assert migrations.pending(db) == []
    db.close()


def test_connection_uses_wal_foreign_keys_and_a_busy_timeout_of_at_least_5s(
    db_path: Path,
) -> None:
    storage = open_storage(db_path)
    with storage._shared.read() as db:
        assert db.journal_mode == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    storage.close()


def test_a_database_of_the_previous_release_upgrades(db_path: Path) -> None:
    """The previous release applied the Slack call budget's table as m010_slack_call_budget;
    this one names that step m012 (m010 and m011 are new). Upgrading must not fail on it."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(db_path)
    migrations.apply(db, stop_before="m010_order_cache")
    previous = Migrations("shopmate")
    previous(name="m010_slack_call_budget")(m012_slack_call_budget)
    previous.apply(db)
    db.table("slack_budget").insert({"scope": "T1", "method": "chat.update", "tat": 1.0})
    db.close()

    open_storage(db_path).close()  # raised "table slack_budget already exists" before

    db = Database(db_path)
    assert migrations.pending(db) == []
    assert {"order_cache", "files"} <= set(db.table_names())
    assert db.table("slack_budget").count == 1, "the budget's rows are kept"
    db.close()
