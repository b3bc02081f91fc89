"""One Slack call budget for every process on one database: paced together, finals first, 429s
held by all.

Each "process" here is its own `SharedCallBudget` over its own `Storage` (its own connection)
on one database, as separate `shopmate serve` processes are; on SQLite and on PostgreSQL.
tests/slack/test_pg_processes.py shows the same with real processes against the fake Slack.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.slack.budget import Limit
from bot.slack.shared_budget import SharedCallBudget
from storage import Storage, open_storage
from tests.slack.conftest import wait_until
from tests.slack.test_budget import Clock


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    if request.param == "sqlite":
        return tmp_path / "shopmate.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def processes(database: str | Path) -> Iterator[Callable[..., SharedCallBudget]]:
    """Makes one process's budget on the shared database (all on one test clock)."""
    opened: list[Storage] = []
    clock = Clock()

    def process(**limits: Limit) -> SharedCallBudget:
        storage = open_storage(database)
        opened.append(storage)
        return SharedCallBudget(storage.budget, limits, safety=1.0, clock=clock)

    process.clock = clock  # type: ignore[attr-defined]
    yield process
    for storage in opened:
        storage.close()


UPDATE = {"chat.update": Limit(60, 60.0, burst=3)}  # one a second, three at once


def test_processes_together_take_one_burst_then_one_call_per_interval(processes):
    first, second, third = processes(**UPDATE), processes(**UPDATE), processes(**UPDATE)
    clock = processes.clock
    every = [first, second, third] * 3

    assert sum(b.try_acquire("T1", "chat.update") for b in every) == 3, "one burst, not three"
    clock.now += 1
    assert sum(b.try_acquire("T1", "chat.update") for b in every) == 1, "one pace, not three"
    assert first.booked_ahead("T1", "chat.update") == pytest.approx(3.0)


def test_other_workspaces_are_counted_apart(processes):
    first, second = processes(**UPDATE), processes(**UPDATE)
    assert sum(first.try_acquire("T1", "chat.update") for _ in range(5)) == 3
    assert sum(second.try_acquire("T2", "chat.update") for _ in range(5)) == 3


def test_a_429_seen_by_one_process_holds_every_process(processes):
    first, second = processes(**UPDATE), processes(**UPDATE)
    first.penalize("T1", "chat.update", retry_after=5)

    assert not second.try_acquire("T1", "chat.update")
    assert second.reserve("T1", ["chat.update"]) is None
    processes.clock.now += 5.1
    assert second.try_acquire("T1", "chat.update")


def test_progress_in_every_process_leaves_half_the_burst_to_finals(processes):
    limits = {"chat.appendStream": Limit(60, 60.0, burst=6)}
    first, second = processes(**limits), processes(**limits)
    granted = sum(
        b.try_acquire("T1", "chat.appendStream", optional=True) for b in [first, second] * 5
    )
    assert granted == 3, "progress may use only half the burst, whoever asks"
    assert second.try_acquire("T1", "chat.appendStream"), "a final delivery still fits"


def test_a_final_waiting_in_one_process_goes_before_the_others_calls(processes):
    limits = {"chat.update": Limit(60, 60.0, burst=2)}
    waiting, other = processes(**limits), processes(**limits)
    clock = processes.clock
    assert other.try_acquire("T1", "chat.update")
    assert other.try_acquire("T1", "chat.update")
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(waiting.acquire("T1", "chat.update")))
    waiter.start()
    try:
        assert wait_until(lambda: waiting.finals_waiting("T1", "chat.update") == 1)
        clock.now += 0.5  # the final's slot is not due yet; it marks itself as waiting
        assert wait_until(lambda: not other.try_acquire("T1", "chat.update", optional=True))
        clock.now += 0.6  # now a slot is free, and the final in the first process takes it
        assert not other.try_acquire("T1", "chat.update"), "no message opens before the final"
    finally:
        clock.now += 5
        waiter.join(timeout=30)
    assert got == [True]


def test_channel_posts_are_paced_per_channel_across_processes(processes):
    limits = {"chat.postMessage": Limit(120, 60.0, burst=4)}
    first, second = processes(**limits), processes(**limits)
    for budget in (first, second):
        budget.channel_limits = {"chat.postMessage": Limit(1, 1.0)}

    assert first.try_acquire("T1", "chat.postMessage", channel="C1")
    assert not second.try_acquire("T1", "chat.postMessage", channel="C1"), "one a second"
    assert second.try_acquire("T1", "chat.postMessage", channel="C2")
