"""parse_orders: clean rows from CSV or JSON, bad rows reported by line, bad files refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.orders_import import (
    ImportFailed,
    ImportResult,
    RowError,
    is_valid_order_id,
    normalise_order_id,
    parse_orders,
)

SAMPLE = Path(__file__).resolve().parents[1] / "bot" / "data" / "sample_orders.csv"

ORD_1001 = {
    "order_id": "ORD-1001",
    "status": "shipped",
    "item": "Sunset Gradient Tee (M, Orange)",
    "eta": "2 Apr",
    "tracking": "RM493827651GB",
}


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_the_sample_csv_parses_cleanly() -> None:
    result = parse_orders(SAMPLE)

    assert result.errors == []
    assert result.rows[0] == ORD_1001
    assert [row["order_id"] for row in result.rows] == ["ORD-1001", "ORD-1002", "ORD-1003"]
    assert result.rows[1]["tracking"] is None
    assert result.rows[2]["eta"] is None


def test_csv_columns_may_come_in_any_order_with_whitespace_and_values_are_normalised(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        " tracking , item,order_id ,status, eta\n"
        ' rm493827651gb ,"Sunset Gradient Tee (M, Orange)", ord-1001 , SHIPPED ,2 Apr \n'
        ",  Plain Tee  ,ORD-1002,processing,\n",
    )

    result = parse_orders(path)

    assert result == ImportResult(
        rows=[
            {
                "order_id": "ORD-1001",
                "status": "shipped",
                "item": "Sunset Gradient Tee (M, Orange)",
                "eta": "2 Apr",
                "tracking": "RM493827651GB",
            },
            {
                "order_id": "ORD-1002",
                "status": "processing",
                "item": "Plain Tee",
                "eta": None,
                "tracking": None,
            },
        ],
        errors=[],
    )


def test_a_csv_starting_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", SAMPLE.read_text(encoding="utf-8").encode("utf-8-sig"))

    assert len(parse_orders(path).rows) == 3


def test_json_list_parses_with_aliases_for_eta_and_tracking(tmp_path: Path) -> None:
    entries = [
        {
            "order_id": "ord-1001",
            "status": "Shipped",
            "item": "Sunset Gradient Tee (M, Orange)",
            "estimated_delivery": "2 Apr",
            "tracking_number": "rm493827651gb",
        },
        {"order_id": "ORD-1002", "status": "processing", "item": "Plain Tee", "eta": None},
    ]
    path = write(tmp_path, "orders.json", json.dumps(entries))

    result = parse_orders(path)

    assert result.errors == []
    assert result.rows == [
        ORD_1001,
        {
            "order_id": "ORD-1002",
            "status": "processing",
            "item": "Plain Tee",
            "eta": None,
            "tracking": None,
        },
    ]


def test_bad_csv_rows_are_reported_with_their_physical_line_and_good_rows_kept(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        "order_id,status,item,eta,tracking\n"  # line 1
        "ORD-1001,shipped,Tee,2 Apr,RM1\n"  # line 2
        "BAD-1,shipped,Tee,,\n"  # line 3: id does not match
        '"ORD-1002",shipped,"Tee with a\n'  # line 4: a quoted field spanning two lines
        'two-line name",,\n'  # line 5
        "\n"  # line 6: blank, skipped
        "ORD-1003,,Tee,,\n"  # line 7: no status
        "ORD-1004,shipped,,,\n"  # line 8: no item
        "ORD-1005,shipped\n"  # line 9: too few fields
        "ORD-1006,delivered,Tee,,\n",  # line 10
    )

    result = parse_orders(path)

    assert [row["order_id"] for row in result.rows] == ["ORD-1001", "ORD-1002", "ORD-1006"]
    assert result.rows[1]["item"] == "Tee with a\ntwo-line name"
    assert [(e.line, e.message) for e in result.errors] == [
        (3, r"line 3: order id 'BAD-1' does not match ORD-\d{4,}"),
        (7, "line 7: ORD-1003: status is missing"),
        (8, "line 8: ORD-1004: item is missing"),
        (9, "line 9: expected 5 fields, found 2"),
    ]


def test_bad_json_entries_are_reported_by_position_and_good_ones_kept(tmp_path: Path) -> None:
    entries = [
        {"order_id": "ORD-1001", "status": "shipped", "item": "Tee"},
        "ORD-1002",
        {"status": "shipped", "item": "Tee"},
        {"order_id": "ORD-1003", "status": 3, "item": "Tee"},
        {
            "order_id": "ORD-1004",
            "status": "x",
            "item": "Tee",
            "eta": "1 May",
            "estimated_delivery": "2 May",
        },
        {"order_id": "ORD-1005", "status": "shipped", "item": "Tee"},
    ]
    path = write(tmp_path, "orders.json", json.dumps(entries))

    result = parse_orders(path)

    assert [row["order_id"] for row in result.rows] == ["ORD-1001", "ORD-1005"]
    assert result.errors == [
        RowError(2, "entry 2: expected an object, found a str"),
        RowError(3, "entry 3: order_id is missing"),
        RowError(4, "entry 4: status must be text, found 3"),
        RowError(5, "entry 5: eta given twice (by alias), differently"),
    ]


def test_a_custom_id_pattern_decides_which_ids_are_valid(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", "order_id,status,item,eta,tracking\nTC-77,new,Tee,,\n")

    assert parse_orders(path, id_pattern=r"TC-\d+").rows[0]["order_id"] == "TC-77"
    assert parse_orders(path).errors[0].line == 2


def test_a_duplicate_id_keeps_the_later_row_and_warns_about_the_earlier(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        "order_id,status,item,eta,tracking\n"
        "ORD-1001,processing,Tee,,\n"
        "ORD-1002,shipped,Tee,,\n"
        "ord-1001,shipped,Tee,,RM1\n",
    )

    result = parse_orders(path)

    assert result.errors == []
    assert [(row["order_id"], row["status"]) for row in result.rows] == [
        ("ORD-1001", "shipped"),
        ("ORD-1002", "shipped"),
    ]
    assert result.warnings == [
        RowError(2, "line 2: ORD-1001 appears again at line 4; the later one is kept")
    ]


def test_a_missing_file_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="no such file"):
        parse_orders(tmp_path / "nope.csv")


def test_an_unreadable_file_is_fatal(tmp_path: Path) -> None:
    directory = tmp_path / "orders.csv"
    directory.mkdir()

    with pytest.raises(ImportFailed, match="cannot read"):
        parse_orders(directory)


def test_a_file_that_is_not_utf8_is_fatal(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", b"order_id,status,item,eta,tracking\n\xff\n")

    with pytest.raises(ImportFailed, match="not UTF-8"):
        parse_orders(path)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("order_id,status,item,eta", "missing tracking"),
        ("order_id,status,item,eta,tracking,colour", "unexpected 'colour'"),
        ("order_id,status,item,eta,tracking,eta", "repeated eta"),
        ("ORD-1001,shipped,Tee,,", "missing order_id"),
    ],
)
def test_a_csv_without_exactly_the_order_columns_is_fatal(
    tmp_path: Path, header: str, problem: str
) -> None:
    path = write(tmp_path, "orders.csv", header + "\nORD-1001,shipped,Tee,,\n")

    with pytest.raises(ImportFailed, match=problem) as failure:
        parse_orders(path)
    assert "\n" not in str(failure.value)


def test_an_empty_csv_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="empty file"):
        parse_orders(write(tmp_path, "orders.csv", ""))


def test_invalid_json_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="invalid JSON at line 1"):
        parse_orders(write(tmp_path, "orders.json", '[{"order_id": "ORD-1001",]'))


def test_json_that_is_not_a_list_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="expected a JSON list of orders, found a dict"):
        parse_orders(write(tmp_path, "orders.json", '{"order_id": "ORD-1001"}'))


@pytest.mark.parametrize("name", ["orders.xlsx", "orders"])
def test_a_file_that_is_neither_csv_nor_json_is_fatal(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, "order_id,status,item,eta,tracking\n")

    with pytest.raises(ImportFailed, match="unknown file type"):
        parse_orders(path)


def test_normalise_order_id_trims_and_upper_cases() -> None:
    assert normalise_order_id("  ord-1001\n") == "ORD-1001"


@pytest.mark.parametrize(
    ("order_id", "valid"),
    [
        ("ORD-1001", True),
        ("ORD-123456", True),
        ("ORD-123", False),
        ("ord-1001", False),  # validation expects an already normalised id
        ("ORD-1001; drop table orders", False),
        ("ORD-" + "1" * 100, False),  # absurdly long
    ],
)
def test_is_valid_order_id_requires_the_whole_id_to_match(order_id: str, valid: bool) -> None:
    assert is_valid_order_id(order_id, r"ORD-\d{4,}") is valid
