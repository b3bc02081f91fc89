"""Looking after a database as a whole: migration status, migrating, copying SQLite to PostgreSQL.

Used by `shopmate db migrate`, `shopmate db copy --to postgresql://...` and the database check
of `shopmate doctor` (bot/cli/db.py); plain Python types out, no printing here.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storage import open_storage
from storage.migrations import migrations as sqlite_migrations
from storage.pg_database import is_postgres_url, redact
from storage.pg_migrations import MIGRATIONS as PG_MIGRATIONS

logger = logging.getLogger(__name__)

# Every table `db copy` moves, parents before children (foreign keys hold at every row).
# The Slack call budget's schedules are not copied: they describe the last minute only.
TABLES = (
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
)
# Tables a copy leaves behind on purpose (SQLite's own, and the last minute's Slack budget).
_NOT_COPIED = ("slack_budget", "_sqlite_migrations")
_BATCH = 2000

Progress = Callable[[str, int, int], None]  # (table, rows copied so far, rows in the table)


class CopyError(RuntimeError):
    """The copy was refused or failed; nothing was left half-copied. The message says why."""


@dataclass(frozen=True)
class MigrationStatus:
    backend: str  # "sqlite" or "postgresql"
    applied: list[str]
    pending: list[str]


def migration_status(target: str | Path) -> MigrationStatus:
    """Which migrations the database has and lacks, read without changing anything."""
    if is_postgres_url(target):
        import psycopg

        with psycopg.connect(str(target), connect_timeout=10) as conn:
            exists = conn.execute("select to_regclass('shopmate_migrations')").fetchone()[0]
            done = (
                {row[0] for row in conn.execute("select name from shopmate_migrations")}
                if exists
                else set()
            )
        names = [name for name, _ in PG_MIGRATIONS]
        return MigrationStatus(
            "postgresql", [n for n in names if n in done], [n for n in names if n not in done]
        )
    names = [m.name for m in sqlite_migrations._migrations]
    done: set[str] = set()
    if Path(target).is_file():
        with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as conn:
            has = conn.execute(
                "select count(*) from sqlite_master where name = '_sqlite_migrations'"
            ).fetchone()[0]
            if has:
                done = {
                    row[0]
                    for row in conn.execute(
                        "select name from _sqlite_migrations where migration_set = 'shopmate'"
                    )
                }
    return MigrationStatus(
        "sqlite", [n for n in names if n in done], [n for n in names if n not in done]
    )


def migrate(target: str | Path) -> list[str]:
    """Bring the database's schema up to date; the names of the migrations applied now."""
    before = migration_status(target)
    open_storage(target).close()
    return before.pending


def _sqlite_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"pragma table_info([{table}])")]


def copy_sqlite_to_postgres(
    source: Path, url: str, *, progress: Progress | None = None
) -> dict[str, tuple[int, int]]:
    """Copy every ShopMate table of the SQLite file `source` into the PostgreSQL database `url`.

    The target is migrated first and must hold no ShopMate rows yet. Everything is copied in
    one transaction (a failure leaves the target as empty as it was), identity keys continue
    after the copied ids, and every table's rows are counted on both sides afterwards.
    Returns {table: (rows in SQLite, rows in PostgreSQL)}; CopyError if they differ.
    """
    if not Path(source).is_file():
        raise CopyError(f"no SQLite database at {source}")
    pending = migration_status(source).pending
    if pending:  # the columns must match; the source is never changed by a copy
        raise CopyError(
            f"{source} lacks migrations ({', '.join(pending)}): run `shopmate db migrate` first"
        )
    target = open_storage(url)
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as conn:
            _refuse_unknown_tables(conn)
            with target._shared.write() as db:
                _refuse_a_used_target(db, url)
                for table in TABLES:
                    _copy_table(conn, db, table, progress)
                # Identity keys continue after the copied ids.
                for table in sorted(target._shared.keys.generated):
                    [key] = target._shared.keys.primary[table]
                    db.raw(
                        f"select setval(pg_get_serial_sequence('{table}', '{key}'), "
                        f"coalesce((select max({key}) from {table}), 0) + 1, false)"
                    )
            counts = {
                table: (
                    conn.execute(f"select count(*) from [{table}]").fetchone()[0],
                    _pg_count(target, table),
                )
                for table in TABLES
            }
    finally:
        target.close()
    wrong = {t: c for t, c in counts.items() if c[0] != c[1]}
    if wrong:
        raise CopyError(f"row counts differ after the copy: {wrong}")
    logger.info("copied %s to %s: %s", source, redact(url), counts)
    return counts


def _pg_count(target, table: str) -> int:
    with target._shared.read() as db:
        return int(db.raw(f"select count(*) from {table}").fetchone()[0])


def _refuse_unknown_tables(conn: sqlite3.Connection) -> None:
    """A table this copy does not know would be left behind: refuse rather than lose it."""
    names = {
        row[0]
        for row in conn.execute("select name from sqlite_master where type = 'table'")
        if not row[0].startswith("sqlite_")
    }
    unknown = sorted(names - set(TABLES) - set(_NOT_COPIED))
    if unknown:
        raise CopyError(
            f"the SQLite database has tables this ShopMate cannot copy ({', '.join(unknown)}); "
            "copy with the ShopMate version that created them"
        )


def _refuse_a_used_target(db, url: str) -> None:
    used = [
        table for table in TABLES if db.raw(f"select exists (select 1 from {table})").fetchone()[0]
    ]
    if used:
        raise CopyError(
            f"{redact(url)} already holds ShopMate data ({', '.join(used)}); copy into an "
            "empty database"
        )


def _copy_table(conn: sqlite3.Connection, db, table: str, progress: Progress | None) -> None:
    columns = _sqlite_columns(conn, table)
    total = conn.execute(f"select count(*) from [{table}]").fetchone()[0]
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = conn.execute(
        f"select {', '.join(f'[{c}]' for c in columns)} from [{table}] order by rowid"
    )
    done = 0
    with db.conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        while rows := cursor.fetchmany(_BATCH):
            for row in rows:
                copy.write_row(row)
            done += len(rows)
            if progress is not None:
                progress(table, done, total)
    if progress is not None and total == 0:
        progress(table, 0, 0)
