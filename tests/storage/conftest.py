"""Fixtures for storage tests: a fresh database per test, on each backend, and a test clock.

Every test that uses `storage` or `db_target` runs twice: on SQLite (a fresh file) and on
PostgreSQL (a fresh database on the session's real server, tests/postgres.py). Tests that
open the SQLite file themselves (`db_path`) run on SQLite only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage import Storage, open_storage

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        sqlite_only = "db_path" in metafunc.fixturenames
        metafunc.parametrize("backend", BACKENDS[:1] if sqlite_only else BACKENDS)


class FakeClock:
    """A clock that stands still until the test moves it, so timestamps are predictable."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "shopmate.db"


@pytest.fixture
def db_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str | Path:
    """Where a test's database lives: a SQLite file path, or a PostgreSQL URL."""
    if backend == "sqlite":
        return tmp_path / "data" / "shopmate.db"
    return request.getfixturevalue("postgres_url")


def rows(storage: Storage, table: str) -> list[dict]:
    """Every row of a table as stored, on either backend (for checks no store method offers)."""
    with storage._shared.read() as db:
        return list(db.table(table).rows_where())


def refuse_inserts(storage: Storage, table: str, message: str) -> None:
    """Make every insert into `table` fail with `message`, as a failing disk would."""
    with storage._shared.write() as db:
        if storage.backend == "sqlite":
            db.execute(
                f"create trigger refuse_{table} before insert on {table} "
                f"begin select raise(abort, '{message}'); end"
            )
        else:
            db.raw(
                f"create function refuse_{table}() returns trigger language plpgsql as "
                f"$$ begin raise exception '{message}'; end $$; "
                f"create trigger refuse_{table} before insert on {table} "
                f"for each row execute function refuse_{table}()"
            )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def storage(db_target: str | Path, clock: FakeClock) -> Iterator[Storage]:
    opened = open_storage(db_target, clock=clock)
    yield opened
    opened.close()
