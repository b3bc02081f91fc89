"""`shopmate db migrate`, `shopmate db copy --to postgresql://...`, and the database check that
`shopmate doctor` runs (`check_database`).

The database is SHOPMATE_DATABASE_URL when set (PostgreSQL), else the SQLite file SHOPMATE_DB.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bot.cli.base import Add
from bot.cli.preflight import CommandError
from bot.settings import Settings

# Leases compare wall clocks of different hosts; a skew this large eats into every claim's lease
# (SHOPMATE_CLAIM_LEASE).
MAX_CLOCK_SKEW_S = 2.0


@dataclass(frozen=True)
class DatabaseCheck:
    """One finding of the database check: `status` is "ok", "warn" or "fail"."""

    name: str
    status: str
    message: str


def register(sub: Any, add: Add) -> None:
    """Add `shopmate db migrate` and `shopmate db copy` (`add` adds the common options)."""
    group = add(sub, "db", None, "Look after the database (actions: migrate, copy).")
    actions = group.add_subparsers(dest="db_command", metavar="ACTION", parser_class=type(group))
    add(
        actions,
        "migrate",
        cmd_db_migrate,
        "Bring the database's schema up to date (SHOPMATE_DATABASE_URL, else SHOPMATE_DB).",
    )
    p = add(
        actions,
        "copy",
        cmd_db_copy,
        "Copy the SQLite database (SHOPMATE_DB) into an empty PostgreSQL database and check "
        "that every table's row count matches.",
    )
    p.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="the empty PostgreSQL database, postgresql://USER:PASSWORD@HOST/DB (default: none, "
        "required)",
    )


def cmd_db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    return migrate(settings, out=sys.stdout)


def cmd_db_copy(args: argparse.Namespace, settings: Settings) -> int:
    return copy(settings, args.to, out=sys.stdout)


def _shown(settings: Settings) -> str:
    from storage.pg_database import redact

    return redact(settings.database_url) if settings.database_url else str(settings.db_path)


def migrate(settings: Settings, *, out: TextIO) -> int:
    from storage.admin import migrate as apply

    applied = apply(settings.storage_target)
    if applied:
        out.write(f"Applied {len(applied)} migration(s) to {_shown(settings)}:\n")
        out.writelines(f"  {name}\n" for name in applied)
    else:
        out.write(f"{_shown(settings)} is up to date: no migration pending.\n")
    return 0


def copy(settings: Settings, url: str, *, out: TextIO) -> int:
    from storage.admin import TABLES, CopyError, copy_sqlite_to_postgres
    from storage.pg_database import is_postgres_url, redact

    if not is_postgres_url(url):
        raise CommandError(f"--to must be a postgresql:// URL, not {url!r}")
    source = Path(settings.db_path)
    out.write(f"Copying {source} to {redact(url)}\n")
    last = {"at": 0.0}

    def progress(table: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last["at"] >= 1.0:  # a line a second on long tables
            last["at"] = now
            out.write(f"  {table}: {done:,} / {total:,}\n")
            out.flush()

    try:
        counts = copy_sqlite_to_postgres(source, url, progress=progress)
    except CopyError as error:
        raise CommandError(f"nothing copied: {error}") from None
    width = max(map(len, TABLES))
    out.write(f"\n{'table':<{width}}  {'SQLite':>9}  {'PostgreSQL':>10}\n")
    for table, (before, after) in counts.items():
        out.write(f"{table:<{width}}  {before:>9,}  {after:>10,}  ok\n")
    out.write(
        f"\nEvery count matches. Set SHOPMATE_DATABASE_URL={redact(url)} to use it; "
        f"{source} is left as it was.\n"
    )
    return 0


def check_database(settings: Settings) -> list[DatabaseCheck]:
    """What `shopmate doctor` reports about the database; never raises, never changes it.

    Reachable (and which backend), schema up to date, and for PostgreSQL whether this host's
    clock agrees with the server's (leases and the shared call budget compare wall clocks).
    """
    from storage.admin import migration_status

    shown = _shown(settings)
    try:
        status = migration_status(settings.storage_target)
    except Exception as error:  # any failure to reach it is the finding itself
        return [DatabaseCheck("database", "fail", f"cannot open {shown}: {error}")]
    checks = [DatabaseCheck("database", "ok", f"{status.backend} at {shown}")]
    if settings.database_url is None and not Path(settings.db_path).exists():
        checks.append(
            DatabaseCheck("schema", "ok", "no database file yet: the first start creates it")
        )
        return checks
    if status.pending:
        checks.append(
            DatabaseCheck(
                "schema",
                "warn",
                f"{len(status.pending)} migration(s) pending ({', '.join(status.pending)}): "
                "run `shopmate db migrate` (the next start would apply them)",
            )
        )
    else:
        checks.append(DatabaseCheck("schema", "ok", f"{len(status.applied)} migrations applied"))
    if settings.database_url:
        checks.append(_clock_check(settings.database_url))
    return checks


def _clock_check(url: str) -> DatabaseCheck:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=10) as conn:
            before = time.time()
            [server] = conn.execute("select extract(epoch from clock_timestamp())").fetchone()
            after = time.time()
    except Exception as error:
        return DatabaseCheck("clock", "fail", f"cannot read the server's clock: {error}")
    skew = float(server) - (before + after) / 2
    if abs(skew) > MAX_CLOCK_SKEW_S:
        return DatabaseCheck(
            "clock",
            "warn",
            f"this host's clock is {skew:+.1f} s off the database server's; leases and the "
            "Slack call budget compare clocks across hosts: keep them in sync (NTP)",
        )
    return DatabaseCheck("clock", "ok", f"within {abs(skew):.2f} s of the database server")
