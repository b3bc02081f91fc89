"""ShopMate's storage: conversations, orders and processed events in one SQLite file, or in
PostgreSQL (`open_storage("postgresql://...")`, for processes on several hosts): the same stores
and promises on either.

Plain Python types go in and come out; nothing outside this package sees SQL or sqlite-utils.

    storage = open_storage("shopmate.db")
    storage.conversations.add_user_message("local:default", "Where is ORD-1001?")
    storage.orders.get("ORD-1001")
    storage.close()
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from storage import pg_migrations
from storage.api_keys import ApiKeyError, ApiKeyStore
from storage.api_requests import ApiRequestStore
from storage.claims import Claim, Claims
from storage.conversations import ConversationStore, Usage
from storage.database import (
    DEFAULT_BUSY_TIMEOUT_SECONDS,
    Clock,
    SharedDatabase,
    StorageClosed,
    to_utc_iso,
    utc_now,
)
from storage.descriptions import DescriptionStore
from storage.feedback import FeedbackStore
from storage.files import FileStore, NewFile, StoredFile
from storage.handoff import HandoffStore
from storage.migrations import migrate
from storage.order_cache import OrderCacheStore
from storage.orders import OrderStore
from storage.outcomes import OutcomeStore
from storage.pg_claims import PgClaims
from storage.pg_database import (
    DEFAULT_POOL_SIZE,
    PgSharedDatabase,
    is_postgres_url,
    pg_integrity_errors,
)
from storage.slack_budget import BudgetStore

logger = logging.getLogger(__name__)

# What a write breaking a constraint raises, on either backend (for callers that catch it).
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, *pg_integrity_errors())

__all__ = [
    "INTEGRITY_ERRORS",
    "ApiKeyError",
    "ApiKeyStore",
    "ApiRequestStore",
    "BudgetStore",
    "Claim",
    "Claims",
    "ConversationStore",
    "DescriptionStore",
    "FeedbackStore",
    "FileStore",
    "HandoffStore",
    "NewFile",
    "OrderCacheStore",
    "OrderStore",
    "Storage",
    "StorageClosed",
    "StoredFile",
    "Usage",
    "is_postgres_url",
    "open_storage",
    "to_utc_iso",
    "utc_now",
]


class Storage:
    """One open database and the stores over it; safe to share between threads.

    Build it with `open_storage()`, which also migrates the schema.
    """

    def __init__(self, shared: SharedDatabase | PgSharedDatabase) -> None:
        self._shared = shared
        self.backend = shared.backend
        self.conversations = ConversationStore(shared)
        self.orders = OrderStore(shared)
        self.claims = PgClaims(shared) if shared.backend == "postgresql" else Claims(shared)
        self.descriptions = DescriptionStore(shared)
        self.api_keys = ApiKeyStore(shared)
        self.api_requests = ApiRequestStore(shared)
        self.feedback = FeedbackStore(shared)
        self.handoff = HandoffStore(shared, self.orders)
        self.outcomes = OutcomeStore(shared)
        self.order_cache = OrderCacheStore(shared)
        self.files = FileStore(shared)
        self.budget = BudgetStore(shared)

    @property
    def path(self) -> str:
        return self._shared.path

    def size_bytes(self) -> int:
        """Bytes on disk: the database file plus its write-ahead log, as `ls` would add up.

        On PostgreSQL: the database's size as the server reports it.
        """
        if isinstance(self._shared, PgSharedDatabase):
            return self._shared.size_bytes()
        if self.path == ":memory:":
            with self._shared.read() as db:
                [row] = db.query(
                    "select page_count * page_size as size "
                    "from pragma_page_count(), pragma_page_size()"
                )
            return int(row["size"])
        main = Path(self.path)
        return sum(p.stat().st_size for p in (main, Path(f"{main}-wal")) if p.exists())

    def close(self) -> None:
        """Close the database connection; safe to call twice."""
        self._shared.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_storage(
    path: str | Path,
    *,
    clock: Clock = utc_now,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
    create: bool = True,
    pool_size: int = DEFAULT_POOL_SIZE,
) -> Storage:
    """Open the database at `path` and bring its schema up to date.

    `path` may also be a `postgresql://` URL (SHOPMATE_DATABASE_URL): the same stores then
    keep everything in PostgreSQL, through a pool of `pool_size` connections
    (storage/pg_database.py), with PostgreSQL's own migrations (storage/pg_migrations.py).

    With `create` (the default) a missing file and its parent directory are created; the
    CLI checks the path first (bot/cli/preflight.py) so a mistyped SHOPMATE_DB is refused rather
    than grown. `create=False` is for commands that only read or delete: a missing file
    raises FileNotFoundError instead of quietly becoming an empty database.
    Turns on WAL, a busy timeout and foreign keys, and applies pending migrations once,
    here, rather than on every call. `clock` returns the current time; tests pass a fake one
    to create old conversations.
    """
    if is_postgres_url(path):
        return _open_postgres(str(path), clock=clock, pool_size=pool_size)
    if str(path) != ":memory:":
        if not create and not Path(path).is_file():
            raise FileNotFoundError(f"no database at {path}")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    shared = SharedDatabase(path, clock=clock, busy_timeout=busy_timeout)
    try:
        with shared.write() as db:
            migrate(db)
    except BaseException:
        shared.close()
        raise
    logger.debug("opened storage %s", shared.path)
    return Storage(shared)


def _open_postgres(url: str, *, clock: Clock, pool_size: int) -> Storage:
    shared = PgSharedDatabase(url, clock=clock, pool_size=pool_size)
    try:
        with shared.write(serial=False) as db:
            pg_migrations.migrate(db, shared.now())
        shared.load_keys()
    except BaseException:
        shared.close()
        raise
    logger.debug("opened storage %s", shared.path)
    return Storage(shared)
