"""Plain-text tables for the command line (`shopmate stats`, `shopmate feedback`)."""

from __future__ import annotations

from typing import TextIO


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
