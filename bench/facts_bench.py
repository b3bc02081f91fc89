"""Facts first and a first sign for everyone, side by side with today's behaviour in one run.

Two variants of the same `shopmate serve`, each in fresh workspaces: "today" turns the new
behaviour off (SHOPMATE_FACTS_FIRST=false, SHOPMATE_FIRST_SIGN=status: a status line only when
the budget has one free at that moment, the facts only in Claude's words); "new" is the default.
Measured for each: event → first visible fact, one answer at a time (the first Slack call that
carries the order's tracking number: a step, a status line or Claude's text); the first sign
(status line, reaction or reply) of each person in a rush of 15 and of 50 in one channel, with
the 429s the strict fake counted; and the serving process's peak resident memory with 50 at once
(in one channel, and in 50 channels). "today" also keeps what `serve` now leaves out
(bot/cli/lean.py): its process imports aiohttp first, as the SDK did, so lean.leave_out finds it
loaded and changes nothing.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from bench import scenarios
from bench.harness import DEFAULT_PACE, Conversation, Stack
from bench.sections import item_section
from bench.stats import Summary
from fakes.claude import Pace

TODAY = {"SHOPMATE_FACTS_FIRST": "false", "SHOPMATE_FIRST_SIGN": "status"}
# `python -m bot`, with aiohttp imported first (what the SDK loaded before bot/cli/lean.py).
TODAY_COMMAND = (
    sys.executable,
    "-c",
    "import sys, aiohttp; from bot.cli import main; sys.exit(main(sys.argv[1:]))",
)
NEW_COMMAND = (sys.executable, "-m", "bot")
VARIANTS: tuple[tuple[str, dict[str, str], tuple[str, ...]], ...] = (
    ("today", TODAY, TODAY_COMMAND),
    ("new", {}, NEW_COMMAND),
)
RUSHES = (15, 50)


@dataclass
class VariantResult:
    name: str
    env: dict[str, str]
    fact: Summary  # ms, event POST -> first Slack call carrying the tracking number
    first_text: Summary  # ms, event POST -> Claude's first words visible
    loads: dict[str, scenarios.LoadResult] = field(default_factory=dict)


def fact_visible(conversation: Conversation) -> float | None:
    """When the first Slack call that shows the order's tracking number was taken."""
    needle = conversation.expect or ""
    replies = {m.ts for m in conversation.replies()}
    for call in conversation.stack.slack.calls:
        args = call.args
        mine = args.get("thread_ts") == conversation.thread_ts or args.get("ts") in replies
        if call.ok and mine and needle in json.dumps(args, ensure_ascii=False):
            return call.time
    return None


def _latency(
    env: dict[str, str], command: tuple[str, ...], runs: int, pace: Pace
) -> tuple[Summary, Summary]:
    facts: list[float] = []
    texts: list[float] = []
    batch = 0
    while len(facts) < runs:
        with Stack(pace=pace, env=env, command=command) as stack:
            # The first answer after start-up pays one-off costs: not counted.
            scenarios._ask_one(stack, "ORD-1001", f"facts cold {batch}", user="UC", channel="CF")
            for i in range(min(scenarios.LATENCY_BATCH, runs - len(facts))):
                order = "ORD-1001" if i % 2 == 0 else "ORD-1003"
                tag = f"facts {batch}.{i}"
                c = scenarios._ask_one(stack, order, tag, user=f"UF{i:02d}", channel="CF")
                seen, text = fact_visible(c), c.first_text_visible()
                if seen is not None:
                    facts.append(seen - c.posted_at)
                if text is not None:
                    texts.append(text - c.posted_at)
        batch += 1
    return Summary.of(facts).scaled(1000), Summary.of(texts).scaled(1000)


def run(
    *,
    runs: int = 12,
    rushes: tuple[int, ...] = RUSHES,
    memory: bool = True,
    pace: Pace = DEFAULT_PACE,
    log: Any = print,
) -> list[VariantResult]:
    out: list[VariantResult] = []
    for name, env, command in VARIANTS:
        log(f"  facts/{name}: one at a time")
        fact, first_text = _latency(env, command, runs, pace)
        result = VariantResult(name, env, fact, first_text)
        plan = [(f"rush{n}", n, 1) for n in rushes]
        if memory:
            plan.append(("spread50", 50, 50))
        for load, count, channels in plan:
            result.loads[load] = scenarios.run_load(
                f"{load}{name}",
                count,
                channels=channels,
                pace=pace,
                env=env,
                command=command,
                log=log,
            )
        out.append(result)
    return out


def section(results: Any) -> list[str]:
    """The RESULTS.md section (bench/report.py's SECTIONS), or [] when this item did not run."""
    return item_section(results, "facts", render)


def _ms(s: Summary) -> str:
    return f"{s.median:.0f} ms (p95 {s.p95:.0f} ms)" if s.n else "-"


def render(results: list[VariantResult]) -> list[str]:
    """Markdown lines: one column per variant, from this run's figures only."""
    if not results:
        return []
    rows: list[list[str]] = [
        ["event → first visible fact, one at a time", *(_ms(r.fact) for r in results)],
        ["event → Claude's first words visible", *(_ms(r.first_text) for r in results)],
    ]
    loads = [k for k in results[0].loads]
    for key in loads:
        rs = [r.loads[key] for r in results]
        label = f"{rs[0].conversations} at once, {rs[0].channels} channel(s)"
        rows += [
            [f"{label}: first sign", *(_ms(x.sign) for x in rs)],
            [f"{label}: first signs after > 1 s", *(str(x.late_signs) for x in rs)],
            [f"{label}: 429s / complete", *(f"{x.count_429} / {x.complete}" for x in rs)],
            [f"{label}: answer median / last", *(_answer(x) for x in rs)],
            [
                f"{label}: RSS idle / peak",
                *(f"{x.rss_idle_mb:.0f} / {x.rss_peak_mb:.0f} MB" for x in rs),
            ],
        ]
        for method in ("assistant.threads.setStatus", "reactions.add", "reactions.remove"):
            rows.append(
                [f"{label}: calls {method}", *(str(x.calls_by_method.get(method, 0)) for x in rs)]
            )
    header = ["measure", *(_title(r) for r in results)]
    lines = [
        "## Facts first and a first sign for everyone (side by side)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _title(result: VariantResult) -> str:
    if not result.env:
        return f"{result.name} (defaults)"
    return f"{result.name} (" + ", ".join(f"{k}={v}" for k, v in result.env.items()) + ")"


def _answer(load: scenarios.LoadResult) -> str:
    s = load.answer_wall
    return f"{s.median:.1f} s / {s.max:.1f} s" if s.n else "-"
