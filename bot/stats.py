"""Usage figures from storage: turns, tokens and estimated cost (per day, per channel, in
total), and the headline figures of a period (answered, outcomes with the automated resolution
rate from bot/outcomes.py, hand-offs, share of thumbs up, cost).

`figures()` is the one computation of the headline figures (today, the last 7 days): the
overview `shopmate stats` prints (bot/cli/stats_report.py) and the leads' section of Slack's
Home tab both show its result."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import outcomes
from bot.models import ModelInfo, model_info
from storage import Storage

# Prices live in bot/models.py (one table, with its source and date). A model it does not
# know has no price: its cost, and every total it is part of, is shown as unknown rather
# than as a number priced like some other model.
UNKNOWN = "unknown"

TOKEN_KINDS = (
    ("input", "input_tokens"),
    ("output", "output_tokens"),
    ("cache read", "cache_read_input_tokens"),
    ("cache write", "cache_creation_input_tokens"),
)


def price_of(model: str | None) -> ModelInfo | None:
    """The prices of a model id (dated snapshots included), or None if the table lacks it."""
    return model_info(model)


def cost_of(row: dict[str, Any], price: ModelInfo) -> float:
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
    cost: float | None = 0.0  # None: some of it was used by a model without a known price

    def add(self, row: dict[str, Any], cost: float | None) -> None:
        self.turns += row["turns"] or 0
        self.failed += row["failed"] or 0
        for _, column in TOKEN_KINDS:
            setattr(self, column, getattr(self, column) + (row[column] or 0))
        self.cost = None if cost is None or self.cost is None else self.cost + cost


def channel_of(row: Mapping[str, Any]) -> tuple[str, str]:
    """A report row's (workspace, channel); the terminal's turns have neither."""
    return (row["team"] or "-", row["channel"] or "(terminal)")


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
        cost = None if price is None else cost_of(row, price)
        by_day[row["day"]].add(row, cost)
        by_channel[channel_of(row)].add(row, cost)
        total.add(row, cost)
    return dict(by_day), dict(by_channel), total, unknown


# -- outcomes and the headline figures ------------------------------------------------------------

# The periods of the headline figures: (label, days including today).
PERIODS = (("today", 1), ("last 7 days", 7))
FIGURE_NAMES = ("questions answered", "resolution rate", "hand-offs", "up share", "cost (USD)")


@dataclass(frozen=True)
class Figures:
    """The headline figures of one period, as `shopmate stats` and Slack's Home show them."""

    label: str
    since: datetime
    answered: int
    outcomes: dict[str, int]
    up: int
    down: int
    cost: float | None  # None: some usage was by a model the price table does not know

    @property
    def handoffs(self) -> int:
        return self.outcomes.get(outcomes.HANDED_OFF, 0)

    @property
    def resolution_rate(self) -> float | None:
        return outcomes.resolution_rate(self.outcomes)

    def cells(self) -> list[str]:
        """The figures as text, in FIGURE_NAMES order: the same strings everywhere."""
        rated = self.up + self.down
        share = f"{100 * self.up / rated:.0f}% ({self.up} of {rated})" if rated else "-"
        return [
            f"{self.answered:,}",
            outcomes.rate_text(self.outcomes),
            f"{self.handoffs:,}",
            share,
            UNKNOWN if self.cost is None else f"${self.cost:,.4f}",
        ]


def start_of_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def figures(
    storage: Storage, *, label: str, days: int, now: datetime, window: timedelta
) -> Figures:
    """The one computation of a period's headline figures (`days` days, today included)."""
    since = start_of_day(now) - timedelta(days=days - 1)
    counts = outcomes.count_outcomes(
        storage.outcomes.facts(since_utc=since), now=now, window=window
    )
    _, _, total, _ = summarise(storage.conversations.usage_report(since, by_model=True))
    ratings = storage.feedback.share_report(since)
    return Figures(
        label=label,
        since=since,
        answered=storage.outcomes.answered(since),
        outcomes=dict(counts),
        up=sum(int(r["positive"] or 0) for r in ratings),
        down=sum(int(r["negative"] or 0) for r in ratings),
        cost=total.cost,
    )


def headline(storage: Storage, *, now: datetime, window: timedelta) -> list[Figures]:
    """Today's and the last 7 days' figures (what Home shows leads)."""
    return [
        figures(storage, label=label, days=days, now=now, window=window) for label, days in PERIODS
    ]
