"""The one-line fact of an order lookup, built from the tool's own result, whatever its source."""

from __future__ import annotations

from bot.facts import order_fact
from bot.tools import ToolRegistry, get_order_tool


class Orders:
    def __init__(self, rows: dict[str, dict]) -> None:
        self.rows = rows

    def get(self, order_id: str) -> dict | None:
        return self.rows.get(order_id)


def test_a_shipped_order_reads_as_id_status_carrier_tracking_and_due_date():
    result = {
        "order_id": "ORD-1001",
        "status": "shipped",
        "item": "Sunset Gradient Tee (M, Orange)",
        "estimated_delivery": "2 Apr",
        "tracking_number": "RM493827651GB",
        "track_url": "https://track.royalmail.com/tracking/RM493827651GB",
    }
    assert order_fact(result) == "ORD-1001 · shipped · Royal Mail RM493827651GB · due 2 Apr"


def test_fields_left_out_by_a_source_shorten_the_line():
    assert order_fact({"order_id": "ORD-1002", "status": "processing"}) == "ORD-1002 · processing"
    assert order_fact({"order_id": "ORD-1002"}) == "ORD-1002"
    assert (
        order_fact({"order_id": "#1042", "tracking_number": "1Z999", "estimated_delivery": None})
        == "#1042 · 1Z999"
    )


def test_a_named_carrier_and_an_iso_date_from_another_source():
    result = {
        "order_id": "#1042",
        "status": "fulfilled",
        "carrier": "DHL Express",
        "tracking_number": "JD014600006101",
        "estimated_delivery": "2026-04-02T17:00:00Z",
    }
    assert order_fact(result) == "#1042 · fulfilled · DHL Express JD014600006101 · due 2 Apr"


def test_no_order_id_no_fact_and_odd_values_are_ignored():
    assert order_fact({"error": "Order ORD-9 not found."}) == ""
    assert order_fact({"order_id": "ORD-1", "status": ["x"], "carrier": {"a": 1}}) == "ORD-1"
    assert order_fact({"order_id": "ORD-1", "track_url": "https://example.com/t/1"}) == "ORD-1"


def test_get_order_carries_its_fact_and_errors_carry_none():
    row = {"order_id": "ORD-1003", "status": "delivered", "item": "Tee", "eta": "1 Apr"}
    tools = ToolRegistry([get_order_tool(Orders({"ORD-1003": row}))])
    found = tools.run("get_order", {"order_id": "ord-1003"})
    assert (found.summary, found.fact) == ("delivered", "ORD-1003 · delivered · due 1 Apr")
    missing = tools.run("get_order", {"order_id": "ORD-9999"})
    assert missing.is_error and missing.fact == ""


def test_a_last_copy_says_how_old_it_is():
    result = {"order_id": "#1001", "status": "shipped", "as_of": "10:42 UTC"}
    assert order_fact(result) == "#1001 · shipped · as of 10:42 UTC"
