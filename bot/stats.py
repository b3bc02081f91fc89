"""`shopmate stats`: turns, tokens and estimated cost per day and per channel, from storage,
the share of answers rated thumbs up (bot/feedback_report.py), and each conversation's outcome
with the automated resolution rate (bot/outcomes.py).

`figures()` is the one computation of the headline figures (today, the last 7 days): the
overview printed here and the leads' section of Slack's Home tab both show its result."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from bot import outcomes
from bot.feedback_report import print_feedback_share
from bot.models import CHECKED, MODELS, ModelInfo, model_info
from bot.orders.report import print_source_failures
from bot.settings import Settings
from bot.tables import write_table
from storage import Storage, open_storage

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
    now = datetime.now(UTC)
    window = timedelta(hours=settings.resolution_window_hours)
    with open_storage(settings.storage_target) as storage:
        rows = storage.conversations.usage_report(since, by_model=True)
        ratings = storage.feedback.share_report(since)
        facts = storage.outcomes.facts(since_utc=since)
        overview = headline(storage, now=now, window=window)
        source_failures = storage.order_cache.failure_report(since)
    out.write(f"ShopMate usage since {since:%Y-%m-%d} (UTC), {days} day(s), {settings.db_path}\n")
    print_source_failures(source_failures, out)
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
    used = sorted({info.id for row in rows if (info := price_of(row["model"])) is not None})
    out.write(
        f"\nCost is an estimate from list prices per million tokens (bot/models.py, checked "
        f"{CHECKED}), input/output/cache read/cache write: "
        + "; ".join(_prices(MODELS[model]) for model in used)
        + ".\n"
    )
    if unknown:
        out.write(
            f"Note: cost {UNKNOWN} for model id(s) not in the price table: "
            + ", ".join(sorted(unknown))
            + "\n"
        )
    print_outcomes(facts, now=now, window=window, out=out)
    print_overview(overview, out)
    print_feedback_share(ratings, out)
    return 0


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


def print_overview(overview: list[Figures], out: TextIO) -> None:
    out.write("\nOverview (as on ShopMate's Home tab in Slack)\n")
    write_table(out, ["period", *FIGURE_NAMES], [[f.label, *f.cells()] for f in overview], left=1)


def print_outcomes(
    facts: list[dict[str, Any]], *, now: datetime, window: timedelta, out: TextIO
) -> None:
    """Each conversation's outcome counted per day it started and per channel, with the rate."""
    by_day: dict[str, Counter[str]] = defaultdict(Counter)
    by_channel: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    for row in facts:
        outcome = outcomes.outcome_of(row, now=now, window=window)
        by_day[row["created_utc"][:10]][outcome] += 1
        by_channel[(row["team"] or "-", row["channel"] or "(terminal)")][outcome] += 1
        total[outcome] += 1
    hours = window.total_seconds() / 3600
    out.write(
        "\nOutcomes per conversation, by the day it started (resolved: no hand-off and no "
        f"thumbs down {hours:g} h after the last answer)\n"
    )
    if not total:
        out.write("No conversations in this period.\n")
        return
    _outcome_table(out, ["day"], [([d], c) for d, c in sorted(by_day.items())], total)
    out.write("\nOutcomes per channel\n")
    _outcome_table(
        out,
        ["workspace", "channel"],
        [([team, channel], c) for (team, channel), c in sorted(by_channel.items())],
        total,
    )


def _outcome_table(
    out: TextIO, keys: list[str], rows: list[tuple[list[str], Counter[str]]], total: Counter[str]
) -> None:
    header = [*keys, "conversations", *(o.replace("_", " ") for o in outcomes.OUTCOMES)]
    header.append("resolution rate")
    lines = [_outcome_cells(key, counts) for key, counts in rows]
    lines.append(_outcome_cells(["total", *([""] * (len(keys) - 1))], total))
    write_table(out, header, lines, left=len(keys))


def _outcome_cells(key: list[str], counts: Counter[str]) -> list[str]:
    numbers = [sum(counts.values()), *(counts.get(o, 0) for o in outcomes.OUTCOMES)]
    return [*key, *(f"{n:,}" for n in numbers), outcomes.rate_text(counts)]


def _table(out: TextIO, keys: list[str], rows: list[tuple[list[str], Totals]], total: Totals):
    header = [*keys, "turns", "failed", *(kind for kind, _ in TOKEN_KINDS), "cost (USD)"]
    lines = [_cells(key, t) for key, t in rows]
    lines.append(_cells(["total", *([""] * (len(keys) - 1))], total))
    write_table(out, header, lines, left=len(keys))


def _cells(key: list[str], t: Totals) -> list[str]:
    counts = [t.turns, t.failed, *(getattr(t, column) for _, column in TOKEN_KINDS)]
    cost = UNKNOWN if t.cost is None else f"${t.cost:,.4f}"
    return [*key, *(f"{n:,}" for n in counts), cost]


def _prices(p: ModelInfo) -> str:
    return f"{p.id} ${p.input:g}/${p.output:g}/${p.cache_read:g}/${p.cache_write:g}"
