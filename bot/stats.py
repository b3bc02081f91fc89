"""`shopmate stats`: turns, tokens and estimated cost per day and per channel, from storage,
and the share of answers rated thumbs up (bot/feedback_report.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from bot.feedback_report import print_feedback_share
from bot.settings import Settings
from bot.tables import write_table
from storage import open_storage


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens; cache reads and writes are priced from the input price."""

    input: float
    output: float

    @property
    def cache_read(self) -> float:
        return self.input * 0.1

    @property
    def cache_write(self) -> float:  # five-minute cache writes
        return self.input * 1.25


# Matched against the stored model id, so dated ids ("claude-haiku-4-5-20251001") match too.
PRICES: dict[str, Price] = {
    "sonnet-4-6": Price(3.0, 15.0),
    "haiku-4-5": Price(1.0, 5.0),
    "opus-4-6": Price(5.0, 25.0),
}
FALLBACK_FAMILY = "sonnet-4-6"

TOKEN_KINDS = (
    ("input", "input_tokens"),
    ("output", "output_tokens"),
    ("cache read", "cache_read_input_tokens"),
    ("cache write", "cache_creation_input_tokens"),
)


def price_of(model: str | None) -> Price | None:
    """The price of a model id, or None if the table does not know it."""
    for family, price in PRICES.items():
        if model and family in model:
            return price
    return None


def cost_of(row: dict[str, Any], price: Price) -> float:
    """Estimated dollars for one usage row (token sums as storage reports them)."""
    return (
        (row["input_tokens"] or 0) * price.input
        + (row["output_tokens"] or 0) * price.output
        + (row["cache_read_input_tokens"] or 0) * price.cache_read
        + (row["cache_creation_input_tokens"] or 0) * price.cache_write
    ) / 1_000_000


@dataclass
class Totals:
    turns: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost: float = 0.0

    def add(self, row: dict[str, Any], cost: float) -> None:
        self.turns += row["turns"] or 0
        self.failed += row["failed"] or 0
        for _, column in TOKEN_KINDS:
            setattr(self, column, getattr(self, column) + (row[column] or 0))
        self.cost += cost


def summarise(rows: Iterable[dict[str, Any]]) -> tuple[dict, dict, Totals, set[str]]:
    """Per-day and per-(workspace, channel) totals, the grand total, and unpriced model ids."""
    by_day: dict[str, Totals] = defaultdict(Totals)
    by_channel: dict[tuple[str, str], Totals] = defaultdict(Totals)
    total = Totals()
    unknown: set[str] = set()
    for row in rows:
        price = price_of(row["model"])
        if price is None:
            unknown.add(row["model"] or "(none recorded)")
            price = PRICES[FALLBACK_FAMILY]
        cost = cost_of(row, price)
        by_day[row["day"]].add(row, cost)
        by_channel[(row["team"] or "-", row["channel"] or "(terminal)")].add(row, cost)
        total.add(row, cost)
    return dict(by_day), dict(by_channel), total, unknown


def print_stats(settings: Settings, *, days: int, out: TextIO) -> int:
    """Print usage for the last `days` days (today included), per day and per channel."""
    if days < 1:
        raise ValueError("days must be at least 1")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=days - 1)
    if settings.database_url is None and not settings.db_path.exists():
        out.write(f"No ShopMate database at {settings.db_path} yet: nothing to report.\n")
        return 0
    with open_storage(settings.storage_target) as storage:
        rows = storage.conversations.usage_report(since, by_model=True)
        ratings = storage.feedback.share_report(since)
    out.write(f"ShopMate usage since {since:%Y-%m-%d} (UTC), {days} day(s), {settings.db_path}\n")
    if not rows:
        out.write("No turns recorded in this period.\n")
        return 0
    by_day, by_channel, total, unknown = summarise(rows)
    out.write("\nPer day\n")
    _table(out, ["day"], [([day], t) for day, t in sorted(by_day.items())], total)
    out.write("\nPer channel\n")
    _table(
        out,
        ["workspace", "channel"],
        [([team, channel], t) for (team, channel), t in sorted(by_channel.items())],
        total,
    )
    out.write(
        "\nCost is an estimate from list prices per million tokens (input/output): "
        + ", ".join(f"{family} ${p.input:g}/${p.output:g}" for family, p in PRICES.items())
        + "; cache reads 0.1x and cache writes 1.25x the input price.\n"
    )
    if unknown:
        out.write(
            f"Note: priced as {FALLBACK_FAMILY}, model id(s) not in the price table: "
            + ", ".join(sorted(unknown))
            + "\n"
        )
    print_feedback_share(ratings, out)
    return 0


def _table(out: TextIO, keys: list[str], rows: list[tuple[list[str], Totals]], total: Totals):
    header = [*keys, "turns", "failed", *(kind for kind, _ in TOKEN_KINDS), "cost (USD)"]
    lines = [_cells(key, t) for key, t in rows]
    lines.append(_cells(["total", *([""] * (len(keys) - 1))], total))
    write_table(out, header, lines, left=len(keys))


def _cells(key: list[str], t: Totals) -> list[str]:
    counts = [t.turns, t.failed, *(getattr(t, column) for _, column in TOKEN_KINDS)]
    return [*key, *(f"{n:,}" for n in counts), f"${t.cost:,.4f}"]
