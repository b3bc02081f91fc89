"""`shopmate db migrate`, `shopmate db copy --to postgresql://...` and the doctor's database check,
against a real PostgreSQL server (tests/postgres.py) and SQLite files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from bot.cli.db import check_database
from bot.settings import Settings
from storage import open_storage
from storage.admin import TABLES
from storage.feedback import Click
from storage.files import NewFile
from tests.conftest import SAMPLE_ORDERS
from tests.test_cli import shopmate


def fill(path: Path) -> dict[str, int]:
    """A SQLite database with rows in every table a copy moves; its counts per table."""
    with open_storage(path) as storage:
        storage.orders.upsert_many(SAMPLE_ORDERS)
        for n in range(30):
            key = f"slack:T1:C1:{n}.000"
            storage.conversations.ensure(key, platform="slack", team="T1", channel="C1")
            question = storage.conversations.add_user_message(key, f"question {n}", user="U1")
            turn = storage.conversations.add_turn(
                key,
                [{"role": "assistant", "content": f"answer {n}"}],
                usage={"input_tokens": 10, "output_tokens": 5},
                user="U1",
                question_id=question,
            )
            storage.feedback.record(Click(turn, "U1", "positive", f"{n}.5"))
            storage.files.attach(
                key,
                question,
                [NewFile(f"{n % 3:064x}", "image/png", b"\x89PNG" + bytes(n), "a.png")],
            )
            storage.claims.claim(f"evt-{n}", owner="p1", thread_key=key, lease_seconds=30)
            storage.claims.finish(f"evt-{n}")
        storage.order_cache.put(
            "shopify", "ORD-1001", {"order_id": "ORD-1001", "status": "shipped"}
        )
        storage.order_cache.record_failure("shopify", "timeout", served="copy", order_id="ORD-1")
        storage.api_keys.create("ops")
        storage.api_requests.record(
            "ops", "idem-1", fingerprint="f", thread_key="api:ops:1", owner="p1"
        )
        storage.descriptions.save(
            product_id="tee-1",
            input_hash="h",
            name="Tee",
            status="ok",
            text="Soft.",
            problems=[],
            model="m",
            mode="live",
            model_calls=1,
            usage={},
        )
        batch = storage.descriptions.begin_batch(
            model="m",
            prompt_hash="p",
            out_path=None,
            items=[{"product_id": "tee-2", "input_hash": "h2", "product": {"name": "Tee 2"}}],
        )
        storage.descriptions.confirm_batch(batch, "msgbatch_1")
        storage.handoff.file_escalation(thread_key="slack:T1:C1:0.000", reason="r", summary="s")
        storage.handoff.file_request(
            kind="exchange",
            order_id="ORD-1001",
            details={"size": "L"},
            reason="too small",
            thread_key="slack:T1:C1:1.000",
        )
    with open_storage(path) as storage, storage._shared.read() as db:
        return {table: db.table(table).count for table in TABLES}


def test_db_copy_moves_every_table_and_the_copy_keeps_working(tmp_path, postgres_url):
    source = tmp_path / "shopmate.db"
    counts = fill(source)
    assert all(counts.values()), counts

    result = shopmate(
        "db", "copy", "--to", postgres_url, env={"SHOPMATE_DB": str(source)}, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert "Every count matches" in result.stdout
    assert "messages: 60 / 60" in result.stdout
    with psycopg.connect(postgres_url) as conn:
        copied = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
    assert copied == counts
    with open_storage(postgres_url) as storage:
        # Identity keys continue after the copied ones, and the stores read what was copied.
        key = "slack:T1:C1:0.000"
        storage.conversations.add_user_message(key, "and one more")
        assert [m["content"][0]["text"] for m in storage.conversations.history(key)] == [
            "question 0",
            "answer 0",
            "and one more",
        ]
        assert storage.api_keys.list()[0]["name"] == "ops"
        assert storage.claims.status("evt-3") == "done"
        assert storage.feedback.rated_answers(limit=100)[-1]["question"] == "question 0"
        assert [i["product"] for i in storage.descriptions.batch_items(1)] == [{"name": "Tee 2"}]


def test_db_copy_refuses_a_database_that_already_holds_data(tmp_path, postgres_url):
    source = tmp_path / "shopmate.db"
    fill(source)
    with open_storage(postgres_url) as storage:
        storage.orders.upsert_many(SAMPLE_ORDERS)

    result = shopmate(
        "db", "copy", "--to", postgres_url, env={"SHOPMATE_DB": str(source)}, cwd=tmp_path
    )

    assert result.returncode == 1
    assert "already holds ShopMate data (orders)" in result.stderr
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("select count(*) from conversations").fetchone()[0] == 0


def test_db_migrate_applies_what_is_pending_once(tmp_path, postgres_url):
    env = {"SHOPMATE_DATABASE_URL": postgres_url}
    first = shopmate("db", "migrate", env=env, cwd=tmp_path)
    again = shopmate("db", "migrate", env=env, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert "Applied 4 migration(s)" in first.stdout and "p004_attached_files" in first.stdout
    assert "up to date" in again.stdout
    sqlite = shopmate("db", "migrate", env={"SHOPMATE_DB": str(tmp_path / "s.db")}, cwd=tmp_path)
    assert "m012_slack_call_budget" in sqlite.stdout


def test_the_doctors_database_check_says_what_it_found(tmp_path, postgres_url):
    pg = Settings.from_mapping({"SHOPMATE_DATABASE_URL": postgres_url})
    before = {c.name: c.status for c in check_database(pg)}
    open_storage(postgres_url).close()
    after = {c.name: (c.status, c.message) for c in check_database(pg)}
    unreachable = Settings.from_mapping(
        {"SHOPMATE_DATABASE_URL": postgres_url.replace("/test_", "/missing_")}
    )

    assert before == {"database": "ok", "schema": "warn", "clock": "ok"}
    assert after["database"] == ("ok", f"postgresql at {postgres_url}")
    assert after["schema"][0] == "ok"
    [failed] = check_database(unreachable)
    assert (failed.name, failed.status) == ("database", "fail")
    sqlite = Settings.from_mapping({"SHOPMATE_DB": str(tmp_path / "new.db")})
    assert [c.status for c in check_database(sqlite)] == ["ok", "ok"]


def test_db_copy_refuses_a_table_it_would_leave_behind(tmp_path, postgres_url):
    source = tmp_path / "shopmate.db"
    fill(source)
    with sqlite3.connect(source) as conn:
        conn.execute("create table notes (id integer primary key, text text)")

    result = shopmate(
        "db", "copy", "--to", postgres_url, env={"SHOPMATE_DB": str(source)}, cwd=tmp_path
    )

    assert result.returncode == 1
    assert "tables this ShopMate cannot copy (notes)" in result.stderr
