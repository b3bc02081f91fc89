"""The order source's failures in `shopmate stats`: how often it could not answer, and what
people got instead (the last copy, or "the order system is unavailable")."""

from __future__ import annotations

from typing import Any, TextIO

from bot.tables import write_table

_SERVED = {"copy": "last copy", "none": "no answer"}


def print_source_failures(rows: list[dict[str, Any]], out: TextIO) -> None:
    """A small table per (source, kind, served); nothing at all when the source never failed."""
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
