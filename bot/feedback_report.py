"""How people rated ShopMate's answers: the share of thumbs up per day and per channel in
`shopmate stats`. (`shopmate feedback`, the rated answers themselves, is bot/cli/feedback.py.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, TextIO

from bot.tables import write_table


def print_feedback_share(rows: Iterable[dict[str, Any]], out: TextIO) -> None:
    """The share of thumbs up per day and per channel (days of the rated answers)."""
    by_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_channel: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    total = [0, 0]
    for row in rows:
        counts = (int(row["positive"] or 0), int(row["negative"] or 0))
        key = (row["team"] or "-", row["channel"] or "(terminal)")
        for bucket in (by_day[row["day"]], by_channel[key], total):
            bucket[0] += counts[0]
            bucket[1] += counts[1]
    out.write("\nFeedback: share of thumbs up, by the day of the rated answer\n")
    if not total[0] + total[1]:
        out.write("No ratings in this period.\n")
        return
    _share_table(out, ["day"], [([day], c) for day, c in sorted(by_day.items())], total)
    out.write("\nFeedback per channel\n")
    _share_table(
        out,
        ["workspace", "channel"],
        [([team, channel], c) for (team, channel), c in sorted(by_channel.items())],
        total,
    )


def _share_table(
    out: TextIO, keys: list[str], rows: list[tuple[list[str], list[int]]], total: list[int]
) -> None:
    header = [*keys, "ratings", "up", "down", "up share"]
    lines = [[*key, *_share_cells(c)] for key, c in rows]
    lines.append(["total", *([""] * (len(keys) - 1)), *_share_cells(total)])
    write_table(out, header, lines, left=len(keys))


def _share_cells(counts: list[int]) -> list[str]:
    up, down = counts
    rated = up + down
    return [f"{rated:,}", f"{up:,}", f"{down:,}", f"{100 * up / rated:.0f}%" if rated else "-"]
