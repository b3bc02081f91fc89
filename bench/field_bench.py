"""Slack's limits in the field: 15, 30 and 50 people at once against a strict fake Slack.

Each size gets a fresh `shopmate serve` and a fresh FakeSlack (token buckets per method, Tier 2
stream methods, ~1 post/s per channel, never reset mid-run), so no size inherits another's
spent budget. Reported side by side: Slack calls per reply, 429s the bot provoked, how many
answers ended complete (the expected text visible, nothing left streaming), and the time from
the burst to the last answer's last visible change.

`minute_s` shortens Slack's minute for the fake and the bot alike (SHOPMATE_SLACK_MINUTE_S);
Claude's pace is not scaled, so with a short minute the times are not real-world times.
"""

from __future__ import annotations

import collections
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench.harness import DEFAULT_PACE, TRACKING, Conversation, Stack
from bench.sections import item_section
from fakes.claude import Pace

SIZES = (15, 30, 50)
CHANNELS = 5  # the burst is spread over this many channels (posts are ~1/s per channel)


@dataclass(frozen=True)
class FieldResult:
    """One burst of `people` mentions and what Slack saw of it."""

    people: int
    channels: int
    minute_s: float
    complete: int
    left_streaming: int
    count_429: int
    slack_calls: int
    calls_by_method: dict[str, int] = field(default_factory=dict)
    streamed: int = 0
    last_answer_s: float = 0.0
    median_answer_s: float = 0.0

    @property
    def calls_per_reply(self) -> float:
        return self.slack_calls / max(1, self.people)


def run(
    sizes: tuple[int, ...] = SIZES,
    *,
    minute_s: float = 60.0,
    pace: Pace = DEFAULT_PACE,
    log: Any = print,
) -> list[FieldResult]:
    return [_burst(n, minute_s=minute_s, pace=pace, log=log) for n in sizes]


def _burst(people: int, *, minute_s: float, pace: Pace, log: Any) -> FieldResult:
    env = {
        "SHOPMATE_SLACK_MINUTE_S": str(minute_s),
        "SHOPMATE_USER_TURNS_PER_MINUTE": "1000",
        "SHOPMATE_TEAM_TURNS_PER_MINUTE": "1000",
    }
    with Stack(pace=pace, env=env, slack_window_s=minute_s) as stack:

        def ask(i: int) -> Conversation:
            order = "ORD-1001" if i % 2 == 0 else "ORD-1003"
            tag = f"field{people} {i}"
            return stack.ask(
                f"Hi, where is my order {order}? ({tag})",
                channel=f"CFIELD{i % CHANNELS:02d}",
                user=f"UFIELD{i:03d}",
                expect=TRACKING[order],
                marker=tag,
            )

        with ThreadPoolExecutor(people) as pool:
            started = time.monotonic()
            burst = list(pool.map(ask, range(people)))
        finished = stack.wait_done(burst, timeout=600)
        if not finished:
            log(f"  field{people}: not every turn finished:\n{stack.log_tail()}")
        finals = [c.final_visible() for c in burst]
        done = sorted(f - started for f in finals if f is not None)
        calls = stack.slack_calls()
        by_method = collections.Counter(c.method for c in calls)
        result = FieldResult(
            people=people,
            channels=min(people, CHANNELS),
            minute_s=minute_s,
            complete=sum(c.complete() for c in burst),
            left_streaming=sum(m.streaming for c in burst for m in c.replies()),
            count_429=stack.slack.count_429,
            slack_calls=len(calls),
            calls_by_method=dict(sorted(by_method.items())),
            streamed=sum(1 for c in calls if c.method == "chat.startStream" and c.ok),
            last_answer_s=done[-1] if done else 0.0,
            median_answer_s=done[len(done) // 2] if done else 0.0,
        )
    log(
        f"  field{people}: {result.complete}/{people} complete, {result.count_429} 429s, "
        f"{result.calls_per_reply:.1f} calls/reply, last answer {result.last_answer_s:.1f} s"
    )
    return result


def section(results: Any) -> list[str]:
    """The RESULTS.md section (bench/report.py's SECTIONS), or [] when this item did not run."""
    return item_section(results, "field", render)


def render(results: list[FieldResult]) -> list[str]:
    """Markdown lines: one table, one column per size, from this run's figures only."""
    if not results:
        return []
    header = ["", *(f"{r.people} at once" for r in results)]
    rows = [
        ["answers complete", *(f"{r.complete}/{r.people}" for r in results)],
        ["left streaming", *(r.left_streaming for r in results)],
        ["429s provoked", *(r.count_429 for r in results)],
        ["Slack calls per reply", *(f"{r.calls_per_reply:.1f}" for r in results)],
        ["replies streamed natively", *(r.streamed for r in results)],
        ["median answer done (s)", *(f"{r.median_answer_s:.1f}" for r in results)],
        ["last answer done (s)", *(f"{r.last_answer_s:.1f}" for r in results)],
    ]
    methods = sorted({m for r in results for m in r.calls_by_method})
    rows += [[f"calls: {m}", *(r.calls_by_method.get(m, 0) for r in results)] for m in methods]
    lines = [
        "## 9. Slack limits in the field (15, 30, 50 at once)",
        "",
        f"Strict fake Slack (token buckets, Tier 2 streams), a fresh one per size; "
        f"Slack minute = {results[0].minute_s:g} s for the fake and the bot; "
        f"{results[0].channels} channels.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]
