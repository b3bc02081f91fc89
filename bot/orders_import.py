"""Reads an orders file (CSV or JSON) into clean order rows, reporting every bad row by line.

The importer only parses and validates; the caller stores `ImportResult.rows` (e.g. with
`storage.orders.upsert_many`) in one transaction. A bad row is reported and skipped, so one typo
does not block a thousand good orders; a problem with the file as a whole raises `ImportFailed`
and nothing should be stored.

Duplicate order ids in one file: the later row wins (a file is read top to bottom, like a log of
updates), and each overridden row is reported in `ImportResult.warnings`, not `errors`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.settings import Settings

logger = logging.getLogger(__name__)

# Longer ids are refused before any pattern runs, so a pasted essay is never echoed back.
MAX_ORDER_ID_LENGTH = 64
ORDER_COLUMNS = ("order_id", "status", "item", "eta", "tracking")
JSON_ALIASES = {"estimated_delivery": "eta", "tracking_number": "tracking"}


class ImportFailed(Exception):
    """The file as a whole cannot be imported; the message is one line for a human."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowError:
    """One rejected (or overridden) row.

    `line` is the physical line in a CSV file (the header is line 1) or the 1-based position
    in a JSON list. `message` names that place itself ("line 4: ..." / "entry 3: ..."), so it
    can be shown as it is.
    """

    line: int
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class ImportResult:
    """Clean rows (keys order_id, status, item, eta, tracking), plus what was wrong."""

    rows: list[dict[str, str | None]]
    errors: list[RowError]
    warnings: list[RowError] = field(default_factory=list)


def normalise_order_id(raw: str) -> str:
    """Order ids are compared trimmed and upper-cased: ' ord-1001 ' is ORD-1001."""
    return raw.strip().upper()


def is_valid_order_id(order_id: str, pattern: str = Settings.order_id_pattern) -> bool:
    """Does an (already normalised) id have the shape of a ThreadCo order id?

    Checked before any lookup so that arbitrary text never reaches the store.
    """
    return len(order_id) <= MAX_ORDER_ID_LENGTH and re.fullmatch(pattern, order_id) is not None


# (line or entry number, the row's {column: value}, or a message saying why it is unusable)
_Entry = tuple[int, dict[str, Any] | str]


class _BadRow(ValueError):
    """A row-level problem; becomes a RowError with the row's place prefixed."""


def parse_orders(path: Path, *, id_pattern: str = Settings.order_id_pattern) -> ImportResult:
    """Parse and validate an orders file; `.csv` and `.json` are understood.

    Raises ImportFailed for a missing or unreadable file, one that is not UTF-8, a CSV whose
    header is not exactly the order columns, invalid JSON, JSON that is not a list, or any
    other extension.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ImportFailed(
            f"{path.name}: unknown file type {suffix or '(none)'!r}; use .csv or .json"
        )
    text = _read_text(path)
    if suffix == ".csv":
        entries = _csv_entries(path, text)
        place = "line"
    else:
        entries = _json_entries(path, text)
        place = "entry"

    kept: dict[str, dict[str, str | None]] = {}
    kept_at: dict[str, int] = {}
    errors: list[RowError] = []
    warnings: list[RowError] = []
    for number, raw in entries:
        try:
            order_id, row = _clean(raw, id_pattern)
        except _BadRow as exc:
            errors.append(RowError(number, f"{place} {number}: {exc}"))
            continue
        if order_id in kept:
            warnings.append(
                RowError(
                    kept_at[order_id],
                    f"{place} {kept_at[order_id]}: {order_id} appears again at {place} "
                    f"{number}; the later one is kept",
                )
            )
        kept[order_id] = row
        kept_at[order_id] = number
    logger.info(
        "parsed %s: %d orders, %d bad rows, %d duplicates",
        path,
        len(kept),
        len(errors),
        len(warnings),
    )
    return ImportResult(rows=list(kept.values()), errors=errors, warnings=warnings)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFailed(f"{path}: no such file") from None
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed(
            f"{path.name}: not UTF-8 (bad byte at offset {exc.start}); re-save it as UTF-8"
        ) from None


def _csv_entries(path: Path, text: str) -> list[_Entry]:
    """(physical line where the record starts, {column: value}) for every non-blank record."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFailed(
                f"{path.name}: empty file; expected the header {','.join(ORDER_COLUMNS)}"
            )
        columns = [name.strip().lower() for name in header]
        _check_header(path, columns)
        entries = []
        last_line = reader.line_num
        for record in reader:
            start, last_line = last_line + 1, reader.line_num
            if not any(value.strip() for value in record):
                continue
            if len(record) != len(columns):
                entries.append((start, f"expected {len(columns)} fields, found {len(record)}"))
                continue
            entries.append((start, dict(zip(columns, record, strict=True))))
    except csv.Error as exc:
        raise ImportFailed(
            f"{path.name}: unreadable CSV at line {reader.line_num}: {exc}"
        ) from None
    return entries


def _check_header(path: Path, columns: list[str]) -> None:
    expected = set(ORDER_COLUMNS)
    missing = [name for name in ORDER_COLUMNS if name not in columns]
    unexpected = [name for name in columns if name not in expected]
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if missing or unexpected or repeated:
        problems = []
        if missing:
            problems.append("missing " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected " + ", ".join(repr(name) for name in unexpected))
        if repeated:
            problems.append("repeated " + ", ".join(repeated))
        raise ImportFailed(
            f"{path.name}: the header must be exactly {','.join(ORDER_COLUMNS)} "
            f"(any order); {'; '.join(problems)}"
        )


def _json_entries(path: Path, text: str) -> list[_Entry]:
    """(1-based position, {column: value}) for every entry, with aliases resolved."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(
            f"{path.name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, list):
        raise ImportFailed(
            f"{path.name}: expected a JSON list of orders, found a {type(data).__name__}"
        )
    entries = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            entries.append((number, f"expected an object, found a {type(item).__name__}"))
            continue
        entry: dict[str, Any] = {}
        conflicts = []
        for key, value in item.items():
            column = JSON_ALIASES.get(key, key)
            if column in entry and entry[column] != value:
                conflicts.append(column)
            entry[column] = value
        if conflicts:
            entries.append((number, f"{', '.join(conflicts)} given twice (by alias), differently"))
        else:
            entries.append((number, entry))
    return entries


def _clean(raw: dict[str, Any] | str, id_pattern: str) -> tuple[str, dict[str, str | None]]:
    """(order id, the validated, normalised row); raises _BadRow saying what is wrong."""
    if isinstance(raw, str):
        raise _BadRow(raw)
    raw_id = _text(raw, "order_id")
    if raw_id is None:
        raise _BadRow("order_id is missing")
    order_id = normalise_order_id(raw_id)
    if not is_valid_order_id(order_id, id_pattern):
        raise _BadRow(f"order id {order_id[:MAX_ORDER_ID_LENGTH]!r} does not match {id_pattern}")
    status = _text(raw, "status")
    if status is None:
        raise _BadRow(f"{order_id}: status is missing")
    item = _text(raw, "item")
    if item is None:
        raise _BadRow(f"{order_id}: item is missing")
    tracking = _text(raw, "tracking")
    return order_id, {
        "order_id": order_id,
        "status": status.lower(),
        "item": item,
        "eta": _text(raw, "eta"),
        "tracking": tracking.upper() if tracking is not None else None,
    }


def _text(raw: dict[str, Any], column: str) -> str | None:
    """The column's value trimmed, or None when absent or blank; non-text is a bad row."""
    value = raw.get(column)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadRow(f"{column} must be text, found {json.dumps(value)}")
    return value.strip() or None
