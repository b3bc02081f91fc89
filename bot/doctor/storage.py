"""The doctor's storage and data checks: the database opens, can be written, its migrations
are current and it holds orders; the policy folder reads and which mode applies.

Nothing here writes: the database is opened read-only (SQLite's `mode=ro`), so neither a
migration nor an empty file is ever left behind, and writability is asked of the operating
system (`os.access`, which also answers for a read-only mount).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from sqlite_utils import Database

from bot.doctor.result import Check, ok, problem, warning
from bot.policies import KnowledgeError
from bot.settings import Settings
from storage.migrations import migrations

AREA = "storage"
MIGRATE_FIX = (
    "Back up the file, then start ShopMate once (`shopmate run` or `shopmate serve`): it "
    "applies pending migrations when it opens the database."
)


def storage_checks(settings: Settings) -> list[Check]:
    if settings.database_url:
        from bot.doctor.sources import postgres_checks

        return postgres_checks(settings)
    path = settings.db_path
    shown = f"SHOPMATE_DB={path}"
    if path.is_dir():
        return [
            problem(
                AREA,
                "database",
                f"{shown} is a directory.",
                f"Give a file path, e.g. SHOPMATE_DB={path / 'shopmate.db'}.",
            )
        ]
    if not path.exists():
        return [
            problem(
                AREA,
                "database",
                f"no database at {shown} (nothing was created).",
                "Point SHOPMATE_DB at the database `shopmate run` or `serve` uses; a new "
                "install creates it when ShopMate first starts.",
            )
        ]
    try:
        conn = _open_read_only(path)
    except sqlite3.Error as error:
        return [
            problem(
                AREA,
                "database",
                f"{shown} does not open as a SQLite database ({error}).",
                "Point SHOPMATE_DB at ShopMate's database file.",
            )
        ]
    try:
        return [
            ok(AREA, "database", f"{shown} opens."),
            _writable_check(path),
            _migrations_check(conn),
            *([_orders_check(conn)] if settings.order_source == "table" else []),
        ]
    finally:
        conn.close()


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection. A WAL database on a read-only filesystem will not open even
    read-only (SQLite wants its -shm file); `immutable=1` reads it without locking, which is
    safe for the few reads made here."""
    uri = f"file:{quote(str(path.absolute()))}"
    error: sqlite3.Error | None = None
    for query in ("mode=ro", "mode=ro&immutable=1"):
        conn = sqlite3.connect(f"{uri}?{query}", uri=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.Error as failed:
            conn.close()
            error = failed
    assert error is not None
    raise error


def unwritable_reason(path: Path) -> str | None:
    """Why ShopMate could not write the database, or None. SQLite writes the file and creates
    its journal (-wal, -shm) next to it, so both the file and its directory must be writable."""
    directory = path.absolute().parent
    if not os.access(path, os.R_OK | os.W_OK):
        return f"the file {path} is not writable"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"its directory {directory} does not take new files (the journal goes there)"
    for suffix in ("-wal", "-shm"):
        journal = Path(f"{path}{suffix}")
        if journal.exists() and not os.access(journal, os.R_OK | os.W_OK):
            return f"its journal {journal} is not writable"
    return None


def _writable_check(path: Path) -> Check:
    reason = unwritable_reason(path)
    if reason is not None:
        return problem(
            AREA,
            "writable",
            f"ShopMate cannot write its database: {reason}.",
            "Run ShopMate as the user who owns the file and its directory, or give them to "
            "that user (chown), on a filesystem mounted read-write.",
        )
    return ok(AREA, "writable", "the database file and its directory are writable.")


def _migrations_check(conn: sqlite3.Connection) -> Check:
    pending = [m.name for m in migrations.pending(Database(conn))]
    if pending:
        return problem(
            AREA,
            "migrations",
            f"{len(pending)} migration(s) not applied: {', '.join(pending)}.",
            MIGRATE_FIX,
        )
    return ok(AREA, "migrations", "the schema is current.")


def _orders_check(conn: sqlite3.Connection) -> Check:
    try:
        count = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    except sqlite3.Error:
        count = 0
    if not count:
        return warning(
            AREA,
            "orders",
            "no orders stored: every order look-up will find nothing.",
            "Import them: shopmate orders import orders.csv",
        )
    return ok(AREA, "orders", f"{count:,} order(s) stored.")


def policies_checks(settings: Settings) -> list[Check]:
    """The policy documents read, and whether they go into the prompt or are searched."""
    from bot.doctor.prefix import load_knowledge

    origin = "SHOPMATE_KNOWLEDGE_DIR" if settings.knowledge_dir else "shipped with ShopMate"
    try:
        knowledge = load_knowledge(settings)
    except KnowledgeError as error:
        return [
            problem(
                "policies",
                "documents",
                str(error),
                "Fix the file named, or unset SHOPMATE_KNOWLEDGE_DIR to use the shipped ones; "
                "`shopmate knowledge check` lists every document.",
            )
        ]
    budget = f"SHOPMATE_KNOWLEDGE_TOKENS={settings.knowledge_token_budget:,}"
    mode = (
        f"prompt mode (they fit {budget})"
        if knowledge.mode == "prompt"
        else f"search mode (over {budget}, searched with search_policies)"
    )
    documents = sum(1 for d in knowledge.documents if d.sections)
    return [
        ok(
            "policies",
            "documents",
            f"{documents} document(s), {len(knowledge.sections)} section(s), "
            f"~{knowledge.tokens:,} tokens in {knowledge.directory} ({origin}); {mode}.",
        )
    ]
