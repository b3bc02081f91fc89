"""Benchmark `--only orders`: the time an order lookup adds to the first text, by source.

Three `shopmate serve`s run side by side in one run, each with its own fake Slack and fake
Claude at the same pace: one reading the orders table, one reading the fake Shopify with no
cache (every lookup asks the shop), one reading it through the cache (each measured question
comes after a warm-up one about the same order, within SHOPMATE_ORDER_CACHE_S). Questions go
round-robin, one at a time, so the three share the machine alike. The fake Shopify answers
after `shop_latency_s` (a modelled network round trip to Shopify; it answers on loopback in a
few milliseconds otherwise). First text = event POST -> first text visible in the fake Slack.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from bench.harness import DEFAULT_PACE, TRACKING, Stack
from bench.sections import item_section, table_section
from bench.stats import Summary
from bot.orders.shopify import ShopifySource
from fakes.claude import Pace
from fakes.shopify import FakeShopify

# The sample table's and the fake shop's orders (each answers the same ids, its own way),
# and a piece of each right answer (a refusal or a limit notice is not an answer).
ORDERS = ("ORD-1001", "ORD-1003")
EXPECT = {
    "table": {"ORD-1001": TRACKING["ORD-1001"], "ORD-1003": TRACKING["ORD-1003"]},
    "shop": {"ORD-1001": "15501234567890", "ORD-1003": "Botanical Long Sleeve"},
}
# One bench user asks dozens of questions a minute: far above the default per-user limit.
UNLIMITED = {
    "SHOPMATE_USER_TURNS_PER_MINUTE": "100000",
    "SHOPMATE_TEAM_TURNS_PER_MINUTE": "100000",
}


@dataclass
class OrdersBenchResult:
    pace: tuple[float, float | None]
    shop_latency_s: float
    first_text: dict[str, Summary]  # ms per variant: table, shopify, cached
    raw_lookup: Summary  # ms, one ShopifySource.lookup against the fake, in-process
    complete: dict[str, int]
    runs: int


def _stack(pace: Pace, env: dict[str, str]) -> Stack:
    return Stack(pace=pace, env={"SHOPMATE_LOG_LEVEL": "WARNING", **UNLIMITED, **env})


def run(
    runs: int, pace: Pace = DEFAULT_PACE, *, shop_latency_s: float = 0.15, log: Any = print
) -> OrdersBenchResult:
    """`runs` questions per variant, round-robin; returns first-text summaries per variant."""
    with ExitStack() as stack:
        shop = stack.enter_context(FakeShopify())
        shopify_env = {
            "SHOPMATE_ORDER_SOURCE": "shopify",
            "SHOPIFY_API_URL": shop.url,
            "SHOPIFY_ADMIN_TOKEN": shop.token,
        }
        stacks = {
            "table": stack.enter_context(_stack(pace, {})),
            "shopify": stack.enter_context(
                _stack(pace, {**shopify_env, "SHOPMATE_ORDER_CACHE_S": "0"})
            ),
            "cached": stack.enter_context(
                _stack(pace, {**shopify_env, "SHOPMATE_ORDER_CACHE_S": "600"})
            ),
        }
        raw = [_raw_lookup(shop) for _ in range(20)]
        shop.delay = shop_latency_s
        times: dict[str, list[float]] = {name: [] for name in stacks}
        complete = dict.fromkeys(stacks, 0)
        for i in range(runs + 1):  # the first round warms each bot up and is not counted
            order = ORDERS[i % len(ORDERS)]
            for name, bot in stacks.items():
                if name == "cached":  # the thread's first question fills the cache
                    # Another channel: Slack paces posts per channel (about one a second).
                    warm = bot.ask(f"{order}? (warm {i})", channel="C0WARM", user="U0BENCH")
                    bot.wait_done([warm])
                asked = bot.ask(
                    f"Where is {order}? (run {i})",
                    channel="C0ORDERS",
                    user="U0BENCH",
                    expect=EXPECT["table" if name == "table" else "shop"][order],
                )
                if not bot.wait_done([asked]) or i == 0:
                    continue
                first = asked.first_text_visible()
                if first is not None and asked.complete():
                    times[name].append(first - asked.posted_at)
                    complete[name] += 1
        log(f"  orders: {complete} answers; shop asked {shop.order_queries} times")
    return OrdersBenchResult(
        pace=(pace.first_token_s, pace.tokens_per_s),
        shop_latency_s=shop_latency_s,
        first_text={k: Summary.of(v).scaled(1000) for k, v in times.items()},
        raw_lookup=Summary.of(raw).scaled(1000),
        complete=complete,
        runs=runs,
    )


def _raw_lookup(shop: FakeShopify) -> float:
    source = ShopifySource(shop="", token=shop.token, api_url=shop.url, timeout=5.0)
    try:
        started = time.monotonic()
        source.lookup("ORD-1002")
        return time.monotonic() - started
    finally:
        source.close()


def table(result: OrdersBenchResult) -> str:
    """First text per source, and each as a ratio of the table's (same run, same pace)."""
    base = result.first_text["table"].median
    names = {
        "table": "table (SQLite)",
        "shopify": f"Shopify, not cached (+{result.shop_latency_s * 1000:.0f} ms modelled RTT)",
        "cached": "Shopify, cached",
    }
    first, per_s = result.pace
    lines = [
        f"Order lookups and the first text (fake Claude: first token {first:g} s, "
        f"{per_s or 'unpaced'} tokens/s; {result.runs} runs each)",
        "| source | first text, median (p95) | vs table | added vs table |",
        "|---|---|---|---|",
    ]
    for key, label in names.items():
        s = result.first_text[key]
        lines.append(
            f"| {label} | {s.median:.0f} ms ({s.p95:.0f}) | {s.median / base:.2f}x "
            f"| {s.median - base:+.0f} ms |"
        )
    raw = result.raw_lookup
    lines.append(
        f"\nOne Shopify lookup on loopback, in-process (no modelled RTT): {raw.median:.1f} ms "
        f"median (p95 {raw.p95:.1f})."
    )
    return "\n".join(lines)


def section(results: Any) -> list[str]:
    """The RESULTS.md section (bench/report.py's SECTIONS), or [] when this item did not run."""
    heading = "## 12. Order sources: the time a lookup adds"
    return item_section(results, "orders", lambda found: table_section(heading, table(found)))
