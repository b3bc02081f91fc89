"""Plain-text tables for the command line (`shopmate stats`, `shopmate feedback`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TextIO, TypeVar

T = TypeVar("T")


def write_table(out: TextIO, header: list[str], lines: list[list[str]], *, left: int) -> None:
    """Columns as wide as their widest cell; the first `left` (the keys) aligned left, the
    figures right, so numbers line up by their last digit."""
    rows = [header, *lines]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        out.write("  ".join(cells).rstrip() + "\n")


def write_totals_table(
    out: TextIO,
    keys: list[str],
    columns: list[str],
    rows: list[tuple[list[str], T]],
    total: T,
    cells: Callable[[T], list[str]],
) -> None:
    """One line per key (its figures as `cells` writes them) and a last line of totals."""
    lines = [[*key, *cells(values)] for key, values in rows]
    lines.append(["total", *([""] * (len(keys) - 1)), *cells(total)])
    write_table(out, [*keys, *columns], lines, left=len(keys))


def write_by_day_and_channel(
    out: TextIO,
    channel_title: str,
    by_day: Mapping[str, T],
    by_channel: Mapping[tuple[str, str], T],
    total: T,
    columns: list[str],
    cells: Callable[[T], list[str]],
) -> None:
    """The same figures twice: per day, then (under `channel_title`) per workspace and channel.

    The caller writes the first title, with whatever it must say when there is nothing."""
    days = [([day], values) for day, values in sorted(by_day.items())]
    write_totals_table(out, ["day"], columns, days, total, cells)
    out.write(f"\n{channel_title}\n")
    channels = [([team, channel], values) for (team, channel), values in sorted(by_channel.items())]
    write_totals_table(out, ["workspace", "channel"], columns, channels, total, cells)
