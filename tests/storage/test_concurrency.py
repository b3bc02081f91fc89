"""Many threads (Bolt's listener pool), several connections and several OS processes sharing one
database lose nothing, and claim each message once.

Tests named "connections" open two `Storage` objects in this one process: two SQLite
connections, so SQLite's own locking is what keeps order, but one Python process. The test
named "processes" starts real OS processes.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from storage import Storage, Usage, open_storage

THREADS = 8
WRITES = 200
SHARED = "local:shared"


def run_at_once(count: int, work: Callable[[int], object]) -> list[object]:
    """Run work(0..count-1) on `count` threads released together; re-raise any failure."""
    barrier = threading.Barrier(count)

    def start(index: int) -> object:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(start, range(count)))


def write_own_and_shared_threads(storage: Storage, writer: int) -> None:
    for n in range(WRITES):
        text = f"w{writer}-{n}"
        if n % 2:
            storage.conversations.add_user_message(SHARED, text)
        else:
            storage.conversations.add_turn(
                f"local:writer-{writer}",
                [{"role": "assistant", "content": text}],
                usage={"output_tokens": 1},
            )


def texts(storage: Storage, key: str) -> list[str]:
    return [m["content"][0]["text"] for m in storage.conversations.history(key)]


def assert_nothing_lost_and_order_kept(storage: Storage, writers: int) -> None:
    shared = texts(storage, SHARED)
    assert len(shared) == writers * WRITES // 2
    for writer in range(writers):
        own = texts(storage, f"local:writer-{writer}")
        assert own == [f"w{writer}-{n}" for n in range(0, WRITES, 2)]
        # In the shared thread the writers interleave, but each one's messages keep their order.
        mine = [t for t in shared if t.startswith(f"w{writer}-")]
        assert mine == [f"w{writer}-{n}" for n in range(1, WRITES, 2)]
    assert storage.conversations.turns_since("2000-01-01") == Usage(
        turns=writers * WRITES // 2, tokens=writers * WRITES // 2
    )


def test_eight_threads_writing_at_once_lose_nothing_and_keep_their_order(
    storage: Storage,
) -> None:
    run_at_once(THREADS, lambda writer: write_own_and_shared_threads(storage, writer))

    assert_nothing_lost_and_order_kept(storage, THREADS)


def test_two_connections_on_one_database_writing_at_once_lose_nothing(db_target) -> None:
    # Two Storage objects are two connections (in this one process): here the database's own
    # locking (SQLite: BEGIN IMMEDIATE + busy timeout; PostgreSQL: the write lock), not our
    # Python lock, keeps order.
    first, second = open_storage(db_target), open_storage(db_target)
    try:
        run_at_once(
            THREADS,
            lambda writer: write_own_and_shared_threads(first if writer % 2 else second, writer),
        )
        assert_nothing_lost_and_order_kept(first, THREADS)
    finally:
        first.close()
        second.close()


def test_reads_during_writes_always_see_whole_turns(storage: Storage) -> None:
    tool_use = {"type": "tool_use", "id": "t", "name": "get_order", "input": {}}
    tool_result = {"type": "tool_result", "tool_use_id": "t", "content": "ok"}
    turn = [
        {"role": "assistant", "content": [tool_use]},
        {"role": "user", "content": [tool_result]},
    ]
    turns_per_writer = 50
    torn: list[int] = []

    def work(index: int) -> None:
        for _ in range(turns_per_writer):
            if index % 2:
                storage.conversations.add_turn("local:busy", turn)
            elif len(storage.conversations.history("local:busy")) % 2:
                torn.append(index)  # saw a tool_use without its tool_result

    run_at_once(THREADS, work)

    assert torn == []
    assert len(storage.conversations.history("local:busy")) == THREADS // 2 * turns_per_writer * 2


def test_eight_threads_claiming_the_same_event_exactly_one_wins(storage: Storage) -> None:
    # Threads of one process share its owner id, as Bolt's listener threads do.
    for attempt in range(20):
        key = f"evt-{attempt}"
        wins = run_at_once(
            THREADS, lambda worker, key=key: storage.claims.claim(key, owner="p1", lease_seconds=30)
        )
        assert wins.count(True) == 1, key
        assert storage.claims.status(key) == "claimed"


def test_claiming_is_atomic_across_two_connections_too(db_target) -> None:
    # Two connections race to claim; a second True, or an IntegrityError from a second insert,
    # could only come from a read and write that were not one transaction.
    first, second = open_storage(db_target), open_storage(db_target)
    try:
        for attempt in range(20):
            key = f"evt-{attempt}"
            wins = run_at_once(
                THREADS,
                lambda worker, key=key: (first if worker % 2 else second).claims.claim(
                    key, owner="p1", lease_seconds=30
                ),
            )
            assert wins.count(True) == 1, key
    finally:
        first.close()
        second.close()


CLAIMER = """
import sys, time
from pathlib import Path
from storage import open_storage

db, owner, go, count = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
storage = open_storage(db)
print("ready", flush=True)
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:  # all processes start claiming together
    time.sleep(0.001)
won = [
    f"evt-{n}" for n in range(count)
    if storage.claims.claim(f"evt-{n}", owner=owner, lease_seconds=30)
]
print(" ".join(won), flush=True)
storage.close()
"""


def test_processes_racing_to_claim_the_same_events_each_win_distinct_ones(
    db_target, tmp_path: Path
) -> None:
    # Separate OS processes, each its own owner, as `shopmate serve` on one SHOPMATE_DB (or
    # one PostgreSQL database):
    # each message must be claimed by exactly one, and a live claim never taken over.
    open_storage(db_target).close()  # migrated once, before the race
    go, count = tmp_path / "go", 200
    claimers = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(db_target), f"process-{n}", str(go), str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    try:
        for claimer in claimers:
            assert claimer.stdout is not None and claimer.stdout.readline() == "ready\n"
        go.touch()
        won = [claimer.communicate(timeout=60)[0].split() for claimer in claimers]
    finally:
        for claimer in claimers:
            if claimer.poll() is None:
                claimer.kill()
                claimer.wait()
    assert all(claimer.returncode == 0 for claimer in claimers)
    every = [key for keys in won for key in keys]
    assert sorted(every) == sorted(f"evt-{n}" for n in range(count)), "each won exactly once"


def test_close_closes_every_connection_it_opened(db_path: Path) -> None:
    storage = open_storage(db_path)
    run_at_once(THREADS, lambda writer: storage.conversations.add_user_message(SHARED, "hi"))
    wal = Path(f"{db_path}-wal")
    assert wal.exists()

    storage.close()

    # SQLite removes the write-ahead log only when the last connection to the file closes.
    assert not wal.exists()
