"""PostgreSQL beside SQLite: storage timings, and three `shopmate serve` processes on one database.

    python -m bench.pg_bench [--reps N] [--people N]

Starts its own PostgreSQL server (tests/postgres.py: a temporary directory, a Unix socket, no
TCP port; as root it runs as the `postgres` user) and prints, for each backend:

1. storage, in process: load a 1,000-message thread, append a question, append a turn (three
   messages and its usage) to a 1,000-message thread, claim a new event, claim a re-delivery;
   and claims per second with three connections (three processes' worth) racing on 12 threads;
2. the three-process run: three real `shopmate serve` processes on one database (one SQLite
   file, or one PostgreSQL database), `--people` mentions at once, every one delivered to all
   three processes, against the strict fake Slack with its minute shortened to 12 s (the
   bots told the same): time to the last answer, per-message time to finished, Claude calls,
   skipped duplicate deliveries, 429s provoked.

Figures are printed, not written to bench/RESULTS.md. The PostgreSQL server is tuned for tests
(fsync off), so its commits cost less than on a durable server; SQLite runs as the bot runs it
(WAL, synchronous=NORMAL).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.stats import Summary
from bench.storage_bench import _QUESTION, _TURN, _USAGE, _fill, _timed_ms
from storage import open_storage

THREAD = 1000
MINUTE_S = 12.0


def storage_timings(target: str | Path, reps: int) -> dict[str, Summary]:
    """Milliseconds per operation on one backend (`target`: a SQLite path or a URL)."""
    storage = open_storage(target)
    try:
        key, append_key = "slack:T1:C1:1.000100", "slack:T1:C2:1.000100"
        _fill(storage, key, THREAD)
        _fill(storage, append_key, THREAD)
        storage.conversations.history(key)  # warm caches, as a live bot has them
        out = {
            "load 1,000 messages": Summary.of(
                _timed_ms(lambda: storage.conversations.history(key)) for _ in range(reps)
            ),
            "append a question": Summary.of(
                _timed_ms(
                    lambda: storage.conversations.add_user_message(append_key, _QUESTION, user="U1")
                )
                for _ in range(reps)
            ),
            "append a turn": Summary.of(
                _timed_ms(
                    lambda: storage.conversations.add_turn(
                        append_key, _TURN, usage=_USAGE, user="U1"
                    )
                )
                for _ in range(reps)
            ),
        }
        new, dup = [], []
        for i in range(reps):
            event = f"slack:T1:C1:1700000000.{i:06d}"
            new.append(
                _timed_ms(lambda e=event: storage.claims.claim(e, owner="bench", lease_seconds=30))
            )
            dup.append(
                _timed_ms(lambda e=event: storage.claims.claim(e, owner="bench", lease_seconds=30))
            )
        out["claim a new event"] = Summary.of(new)
        out["claim a re-delivery"] = Summary.of(dup)
    finally:
        storage.close()
    return out


def claims_per_second(target: str | Path, count: int = 600) -> float:
    """Three connections, four threads each, all claiming the same `count` keys at once."""
    opened = [open_storage(target) for _ in range(3)]
    try:
        barrier = threading.Barrier(12)

        def work(index: int) -> int:
            storage = opened[index % 3]
            barrier.wait()
            return sum(
                storage.claims.claim(f"race-{n}", owner=f"p{index % 3}", lease_seconds=30)
                for n in range(count)
            )

        start = time.perf_counter()
        with ThreadPoolExecutor(12) as pool:
            won = sum(pool.map(work, range(12)))
        elapsed = time.perf_counter() - start
        assert won == count, f"{won} wins for {count} keys"
        return 12 * count / elapsed
    finally:
        for storage in opened:
            storage.close()


def three_processes(target: str | Path, workdir: Path, people: int) -> dict[str, Any]:
    """The Done-when run: three serve processes, every event to each, strict fake Slack."""
    from fakes.claude import FakeClaude
    from fakes.slack import FakeSlack
    from fakes.slack.events import mention_event, next_ts
    from tests.conftest import SAMPLE_ORDERS
    from tests.slack.processes import ShopMateProcess, environment

    team = "T0001"
    db = open_storage(target)
    db.orders.upsert_many(SAMPLE_ORDERS)
    processes: list[ShopMateProcess] = []
    try:
        with FakeSlack(team_id=team, window_s=MINUTE_S) as slack, FakeClaude() as claude:
            extra = {"SHOPMATE_SLACK_MINUTE_S": str(MINUTE_S)}
            if isinstance(target, str):
                extra["SHOPMATE_DATABASE_URL"] = target
            sqlite = Path(target) if not isinstance(target, str) else workdir / "unused.db"
            env = environment(sqlite, slack.api_url, claude.url, **extra)
            processes = [ShopMateProcess.serve(env, workdir, f"host-{n}") for n in "abc"]
            for process in processes:
                process.ready()
            payloads = [
                mention_event(
                    team=team,
                    channel=f"C{2000 + i % 6}",
                    user=f"U{1000 + i}",
                    text=f"Where is ORD-100{1 + i % 3}? (person {i})",
                    ts=next_ts(),
                )
                for i in range(people)
            ]
            keys = [f"slack:{team}:{p['event']['channel']}:{p['event']['ts']}" for p in payloads]
            start = time.monotonic()
            with ThreadPoolExecutor(18) as pool:
                list(
                    pool.map(
                        lambda d: d[0].deliver(d[1]),
                        [(pr, p) for p in payloads for pr in processes],
                    )
                )
            finished: dict[str, float] = {}
            deadline = start + 300
            while len(finished) < len(keys) and time.monotonic() < deadline:
                for key in keys:
                    if key not in finished and db.claims.status(key) == "done":
                        finished[key] = time.monotonic() - start
                time.sleep(0.02)
            answered = [
                len(slack.messages(p["event"]["channel"], p["event"]["ts"])) > 0 for p in payloads
            ]
            return {
                "people": people,
                "answered": sum(answered),
                "claude calls": len(claude.requests),
                "last answer s": max(finished.values(), default=float("nan")),
                "finished s": Summary.of(finished.values()),
                "429s": slack.count_429,
                "skipped deliveries": sum(
                    p.count(r"Already answered or answering") for p in processes
                ),
            }
    finally:
        for process in processes:
            process.stop()
        db.close()


def _row(label: str, cells: list[str]) -> str:
    return f"{label:<34}" + "".join(f"{c:>22}" for c in cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pg_bench", description=__doc__)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--skip-processes", action="store_true")
    args = parser.parse_args(argv)
    from tests.postgres import PostgresServer

    server = PostgresServer().start()
    say: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731
    try:
        with tempfile.TemporaryDirectory(prefix="shopmate-pg-bench-") as tmp:
            work = Path(tmp)
            targets: dict[str, Any] = {
                "SQLite": lambda name: work / f"{name}.db",
                "PostgreSQL": lambda name: server.create_database(),
            }
            say("1. storage, ms (median / p95)")
            timings = {
                name: storage_timings(make("timings"), args.reps) for name, make in targets.items()
            }
            say(_row("", list(timings)))
            for op in timings["SQLite"]:
                cells = [f"{t[op].median:.2f} / {t[op].p95:.2f}" for t in timings.values()]
                say(_row(op, cells))
            rates = {name: claims_per_second(make("race")) for name, make in targets.items()}
            say(_row("claims/s, 3 connections x 4 threads", [f"{r:,.0f}" for r in rates.values()]))
            if args.skip_processes:
                return 0
            say(f"\n2. three serve processes, {args.people} people, every event to all three")
            runs = {
                name: three_processes(make("three"), work, args.people)
                for name, make in targets.items()
            }
            say(_row("", list(runs)))
            for figure in next(iter(runs.values())):
                cells = []
                for run in runs.values():
                    value = run[figure]
                    if isinstance(value, Summary):
                        cells.append(f"{value.median:.1f} / {value.p95:.1f}")
                    elif isinstance(value, float):
                        cells.append(f"{value:.1f}")
                    else:
                        cells.append(str(value))
                say(_row(figure + (" (median / p95)" if figure == "finished s" else ""), cells))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
