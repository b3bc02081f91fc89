"""The SQLite connection ShopMate shares between threads, and the transactions it writes in.

Design: ONE `sqlite_utils.Database` per `Storage`, opened with `check_same_thread=False` and used
only while holding a re-entrant lock. Bolt runs listeners on a thread pool, so several threads
reach this object at once; a connection per thread was considered and rejected because:

- SQLite admits one writer at a time anyway. Per-thread connections would only let reads run
  beside a write, and our reads (one indexed query, ~3 ms for a 1,000-message thread) are not
  worth the extra moving parts.
- Writers on separate connections wait for each other in SQLite's busy handler, which sleeps
  and polls (up to 100 ms between tries). Under a burst, an unlucky writer can keep missing
  the lock until `busy_timeout` expires and fail with SQLITE_BUSY. Writers in one process
  queue on a Python lock instead: no polling, no starvation, no spurious failures.
- `close()` then closes exactly one connection, and no connection leaks per worker thread.
- `":memory:"` works too (every thread sees the same database), handy in other parts' tests.

Other *processes* (the CLI purging while the bot runs, or a restarted bot overlapping the old
one) are still separate connections. For them the database is in WAL mode (readers never block
the writer), the busy timeout makes a writer wait instead of failing, and every write starts with
`BEGIN IMMEDIATE`: it takes the write lock up front, so a transaction that reads and then writes
(e.g. `Claims.claim`) can never fail on a lock upgrade, and its read is never stale.

Rows returned by sqlite-utils are lazy generators bound to the connection's cursor; every read
materialises its rows while still holding the lock.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

DEFAULT_BUSY_TIMEOUT_SECONDS = 10.0


def utc_now() -> datetime:
    """The current time in UTC; the default clock."""
    return datetime.now(UTC)


def to_utc_iso(moment: datetime) -> str:
    """Format a moment as the fixed-width UTC string stored in every `*_utc` column.

    Always microseconds and `+00:00`, so the strings sort in time order and compare correctly
    with `<` in SQL. A naive datetime is taken to be UTC already.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def as_utc_iso(value: str | datetime) -> str:
    """Accept a cutoff as a stored-format string or a datetime; return the stored format.

    Strings are passed through unchanged (a shorter prefix such as "2026-01-31" still compares
    sensibly), so callers may write either.
    """
    return to_utc_iso(value) if isinstance(value, datetime) else value


class StorageClosed(RuntimeError):
    """The storage was used after `close()`."""


class SharedDatabaseBase:
    """What both backends' shared databases do alike (this one and storage/pg_database.py):
    the clock's times in the stored `*_utc` format, and refusing any use after `close()`."""

    path: str  # what messages name (PostgreSQL's URL with its password masked)
    _clock: Clock
    _closed: bool

    def now(self) -> str:
        """The clock's current time in the stored `*_utc` format."""
        return to_utc_iso(self._clock())

    def later(self, seconds: float) -> str:
        """The clock's time `seconds` from now, in the stored `*_utc` format (lease expiries)."""
        return to_utc_iso(self._clock() + timedelta(seconds=seconds))

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise StorageClosed(f"storage {self.path} is closed")


class SharedDatabase(SharedDatabaseBase):
    """A sqlite-utils Database that many threads may use, one at a time.

    Use `read()` for queries and `write()` for anything that changes rows.
    """

    backend = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock = utc_now,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
    ) -> None:
        if busy_timeout < 5:
            raise ValueError("busy_timeout must be at least 5 seconds")
        self.path = str(path)
        self._clock = clock
        self._lock = threading.RLock()
        self._closed = False
        conn = sqlite3.connect(self.path, timeout=busy_timeout, check_same_thread=False)
        self._db = Database(conn, execute_plugins=False)
        # PRAGMAs cannot run inside a transaction; set them before anything else.
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self._db.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._db.enable_wal()
            # In WAL mode NORMAL never corrupts the file; it can only lose the last commits on a
            # power cut (not on a crash), and it saves an fsync per message appended.
            self._db.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def read(self) -> Iterator[Database]:
        """Hold the connection for a read; materialise rows before leaving the block."""
        with self._lock:
            self._check_open()
            yield self._db

    @contextmanager
    def write(self, *, serial: bool = True) -> Iterator[Database]:
        """Hold the connection for one `BEGIN IMMEDIATE` transaction, committed on success.

        `serial` is for PostgreSQL's sake (storage/pg_database.py): on SQLite every write
        transaction is serial anyway.

        Nested calls (on the same thread, thanks to the re-entrant lock) become savepoints of
        the outer transaction via sqlite-utils' `atomic()`. sqlite-utils' own write methods
        also call `atomic()`, so inside this block they join our transaction.
        """
        with self._lock:
            self._check_open()
            db = self._db
            if db.conn.in_transaction:
                with db.atomic():
                    yield db
                return
            # Not db.atomic(): it issues a deferred BEGIN, which can fail on lock upgrade.
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.rollback()
                raise
            try:
                db.commit()
            except BaseException:
                db.rollback()
                raise

    def close(self) -> None:
        """Close the connection; idempotent. Waits for any thread using it to finish."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._db.close()
            logger.debug("closed database %s", self.path)
