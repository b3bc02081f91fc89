"""What only the PostgreSQL backend has to show: its migrations, its translation of the stores'
SQL, and claims kept with row locks instead of one writer at a time.

The rest of the storage suite runs on both backends (tests/storage/conftest.py).
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from storage import open_storage
from storage.pg_database import redact, to_pg
from storage.pg_migrations import MIGRATIONS
from tests.storage.test_concurrency import run_at_once

EVERY_TABLE = {
    "conversations",
    "messages",
    "turns",
    "orders",
    "processed_events",
    "descriptions",
    "description_batches",
    "description_batch_items",
    "api_keys",
    "api_requests",
    "feedback",
    "escalations",
    "change_requests",
    "handoff_audit",
    "order_cache",
    "order_source_failures",
    "files",
    "conversation_files",
    "slack_budget",
}


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_sqlite_statements_are_translated_for_psycopg():
    assert to_pg("select * from t where user = ? and [key] like 'a%'") == (
        """select * from t where "user" = %s and "key" like 'a%%'"""
    )
    # Without parameters psycopg sends the text as it is: `%` stays single.
    assert to_pg("select 'a%' from t", with_params=False) == "select 'a%' from t"
    # A literal and an already quoted name are left alone; only the bare word is quoted.
    assert to_pg("""select 'user', "user", users, f.user from f""") == (
        """select 'user', "user", users, f."user" from f"""
    )
    assert to_pg("insert or ignore into t (a) values (?)") == (
        "insert into t (a) values (%s) on conflict do nothing"
    )


def test_a_password_never_shows_in_the_storage_path():
    assert redact("postgresql://bot:s3cret@db.internal/shopmate") == (
        "postgresql://bot:***@db.internal/shopmate"
    )
    assert redact("postgresql://bot@/shopmate?host=/run") == "postgresql://bot@/shopmate?host=/run"


def test_opening_creates_every_table_and_records_each_migration_once(postgres_url: str):
    open_storage(postgres_url).close()
    open_storage(postgres_url).close()

    assert tables(postgres_url) >= EVERY_TABLE
    with psycopg.connect(postgres_url) as conn:
        names = [row[0] for row in conn.execute("select name from shopmate_migrations")]
    assert names == [name for name, _ in MIGRATIONS]


def test_processes_opening_a_fresh_database_at_once_migrate_it_once(postgres_url: str):
    opened = run_at_once(4, lambda _: open_storage(postgres_url))
    for storage in opened:
        storage.close()

    with psycopg.connect(postgres_url) as conn:
        [count] = conn.execute("select count(*) from shopmate_migrations").fetchone()
    assert count == len(MIGRATIONS)


def test_two_hosts_sweeping_at_once_take_each_expired_claim_once(postgres_url: str):
    first, second = open_storage(postgres_url), open_storage(postgres_url)
    try:
        for n in range(60):
            first.claims.claim(f"evt-{n}", owner="dead-host", lease_seconds=0)
        taken = run_at_once(
            6,
            lambda i: [
                claim.key
                for _ in range(10)
                for claim in (first if i % 2 else second).claims.take_over_expired(
                    owner=f"host-{i}", limit=5, lease_seconds=30
                )
            ],
        )
    finally:
        first.close()
        second.close()
    every = [key for keys in taken for key in keys]
    assert sorted(every) == sorted(f"evt-{n}" for n in range(60)), "each taken exactly once"


def test_a_claim_never_waits_for_another_hosts_long_write(postgres_url: str):
    writer, claimer = open_storage(postgres_url), open_storage(postgres_url)
    inside, claimed = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with writer._shared.write():  # e.g. a retention purge that takes a while
            inside.set()
            # Released only once the claim went through: a claim queued behind this write
            # would never finish, and the test would fail on the bounded wait below.
            claimed.wait(timeout=30)

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    try:
        assert inside.wait(timeout=30)
        assert claimer.claims.claim("evt-1", owner="host-2", lease_seconds=30)
        claimed.set()
        claimer.claims.finish("evt-1")
        assert claimer.claims.status("evt-1") == "done"
    finally:
        claimed.set()
        holder.join(timeout=30)
        writer.close()
        claimer.close()


def test_shopmate_database_url_puts_the_bots_storage_in_postgresql(postgres_url: str, tmp_path):
    from bot.settings import Settings
    from bot.wiring import build_services

    sqlite_file = tmp_path / "unused.db"
    settings = Settings.from_mapping(
        {
            "ANTHROPIC_API_KEY": "test-key",
            "SHOPMATE_DB": str(sqlite_file),
            "SHOPMATE_DATABASE_URL": postgres_url,
        }
    )
    services = build_services(settings)
    try:
        assert services.storage.backend == "postgresql"
        services.storage.conversations.add_user_message("local:t", "hello")
    finally:
        services.close()

    with open_storage(postgres_url) as storage:
        assert storage.conversations.message_count("local:t") == 1
    assert not sqlite_file.exists()


def test_a_database_url_that_is_not_postgresql_is_refused():
    from bot.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="SHOPMATE_DATABASE_URL"):
        Settings.from_mapping({"SHOPMATE_DATABASE_URL": "mysql://db/shopmate"})


def test_connections_the_server_dropped_are_replaced_before_use(postgres_url: str):
    with open_storage(postgres_url) as storage:
        storage.conversations.add_user_message("local:t", "before")
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where datname = current_database() and pid != pg_backend_pid()"
            )
        storage.conversations.add_user_message("local:t", "after a server restart")
        assert storage.conversations.message_count("local:t") == 2


def test_close_closes_every_connection_it_opened(postgres_url: str):
    storage = open_storage(postgres_url)
    run_at_once(8, lambda n: storage.conversations.add_user_message("local:shared", f"hi {n}"))

    storage.close()

    def others() -> int:
        with psycopg.connect(postgres_url) as conn:
            [count] = conn.execute(
                "select count(*) from pg_stat_activity "
                "where datname = current_database() and pid != pg_backend_pid()"
            ).fetchone()
        return count

    # The server ends a backend a moment after its client hung up: wait for that, bounded.
    deadline = time.monotonic() + 20
    while others() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert others() == 0
