"""How a bench module's results become its section of RESULTS.md (bench/report.py's SECTIONS).

Each module keeps its figures under its --only item in `Results.extra`; its section reads them
here, and is empty when that item did not run in this bench.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def item_section(results: Any, item: str, lines: Callable[[Any], list[str]]) -> list[str]:
    """`lines(found)` for the figures `item` left in `results.extra`, or [] if it did not run."""
    found = getattr(results, "extra", {}).get(item)
    return [] if found is None else lines(found)


def markdown_lines(markdown: str) -> list[str]:
    """A Markdown section as lines, ending with one blank line before the next section."""
    return [*markdown.strip("\n").splitlines(), ""]


def table_section(heading: str, table: str) -> list[str]:
    """A heading, then a table rendered with its own title line, which the heading replaces."""
    return [heading, "", *table.splitlines()[1:], ""]
