"""Tools that hand a case to people: escalate_to_human, request_size_exchange, request_refund.

None of them changes an order. They file what Claude asks for (once per thread and reason,
once per order and kind while pending) and put it in front of people through the front's
notifier; a person decides. Each needs the turn's `ToolContext` (whose thread, who asked).
"""

from __future__ import annotations

from typing import Any

from bot.handoff.service import (
    REASONS,
    REFUND,
    SIZE_EXCHANGE,
    SIZES,
    HandoffService,
    normalise_size,
)
from bot.orders.cache import OrderUnavailable
from bot.orders_import import (
    MAX_ORDER_ID_LENGTH,
    is_valid_order_id,
    normalise_order_id,
)
from bot.settings import Settings
from bot.tools.orders import OrderLookup, as_service
from bot.tools.registry import Tool, ToolContext, ToolResult

_TEXT = {"type": "string", "maxLength": 1000}


def handoff_tools(
    service: HandoffService, orders: OrderLookup, *, id_pattern: str = Settings.order_id_pattern
) -> list[Tool]:
    """The three hand-off tools over one service and the order store."""
    orders = as_service(orders)

    def known_order(raw: str) -> tuple[str | None, ToolResult | None]:
        order_id = normalise_order_id(raw)
        if not is_valid_order_id(order_id, id_pattern):
            shown = order_id[:MAX_ORDER_ID_LENGTH]
            return None, _error(f"{shown!r} is not a valid order id (they look like ORD-1001).")
        try:
            found = orders.get(order_id)
        except OrderUnavailable:
            return None, _error(
                f"The order system is unavailable right now, so {order_id} cannot be checked."
            )
        if found is None:
            return None, _error(f"Order {order_id} not found.")
        return order_id, None

    def escalate(tool_input: dict[str, Any], context: ToolContext) -> ToolResult:
        reason = tool_input["reason"]
        if reason not in REASONS:
            return _error(f"reason must be one of {', '.join(REASONS)}.")
        order_id = None
        if tool_input.get("order_id"):
            order_id, problem = known_order(tool_input["order_id"])
            if problem:
                return problem
        result = service.escalate(
            context, reason=reason, summary=tool_input["summary"].strip(), order_id=order_id
        )
        return _result(result, "escalated")

    def size_exchange(tool_input: dict[str, Any], context: ToolContext) -> ToolResult:
        order_id, problem = known_order(tool_input["order_id"])
        if problem:
            return problem
        size = normalise_size(tool_input["new_size"])
        if size is None:
            return _error(f"new_size must be one of {', '.join(SIZES)}.")
        result = service.request_change(
            context,
            kind=SIZE_EXCHANGE,
            order_id=order_id or "",
            details={"new_size": size},
            reason=tool_input["reason"].strip(),
        )
        return _result(result, "sent for approval")

    def refund(tool_input: dict[str, Any], context: ToolContext) -> ToolResult:
        order_id, problem = known_order(tool_input["order_id"])
        if problem:
            return problem
        result = service.request_change(
            context,
            kind=REFUND,
            order_id=order_id or "",
            details={},
            reason=tool_input["reason"].strip(),
        )
        return _result(result, "sent for approval")

    order_field = {"type": "string", "description": "The order ID, e.g. ORD-1001", "maxLength": 200}
    return [
        Tool(
            name="escalate_to_human",
            description=(
                "Hand this conversation to a person on ThreadCo's support team when you cannot "
                "resolve it yourself: a change after shipping, a refund, a complaint, an angry "
                "customer, anything outside your tools. Posts a summary for the team; then tell "
                "the customer what `tell_the_customer` says. Calling it again for the same "
                "reason in this thread does not post twice."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "reason": {"type": "string", "enum": list(REASONS)},
                    "summary": {
                        **_TEXT,
                        "description": "Two or three sentences for the person taking over.",
                    },
                    "order_id": order_field,
                },
                "required": ["reason", "summary"],
            },
            context_handler=escalate,
            step="Passing this to a person on our team",
        ),
        Tool(
            name="request_size_exchange",
            description=(
                "Ask ThreadCo's team to approve exchanging an order's item for another size. "
                "Changes nothing by itself: a person approves or rejects it, and the decision "
                "is posted in this thread. Explain the exchange policy first."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "order_id": order_field,
                    "new_size": {"type": "string", "description": "One of XS, S, M, L, XL, XXL"},
                    "reason": {**_TEXT, "description": "Why, in the customer's words."},
                },
                "required": ["order_id", "new_size", "reason"],
            },
            context_handler=size_exchange,
            step="Asking our team to approve size {new_size} for {order_id}",
        ),
        Tool(
            name="request_refund",
            description=(
                "Ask ThreadCo's team to approve refunding an order. Changes nothing by itself: a "
                "person approves or rejects it, and the decision is posted in this thread."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "order_id": order_field,
                    "reason": {**_TEXT, "description": "Why, in the customer's words."},
                },
                "required": ["order_id", "reason"],
            },
            context_handler=refund,
            step="Asking our team to approve a refund for {order_id}",
        ),
    ]


def _error(message: str) -> ToolResult:
    return ToolResult({"error": message}, is_error=True, summary="refused")


def _result(result: dict[str, Any], summary: str) -> ToolResult:
    if "error" in result:
        return ToolResult(result, is_error=True, summary="failed")
    return ToolResult(result, summary=summary)
