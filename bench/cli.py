"""Command line for the benchmarks: which pieces to run, how many times, where to write."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import (
    api_bench,
    describe_bench,
    facts_bench,
    field_bench,
    files_bench,
    orders_bench,
    report,
    scenarios,
    socket_mode,
    storage_bench,
)
from bench.harness import DEFAULT_PACE
from fakes.claude import Pace

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
ITEMS = (
    "latency",
    "seed",
    "load",
    "storage",
    "cost",
    "describe",
    "field",
    "socket",
    "api",
    "orders",
    "files",
    "facts",
)
# A history budget small enough that ten turns must be trimmed (the minimum allowed is 500).
SMALL_HISTORY_BUDGET = 1200


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="ShopMate benchmarks against the real app and the offline fakes.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer runs (about 1.5 minutes)")
    mode.add_argument(
        "--smoke", action="store_true", help="seconds: storage only, tiny sizes (for tests)"
    )
    parser.add_argument(
        "--only", action="append", choices=ITEMS, help="run only these pieces (repeatable)"
    )
    parser.add_argument(
        "--first-token", type=float, default=DEFAULT_PACE.first_token_s, help="fake Claude, s"
    )
    parser.add_argument(
        "--tokens-per-s", type=float, default=DEFAULT_PACE.tokens_per_s, help="fake Claude"
    )
    parser.add_argument("--runs", type=int, help="latency answers (default 24, quick 12)")
    parser.add_argument(
        "--slack-minute",
        type=float,
        help="field: seconds in Slack's minute, fake and bot alike (default 60, quick 12)",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="write the Markdown results to bench/RESULTS.md or --out (default: print only)",
    )
    parser.add_argument(
        "--out", type=Path, help="write the Markdown results here (implies --write)"
    )
    parser.add_argument("--no-write", action="store_true", help=argparse.SUPPRESS)  # the default
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    pace = Pace(args.first_token, args.tokens_per_s)
    results = run(
        mode, pace, only=tuple(args.only or ITEMS), runs=args.runs, slack_minute=args.slack_minute
    )
    print()
    print(report.table(results))
    if "describe" in results.extra:
        print(describe_bench.table(results.extra["describe"]))
    if "field" in results.extra:
        print("\n".join(field_bench.render(results.extra["field"])))
    if "socket" in results.extra:
        print(socket_mode.markdown_section(results.extra["socket"]))
    if "api" in results.extra:
        print(api_bench.table(results.extra["api"]))
    if "orders" in results.extra:
        print(orders_bench.table(results.extra["orders"]))
    if "files" in results.extra:
        print(files_bench.table(results.extra["files"]))
    if "facts" in results.extra:
        print("\n".join(facts_bench.render(results.extra["facts"])))
    # The tracked RESULTS.md changes only when asked, so a run never dirties the checkout.
    if (args.write or args.out is not None) and not args.no_write:
        out = args.out or RESULTS
        out.write_text(report.markdown(results, report.explanations(results)))
        print(f"\nWrote {out}")
    return 0


def run(
    mode: str,
    pace: Pace = DEFAULT_PACE,
    *,
    only: tuple[str, ...] = ITEMS,
    runs: int | None = None,
    slack_minute: float | None = None,
    log=None,
) -> report.Results:
    """Run the selected pieces in `mode` ("full", "quick" or "smoke")."""

    def say(message: str) -> None:
        (log or (lambda m: print(m, file=sys.stderr, flush=True)))(message)

    started = time.monotonic()
    busy, own = scenarios.machine_busy_s(), _own_cpu_s()
    results = report.Results(mode=mode, pace=(pace.first_token_s, pace.tokens_per_s))
    if mode == "smoke":
        say("storage (smoke)")
        results.storage = storage_bench.run(sizes=(5, 20), reps=3)
        results.seconds = time.monotonic() - started
        return results

    quick = mode == "quick"
    if "storage" in only:
        say("5. storage")
        results.storage = storage_bench.run(reps=60 if quick else 200)
    if "latency" in only or "seed" in only or "load" in only:
        say("1. latency (one answer at a time)")
        results.latency = scenarios.run_latency(runs or (12 if quick else 24), pace, log=say)
    if "seed" in only:
        say("2. the seed's stream_chat")
        results.seed = scenarios.run_seed(4 if quick else 8, pace)
        say("2. ShopMate on two ids, and on an id the model resolves itself")
        results.shapes = scenarios.run_shapes(3 if quick else 6, pace)
    if "load" in only:
        say("3, 4, 6. many at once")
        # One shared channel is the hard case for Slack's limits (chat.postMessage ~1/s per
        # channel); 50 channels (DMs, many channels) shows what the bot itself adds. The
        # throughput burst is repeated: on two cores one burst's wall time is noisy.
        plan = [("shared15", 15, 1), ("shared50", 50, 1), ("spread25", 25, 25)] + [
            ("spread50", 50, 50)
        ] * (1 if quick else 3)
        if quick:
            plan = [p for p in plan if p[0] not in ("shared50", "spread25")]
        for name, count, channels in plan:
            results.loads.append(scenarios.run_load(name, count, channels=channels, pace=pace))
    if "cost" in only:
        say("7. cost per turn (two 10-turn threads, side by side)")
        with ThreadPoolExecutor(2) as pool:
            budgets = (None, SMALL_HISTORY_BUDGET)
            results.cost = list(pool.map(lambda b: scenarios.run_cost(b, pace), budgets))
    if "describe" in only:
        count = 300 if quick else 1000
        say(f"8. product descriptions ({count} live, then as a batch)")
        results.extra["describe"] = describe_bench.run(count, pace)
    if "field" in only:
        say("9. Slack limits in the field: 15, 30, 50 at once")
        minute_s = slack_minute or (12.0 if quick else 60.0)
        results.extra["field"] = field_bench.run(minute_s=minute_s, pace=pace, log=say)
    if "socket" in only:
        say("10. Socket Mode faults (each handler side by side) and the drain on SIGTERM")
        # Bolt's default handler needs about a minute to come back: a cap above that.
        results.extra["socket"] = socket_mode.run(cap_s=75.0, pace=pace, log=say)
    if "api" in only:
        say("11. the HTTP API: first text one at a time, 50 streams at once, beside Slack")
        results.extra["api"] = api_bench.run(6 if quick else 12, pace, log=say)
    if "orders" in only:
        say("12. order sources: the time a lookup adds to the first text (side by side)")
        results.extra["orders"] = orders_bench.run(runs or (6 if quick else 12), pace, log=say)
    if "files" in only:
        say("13. 4000×3000 images: downscaled vs as uploaded, side by side")
        results.extra["files"] = files_bench.run(3 if quick else 6, pace, log=say)
    if "facts" in only:
        say("14. facts first and a first sign for everyone, beside today's behaviour")
        results.extra["facts"] = facts_bench.run(runs=6 if quick else 12, pace=pace, log=say)
    results.seconds = time.monotonic() - started
    results.other_cpu_s = max(0.0, scenarios.machine_busy_s() - busy - (_own_cpu_s() - own))
    return results


def _own_cpu_s() -> float:
    """CPU of this process and of the children it has waited for (the `shopmate serve`s)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
