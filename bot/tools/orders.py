"""The `get_order` tool: looks an order up in the shop's order system, never guessing.

The tool asks an `OrderService` (bot/orders/) and never knows which source answered: the
table, Shopify or the shop's own endpoint. It turns the answer into the fields Claude sees,
says how old a copy is when the source was down, and says the order system is unavailable
when there is nothing to show.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from bot.facts import order_fact
from bot.orders.cache import Lookup, OrderService, OrderUnavailable
from bot.orders.carriers import tracking_url
from bot.orders.source import PERSONAL_FIELDS
from bot.orders.table import TableSource
from bot.orders_import import (
    MAX_ORDER_ID_LENGTH,
    is_valid_order_id,
    normalise_order_id,
)
from bot.settings import Settings
from bot.tools.registry import Tool, ToolResult


class OrderLookup(Protocol):
    """What the order tools read: bot.orders.OrderService (a plain `get` store also works)."""

    def get(self, order_id: str) -> dict[str, Any] | None: ...


def as_service(orders: Any) -> OrderService:
    """An OrderService over `orders`; a bare store with `get` (the table) is wrapped as one."""
    if orders is None or hasattr(orders, "lookup"):
        return orders
    return OrderService(TableSource(orders))


def unavailable_result(order_id: str) -> ToolResult:
    return ToolResult(
        {
            "error": f"The order system is unavailable right now, so {order_id} cannot be "
            "checked. Tell the customer to try again in a few minutes; do not guess its status."
        },
        is_error=True,
        summary="order system unavailable",
    )


def get_order_tool(orders: OrderLookup, *, id_pattern: str = Settings.order_id_pattern) -> Tool:
    """Build the get_order tool over an order service.

    The id is checked against `id_pattern` before the store is asked, so text stuffed into
    the id by a user (or by the model) never reaches the query, and Claude gets an error
    result it can explain instead.
    """
    service = as_service(orders)

    def handle(tool_input: dict[str, Any]) -> ToolResult:
        raw = tool_input["order_id"]
        order_id = normalise_order_id(raw)
        shown = order_id[:MAX_ORDER_ID_LENGTH]
        if not is_valid_order_id(order_id, id_pattern):
            return ToolResult(
                {
                    "error": f"{shown!r} is not a valid order id. ThreadCo order ids look like "
                    "ORD-1001. Ask the customer to check their confirmation email."
                },
                is_error=True,
                summary="invalid id",
            )
        try:
            found: Lookup = service.lookup(order_id)
        except OrderUnavailable:
            return unavailable_result(order_id)
        order = found.order
        if order is None:
            return ToolResult(
                {
                    "error": f"Order {order_id} not found. Ask the customer to double-check "
                    "their confirmation email."
                },
                is_error=True,
                summary="not found",
            )
        summary = str(order["status"]) + (" (last copy)" if found.as_of else "")
        result = order_result(order, as_of=found.as_of)
        return ToolResult(result, summary=summary, fact=order_fact(result))

    return Tool(
        name="get_order",
        step="Looking up {order_id}",
        description=(
            "Look up a ThreadCo order by order ID. Returns status, items, estimated delivery "
            "and each parcel's carrier and tracking link. Call it once per order mentioned; "
            "several calls may run at once."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "order_id": {
                    "type": "string",
                    "description": "The order ID, e.g. ORD-1001",
                    "maxLength": 200,
                }
            },
            "required": ["order_id"],
        },
        handler=handle,
    )


# Passed to Claude as they are when present (already reduced to what an answer needs).
_DETAIL_FIELDS = ("payment", "cancelled", "refunds")


def order_result(order: dict[str, Any], *, as_of: datetime | None = None) -> dict[str, Any]:
    """The fields Claude sees for an order: the seed's, plus what a richer source knows."""
    result: dict[str, Any] = {
        "order_id": order["order_id"],
        "status": order["status"],
        "item": order.get("item") or "(no items listed)",
    }
    if order.get("eta"):
        result["estimated_delivery"] = order["eta"]
    if order.get("tracking"):
        result["tracking_number"] = order["tracking"]
        if order.get("carrier"):
            result["carrier"] = order["carrier"]
        url = tracking_url(order.get("carrier"), order["tracking"], order.get("track_url"))
        if url:
            result["track_url"] = url
    items = order.get("items") or []
    if len(items) > 1 or any(len(i) > 2 for i in items):
        result["items"] = items
    if len(order.get("shipments") or []) > 1:
        result["shipments"] = order["shipments"]
    for key in (*_DETAIL_FIELDS, *PERSONAL_FIELDS):
        if order.get(key):
            result[key] = order[key]
    if order.get("note"):
        # What a person decided about it (an approved exchange), so Claude never contradicts it.
        result["note"] = order["note"]
    if as_of is not None:
        when = _clock_time(as_of)
        result["as_of"] = when
        result["freshness"] = (
            f"The order system is not answering; this is the last copy, from {when}. "
            "Tell the customer how old it is."
        )
    return result


def _clock_time(moment: datetime) -> str:
    """'10:42 UTC' today, '4 Dec 10:42 UTC' on another day."""
    moment = moment.astimezone(UTC)
    if moment.date() == datetime.now(UTC).date():
        return f"{moment:%H:%M} UTC"
    return f"{moment.day} {moment:%b %H:%M} UTC"
