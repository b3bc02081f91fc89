"""Benchmark `--only api`: the API's first-text latency and 50-stream throughput, beside Slack's.

Both fronts run as users run them: `shopmate api` and `shopmate serve` as subprocesses, against
the same fake Claude pace, measured in this run. The API's first text is the first `text`
event a client reads (POST → bytes on the client's socket); Slack's is the first text visible
in the fake Slack (event POST → text in a message), so Slack's figure includes Slack's own
pacing (status, stream buffer, flush interval), which is what its users see.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from bench import scenarios
from bench.harness import DEFAULT_PACE, TRACKING
from bench.sections import item_section, table_section
from bench.stats import Summary
from bot.orders_import import parse_orders
from fakes.claude import FakeClaude, Pace
from storage import open_storage

SAMPLE_ORDERS = Path(__file__).resolve().parents[1] / "bot/data/sample_orders.csv"
START_TIMEOUT = 120.0


@dataclass
class ApiBenchResult:
    pace: tuple[float, float | None]
    api_first_text: Summary  # ms, POST -> first `text` event read by the client
    api_wall: Summary  # ms, POST -> `done`
    api_burst: int
    api_burst_wall_s: float
    api_burst_complete: int
    api_burst_first_text: Summary  # ms, per stream in the burst
    slack_first_text: Summary | None  # ms, event POST -> first text visible in Slack
    slack_burst_wall_s: float | None
    slack_burst_complete: int | None


@contextmanager
def api_process(claude: FakeClaude, workdir: Path) -> Iterator[tuple[str, str]]:
    """`shopmate api --port 0` on a fresh database with the sample orders; yields (url, key)."""
    db_path = workdir / "api.db"
    with open_storage(db_path) as storage:
        storage.orders.upsert_many(parse_orders(SAMPLE_ORDERS).rows)
        key = storage.api_keys.create("bench")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NO_PROXY": "127.0.0.1,localhost",
        "ANTHROPIC_API_KEY": "bench-key",
        "ANTHROPIC_BASE_URL": claude.url,
        "SHOPMATE_DB": str(db_path),
        "SHOPMATE_API_KEY_TURNS_PER_MINUTE": "100000",
        "SHOPMATE_TEAM_TURNS_PER_MINUTE": "100000",
        "SHOPMATE_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--log-level", "INFO", "api", "--port", "0"],
        env=env,
        cwd=workdir,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    found = threading.Event()
    url: list[str] = []

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            match = re.search(r"listening on (http://\S+)", line)
            if match and not found.is_set():
                url.append(match.group(1))
                found.set()
        found.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not found.wait(START_TIMEOUT) or not url:
            raise RuntimeError("shopmate api did not start")
        yield url[0], key
    finally:
        process.terminate()
        process.wait(timeout=60)


def ask(url: str, key: str, message: str) -> tuple[float | None, float, str]:
    """One streamed answer: (seconds to first text, seconds to done, reply)."""
    started = time.monotonic()
    first: float | None = None
    reply = ""
    with (
        httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client,
        client.sse("/chat/stream", method="POST", json={"message": message}, timeout=120) as src,
    ):
        for event in src:
            if event.event == "text" and first is None:
                first = time.monotonic() - started
            elif event.event == "done":
                reply = event.json()["reply"]  # type: ignore[index]
    return first, time.monotonic() - started, reply


def run(
    runs: int,
    pace: Pace = DEFAULT_PACE,
    *,
    burst: int = 50,
    slack: bool = True,
    log: Any = print,
) -> ApiBenchResult:
    """API latency (`runs` answers one at a time), then `burst` streams at once; then Slack's."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeClaude(pace=pace) as claude,
        api_process(claude, Path(tmp)) as (url, key),
    ):
        ask(url, key, "Where is ORD-1001? (warm-up)")  # imports and SDK schemas loaded
        singles = []
        for i in range(runs):
            order = "ORD-1001" if i % 2 == 0 else "ORD-1003"
            first, wall, reply = ask(url, key, f"Where is {order}? (run {i})")
            if TRACKING[order] in reply:
                singles.append((first, wall))
        log(f"  api latency: {len(singles)}/{runs} answers")
        barrier = threading.Barrier(burst + 1)
        outcomes: list[tuple[float | None, float, str]] = []

        def one(i: int) -> None:
            barrier.wait()
            outcomes.append(ask(url, key, f"Where is ORD-1001? (burst {i})"))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(burst)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.monotonic()
        for thread in threads:
            thread.join(timeout=300)
        burst_wall = time.monotonic() - started
    complete = sum(1 for _, _, reply in outcomes if TRACKING["ORD-1001"] in reply)
    log(f"  api burst: {complete}/{burst} answers in {burst_wall:.1f} s")
    slack_first = slack_wall = slack_complete = None
    if slack:
        latency = scenarios.run_latency(runs, pace, log=log)
        slack_first = latency.summary("first_text")
        load = scenarios.run_load("spread50", burst, channels=burst, pace=pace, log=log)
        slack_wall, slack_complete = load.wall_s, load.complete
    return ApiBenchResult(
        pace=(pace.first_token_s, pace.tokens_per_s),
        api_first_text=Summary.of(f for f, _ in singles).scaled(1000),
        api_wall=Summary.of(w for _, w in singles).scaled(1000),
        api_burst=burst,
        api_burst_wall_s=burst_wall,
        api_burst_complete=complete,
        api_burst_first_text=Summary.of(f for f, _, _ in outcomes).scaled(1000),
        slack_first_text=slack_first,
        slack_burst_wall_s=slack_wall,
        slack_burst_complete=slack_complete,
    )


def table(result: ApiBenchResult) -> str:
    """The figures of this run, API beside Slack."""

    def ms(summary: Summary | None) -> str:
        if summary is None or not summary.n:
            return "-"
        return f"{summary.median:.0f} ms (p95 {summary.p95:.0f})"

    def rate(done: int | None, wall: float | None) -> str:
        if done is None or not wall:
            return "-"
        return f"{done} in {wall:.1f} s ({done / wall:.1f} answers/s)"

    first, per_s = result.pace
    rows = [
        ("first text, one at a time", ms(result.api_first_text), ms(result.slack_first_text)),
        ("whole answer, one at a time", ms(result.api_wall), "-"),
        (
            f"{result.api_burst} at once: complete, wall",
            rate(result.api_burst_complete, result.api_burst_wall_s),
            rate(result.slack_burst_complete, result.slack_burst_wall_s),
        ),
        (f"{result.api_burst} at once: first text", ms(result.api_burst_first_text), "-"),
    ]
    lines = [
        f"API vs Slack (fake Claude: first token {first:g} s, {per_s or 'unpaced'} tokens/s)",
        "| measure | HTTP API (SSE) | Slack |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
    ]
    return "\n".join(lines)


def section(results: Any) -> list[str]:
    """The RESULTS.md section (bench/report.py's SECTIONS), or [] when this item did not run."""
    return item_section(
        results,
        "api",
        lambda found: table_section("## 11. The HTTP API beside Slack", table(found)),
    )
