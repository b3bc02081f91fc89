"""PostgreSQL behind the same small database surface the stores use on SQLite.

The stores (conversations, orders, hand-off, ...) speak to their database through a handful of
sqlite-utils calls: `db.table(name).insert/update/upsert/rows_where/count_where/delete_where`,
`db.query(sql, params)` and `db.execute(sql, params)`. `PgDatabase` offers exactly that surface
over one psycopg 3 connection, so each store keeps one implementation of its rules and its
public API (plain Python types), and where SQL must differ the store asks `shared.backend`.
Statements written for SQLite are translated once each (cached): `?` placeholders, `[name]`
quoting, the reserved word `user` as a column, and `INSERT OR IGNORE` (which becomes
`ON CONFLICT DO NOTHING`).

Transactions: `PgSharedDatabase.write()` holds one pooled connection for one transaction and,
by default, PostgreSQL's transaction-scoped advisory lock `_WRITE_LOCK` first. That gives the
stores the promise SQLite's `BEGIN IMMEDIATE` gives them (one writer at a time, so a
transaction that reads and then writes never acts on a stale read), now across every process
on every host. The hot paths that must not queue behind other writes (claims and leases,
bot/slack call budget) use `write(serial=False)` and PostgreSQL's own tools instead: conditional
inserts, row locks, `SKIP LOCKED`. Nested `write()`/`read()` on one thread join the outer
transaction (a savepoint), as on SQLite.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from storage.database import Clock, SharedDatabaseBase, utc_now

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock keys (any two 64-bit numbers of our own).
_WRITE_LOCK = 0x5348_4F50_4D41_5445  # "SHOPMATE"
MIGRATE_LOCK = 0x5348_4F50_4D49_4752  # "SHOPMIGR"

DEFAULT_POOL_SIZE = 10

_KEYS_SQL = """
select tc.table_name, kcu.column_name,
       coalesce(c.is_identity = 'YES', false) as generated
from information_schema.table_constraints tc
join information_schema.key_column_usage kcu
  on kcu.constraint_name = tc.constraint_name and kcu.table_schema = tc.table_schema
join information_schema.columns c
  on c.table_schema = kcu.table_schema and c.table_name = kcu.table_name
 and c.column_name = kcu.column_name
where tc.constraint_type = 'PRIMARY KEY' and tc.table_schema = current_schema()
order by tc.table_name, kcu.ordinal_position
"""


@dataclass(frozen=True)
class Keys:
    """Each table's primary key, read from the schema (as sqlite-utils reads SQLite's), and
    which tables' keys PostgreSQL generates (one identity column: inserts return it)."""

    primary: dict[str, tuple[str, ...]] = field(default_factory=dict)
    generated: frozenset[str] = frozenset()


_TOKEN = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|\[[^\]]*\]|\?|%|\buser\b", re.IGNORECASE)
_INSERT_OR_IGNORE = re.compile(r"^\s*insert\s+or\s+ignore\s+into\b", re.IGNORECASE)


def is_postgres_url(target: object) -> bool:
    """True for a `postgresql://` (or `postgres://`) URL, as SHOPMATE_DATABASE_URL names one."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def pg_integrity_errors() -> tuple[type[Exception], ...]:
    """psycopg's IntegrityError, if psycopg is installed (the `postgres` extra)."""
    try:
        from psycopg import IntegrityError
    except ImportError:
        return ()
    return (IntegrityError,)


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


@functools.lru_cache(maxsize=1024)
def to_pg(sql: str, with_params: bool = True) -> str:
    """A statement written for SQLite, as psycopg takes it (placeholders `%s`).

    `%` is doubled only when parameters go with the statement: without any, psycopg sends
    the text as it is.
    """

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%" if with_params else "%"
        if token.startswith("["):
            return f'"{token[1:-1]}"'
        if token.lower() == "user":
            return '"user"'
        if token.startswith("'") and with_params:
            return token.replace("%", "%%")  # psycopg reads `%` everywhere, literals too
        return token  # a literal or an already quoted name, unchanged

    out = _TOKEN.sub(swap, sql)
    if _INSERT_OR_IGNORE.match(out):
        out = _INSERT_OR_IGNORE.sub("insert into", out, count=1) + " on conflict do nothing"
    return out


# Options of sqlite-utils' writes that change nothing here (the schema is the migrations').
_HARMLESS_OPTIONS = frozenset(
    {"pk", "alter", "foreign_keys", "not_null", "defaults", "column_order"}
)


def _refuse_unknown(options: dict[str, Any]) -> None:
    """A write option this layer does not carry out fails loudly instead of being dropped."""
    unknown = sorted(set(options) - _HARMLESS_OPTIONS)
    if unknown:
        raise TypeError(f"the PostgreSQL table layer does not support {', '.join(unknown)}")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PgTable:
    """The sqlite-utils `Table` calls the stores make, on one PostgreSQL table.

    Statements are built in the SQLite dialect and translated by `PgDatabase`, like the
    stores' own.
    """

    def __init__(self, db: PgDatabase, name: str) -> None:
        self.db = db
        self.name = name
        self.pk = db.keys.primary.get(name, ("id",))
        self.generated = name in db.keys.generated
        self.last_pk: Any = None

    def _where_pk(self, pk_values: Any) -> tuple[str, list[Any]]:
        values = list(pk_values) if isinstance(pk_values, list | tuple) else [pk_values]
        return " and ".join(f"{quote(c)} = ?" for c in self.pk), values

    def _insert_sql(self, columns: list[str]) -> str:
        return (
            f"insert into {quote(self.name)} ({', '.join(map(quote, columns))}) "
            f"values ({', '.join(['?'] * len(columns))})"
        )

    def _key_of(self, row: dict[str, Any]) -> Any:
        key = [row.get(c) for c in self.pk]
        return key[0] if len(key) == 1 else tuple(key)

    def insert(
        self, row: dict[str, Any], *, pk: Any = None, ignore: bool = False, **options: Any
    ) -> PgTable:
        """sqlite-utils' insert; `ignore=True` keeps the existing row on a key conflict."""
        _refuse_unknown(options)
        columns = list(row)
        sql = self._insert_sql(columns)
        if ignore:
            sql += " on conflict do nothing"
            self.db.execute(sql, [row[c] for c in columns])
            self.last_pk = self._key_of(row)
            return self
        if self.generated and row.get(self.pk[0]) is None:
            sql += " returning " + quote(self.pk[0])
            self.last_pk = self.db.execute(sql, [row[c] for c in columns]).fetchone()[0]
        else:
            self.db.execute(sql, [row[c] for c in columns])
            self.last_pk = self._key_of(row)
        return self

    def insert_all(
        self, rows: Iterable[dict[str, Any]], *, ignore: bool = False, **options: Any
    ) -> PgTable:
        _refuse_unknown(options)
        for row in rows:
            self.insert(row, ignore=ignore)
        return self

    def upsert(self, row: dict[str, Any], *, pk: Any = None, **options: Any) -> PgTable:
        _refuse_unknown(options)
        columns = list(row)
        changes = [c for c in columns if c not in self.pk]
        action = (
            "do update set " + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in changes)
            if changes
            else "do nothing"
        )
        conflict = ", ".join(map(quote, self.pk))
        sql = f"{self._insert_sql(columns)} on conflict ({conflict}) {action}"
        self.db.execute(sql, [row[c] for c in columns])
        self.last_pk = self._key_of(row)
        return self

    def upsert_all(self, rows: Iterable[dict[str, Any]], **options: Any) -> PgTable:
        _refuse_unknown(options)
        for row in rows:
            self.upsert(row)
        return self

    def update(self, pk_values: Any, updates: dict[str, Any] | None = None, **_: Any) -> PgTable:
        if not updates:
            return self
        where, args = self._where_pk(pk_values)
        sets = ", ".join(f"{quote(c)} = ?" for c in updates)
        self.db.execute(
            f"update {quote(self.name)} set {sets} where {where}", [*updates.values(), *args]
        )
        return self

    def delete(self, pk_values: Any) -> PgTable:
        where, args = self._where_pk(pk_values)
        self.db.execute(f"delete from {quote(self.name)} where {where}", args)
        return self

    def delete_where(
        self, where: str | None = None, where_args: Sequence[Any] | None = None
    ) -> PgTable:
        sql = f"delete from {quote(self.name)}" + (f" where {where}" if where else "")
        self.db.execute(sql, where_args)
        return self

    def rows_where(
        self,
        where: str | None = None,
        where_args: Sequence[Any] | None = None,
        *,
        order_by: str | None = None,
        select: str = "*",
        limit: int | None = None,
        offset: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        sql = f"select {select} from {quote(self.name)}"
        if where:
            sql += f" where {where}"
        if order_by:
            sql += f" order by {order_by}"
        if limit is not None:
            sql += f" limit {int(limit)}"
        if offset is not None:
            sql += f" offset {int(offset)}"
        return iter(self.db.query(sql, where_args))

    def count_where(self, where: str | None = None, where_args: Sequence[Any] | None = None) -> int:
        sql = f"select count(*) from {quote(self.name)}" + (f" where {where}" if where else "")
        return int(self.db.execute(sql, where_args).fetchone()[0])

    @property
    def count(self) -> int:
        return self.count_where()

    @property
    def rows(self) -> Iterator[dict[str, Any]]:
        return self.rows_where()


class PgDatabase:
    """The sqlite-utils `Database` calls the stores make, on one psycopg connection."""

    backend = "postgresql"

    def __init__(self, conn: Any, keys: Keys | None = None) -> None:
        self.conn = conn
        self.keys = keys or Keys()

    def read_keys(self) -> Keys:
        """Every table's primary key, from the schema as it is now."""
        primary: dict[str, tuple[str, ...]] = {}
        generated: set[str] = set()
        for table, column, is_identity in self.raw(_KEYS_SQL).fetchall():
            primary[table] = (*primary.get(table, ()), column)
            if is_identity:
                generated.add(table)
        single = {t for t in generated if len(primary[t]) == 1}
        return Keys(primary, frozenset(single))

    def table(self, name: str) -> PgTable:
        return PgTable(self, name)

    def raw(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run PostgreSQL SQL as is (placeholders `%s`); the cursor, rows as tuples.

        Without parameters the text goes as it is (several statements allowed).
        """
        return self.conn.execute(sql, list(params) if params else None)

    def raw_dicts(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run PostgreSQL SQL as is; every row, as a dict."""
        from psycopg.rows import dict_row

        with self.conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(sql, list(params) if params else None)
            return cursor.fetchall() if cursor.description else []

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """A statement written for SQLite; the cursor (rowcount, fetchone as a tuple)."""
        return self.raw(to_pg(sql, bool(params)), params)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """A query written for SQLite; its rows as dicts."""
        return self.raw_dicts(to_pg(sql, bool(params)), params)


class PgSharedDatabase(SharedDatabaseBase):
    """A pool of connections to one PostgreSQL database; the same surface as SharedDatabase."""

    backend = "postgresql"

    def __init__(
        self, url: str, *, clock: Clock = utc_now, pool_size: int = DEFAULT_POOL_SIZE
    ) -> None:
        try:
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # the `postgres` extra is not installed
            raise RuntimeError(
                "SHOPMATE_DATABASE_URL names PostgreSQL, but psycopg is not installed: "
                "reinstall ShopMate with its dependencies (pip install -r requirements.lock)"
            ) from exc
        self.url = url
        self.path = redact(url)
        self._clock = clock
        self.keys = Keys()  # read once the schema is migrated (`load_keys`)
        self._local = threading.local()
        self._closed = False
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True},
            # A connection the server dropped (a restart, a failover) is replaced before use,
            # not handed to a store: one round trip per checkout.
            check=ConnectionPool.check_connection,
            open=False,
            name="shopmate",
        )
        self._pool.open(wait=True, timeout=30)

    @contextmanager
    def _connection(self) -> Iterator[PgDatabase]:
        current = getattr(self._local, "db", None)
        if current is not None:
            yield current
            return
        self._check_open()
        with self._pool.connection() as conn:
            self._local.db = PgDatabase(conn, self.keys)
            try:
                yield self._local.db
            finally:
                self._local.db = None

    @contextmanager
    def read(self) -> Iterator[PgDatabase]:
        """A connection for reads (autocommit; inside a write, that write's transaction)."""
        with self._connection() as db:
            yield db

    @contextmanager
    def write(self, *, serial: bool = True) -> Iterator[PgDatabase]:
        """One transaction, committed on success; nested calls become savepoints.

        `serial` (the default) first takes the database-wide write lock, so read-then-write
        code is as safe as under SQLite's BEGIN IMMEDIATE; `serial=False` is for code that
        guards itself with row locks and conditional statements.
        """
        with self._connection() as db, db.conn.transaction():
            if serial and not getattr(self._local, "serial", False):
                db.raw("select pg_advisory_xact_lock(%s)", [_WRITE_LOCK])
                self._local.serial = True
                try:
                    yield db
                finally:
                    self._local.serial = False
            else:
                yield db

    def load_keys(self) -> None:
        """Learn every table's primary key from the (migrated) schema, for `PgTable`."""
        with self.read() as db:
            self.keys = db.read_keys()

    def size_bytes(self) -> int:
        with self.read() as db:
            return int(db.raw("select pg_database_size(current_database())").fetchone()[0])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.close()
        logger.debug("closed database %s", self.path)
