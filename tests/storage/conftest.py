"""Fixtures for storage tests: a fresh database file per test and a clock the test controls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage import Storage, open_storage


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
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def storage(db_path: Path, clock: FakeClock) -> Iterator[Storage]:
    opened = open_storage(db_path, clock=clock)
    yield opened
    opened.close()
