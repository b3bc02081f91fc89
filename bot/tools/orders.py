"""The `get_order` tool: looks an order up in ThreadCo's orders table, never guessing."""

from __future__ import annotations

from typing import Any, Protocol

from bot.facts import order_fact
from bot.orders_import import (
    DEFAULT_ORDER_ID_PATTERN,
    MAX_ORDER_ID_LENGTH,
    is_valid_order_id,
    normalise_order_id,
)
from bot.tools.registry import Tool, ToolResult

ROYAL_MAIL_TRACKING_URL = "https://track.royalmail.com/tracking/{tracking}"


class OrderLookup(Protocol):
    def get(self, order_id: str) -> dict[str, Any] | None: ...


def get_order_tool(orders: OrderLookup, *, id_pattern: str = DEFAULT_ORDER_ID_PATTERN) -> Tool:
    """Build the get_order tool over an order store.

    The id is checked against `id_pattern` before the store is asked, so text stuffed into
    the id by a user (or by the model) never reaches the query, and Claude gets an error
    result it can explain instead.
    """

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
        order = orders.get(order_id)
        if order is None:
            return ToolResult(
                {
                    "error": f"Order {order_id} not found. Ask the customer to double-check "
                    "their confirmation email."
                },
                is_error=True,
                summary="not found",
            )
        result = order_result(order)
        return ToolResult(result, summary=str(order["status"]), fact=order_fact(result))

    return Tool(
        name="get_order",
        step="Looking up {order_id}",
        description=(
            "Look up a ThreadCo order by order ID. Returns status, item, estimated delivery "
            "and Royal Mail tracking. Call it once per order mentioned; several calls may run "
            "at once."
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


def order_result(order: dict[str, Any]) -> dict[str, Any]:
    """The fields Claude sees for an order, as in the seed's tutorial."""
    result: dict[str, Any] = {
        "order_id": order["order_id"],
        "status": order["status"],
        "item": order["item"],
    }
    if order.get("eta"):
        result["estimated_delivery"] = order["eta"]
    if order.get("tracking"):
        result["tracking_number"] = order["tracking"]
        result["track_url"] = ROYAL_MAIL_TRACKING_URL.format(tracking=order["tracking"])
    if order.get("note"):
        # What a person decided about it (an approved exchange), so Claude never contradicts it.
        result["note"] = order["note"]
    return result
