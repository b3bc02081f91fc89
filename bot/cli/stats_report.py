"""What `shopmate stats` prints: turns, tokens and estimated cost per day and per channel, each
conversation's outcome with the automated resolution rate, the overview Slack's Home shows, the
share of answers rated thumbs up, and the order source's failures.

The figures come from bot/stats.py (the one computation, which Home uses too); this module
only lays them out as tables.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from bot import outcomes
from bot.cli.tables import write_by_day_and_channel, write_table
from bot.models import CHECKED, MODELS, ModelInfo
from bot.settings import Settings
from bot.stats import (
    FIGURE_NAMES,
    TOKEN_KINDS,
    UNKNOWN,
    Figures,
    Totals,
    channel_of,
    headline,
    price_of,
    summarise,
)
from storage import open_storage


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
    write_by_day_and_channel(out, "Per channel", by_day, by_channel, total, USAGE, _usage_cells)
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


# -- usage ----------------------------------------------------------------------------------------

USAGE = ["turns", "failed", *(kind for kind, _ in TOKEN_KINDS), "cost (USD)"]


def _usage_cells(t: Totals) -> list[str]:
    counts = [t.turns, t.failed, *(getattr(t, column) for _, column in TOKEN_KINDS)]
    cost = UNKNOWN if t.cost is None else f"${t.cost:,.4f}"
    return [*(f"{n:,}" for n in counts), cost]


def _prices(p: ModelInfo) -> str:
    return f"{p.id} ${p.input:g}/${p.output:g}/${p.cache_read:g}/${p.cache_write:g}"


# -- outcomes and the overview --------------------------------------------------------------------

OUTCOME_COLUMNS = [
    "conversations",
    *(o.replace("_", " ") for o in outcomes.OUTCOMES),
    "resolution rate",
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
        by_channel[channel_of(row)][outcome] += 1
        total[outcome] += 1
    hours = window.total_seconds() / 3600
    out.write(
        "\nOutcomes per conversation, by the day it started (resolved: no hand-off and no "
        f"thumbs down {hours:g} h after the last answer)\n"
    )
    if not total:
        out.write("No conversations in this period.\n")
        return
    write_by_day_and_channel(
        out, "Outcomes per channel", by_day, by_channel, total, OUTCOME_COLUMNS, _outcome_cells
    )


def _outcome_cells(counts: Counter[str]) -> list[str]:
    numbers = [sum(counts.values()), *(counts.get(o, 0) for o in outcomes.OUTCOMES)]
    return [*(f"{n:,}" for n in numbers), outcomes.rate_text(counts)]


# -- ratings --------------------------------------------------------------------------------------

SHARE_COLUMNS = ["ratings", "up", "down", "up share"]


def print_feedback_share(rows: Iterable[dict[str, Any]], out: TextIO) -> None:
    """The share of thumbs up per day and per channel (days of the rated answers).

    (`shopmate feedback`, the rated answers themselves, is bot/cli/feedback.py.)"""
    by_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_channel: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    total = [0, 0]
    for row in rows:
        counts = (int(row["positive"] or 0), int(row["negative"] or 0))
        for bucket in (by_day[row["day"]], by_channel[channel_of(row)], total):
            bucket[0] += counts[0]
            bucket[1] += counts[1]
    out.write("\nFeedback: share of thumbs up, by the day of the rated answer\n")
    if not total[0] + total[1]:
        out.write("No ratings in this period.\n")
        return
    write_by_day_and_channel(
        out, "Feedback per channel", by_day, by_channel, total, SHARE_COLUMNS, _share_cells
    )


def _share_cells(counts: list[int]) -> list[str]:
    up, down = counts
    rated = up + down
    return [f"{rated:,}", f"{up:,}", f"{down:,}", f"{100 * up / rated:.0f}%" if rated else "-"]


# -- the order source -----------------------------------------------------------------------------

_SERVED = {"copy": "last copy", "none": "no answer"}


def print_source_failures(rows: list[dict[str, Any]], out: TextIO) -> None:
    """The order source's failures: how often it could not answer, and what people got instead
    (the last copy, or "the order system is unavailable"). A small table per (source, kind,
    served); nothing at all when the source never failed."""
    if not rows:
        return
    total = sum(row["failures"] for row in rows)
    out.write(f"\nOrder source failures ({total:,})\n")
    write_table(
        out,
        ["source", "failure", "answered with", "count", "last (UTC)"],
        [
            [
                row["source"],
                row["kind"],
                _SERVED.get(row["served"], row["served"]),
                f"{row['failures']:,}",
                str(row["last_utc"])[:16].replace("T", " "),
            ]
            for row in rows
        ],
        left=3,
    )
