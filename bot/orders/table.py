"""The default order source: ShopMate's own `orders` table, filled by `shopmate orders import`."""

from __future__ import annotations

from typing import Any, Protocol

from bot.orders.source import Order

# The import file has no carrier column: ThreadCo's imported parcels go by Royal Mail.
TABLE_CARRIER = "Royal Mail"


class OrderRows(Protocol):
    def get(self, order_id: str) -> dict[str, Any] | None: ...


class TableSource:
    """Reads storage's orders table; local and fast, so it is never cached."""

    name = "table"

    def __init__(self, rows: OrderRows, *, carrier: str = TABLE_CARRIER) -> None:
        self._rows = rows
        self._carrier = carrier

    def lookup(self, order_id: str) -> Order | None:
        row = self._rows.get(order_id)
        if row is None:
            return None
        order: Order = dict(row)
        if order.get("tracking"):
            order["carrier"] = self._carrier
        return order
