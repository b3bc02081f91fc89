"""A shop's own order endpoint on 127.0.0.1 (the `http` order source's counterpart in tests).

GET /api/orders/{order_id} with `Authorization: Bearer <token>` answers the shop's JSON, in
its own field names (so ShopMate's mapping has work to do), with the customer's personal data
in it as a real shop's would be; 404 for an unknown order. It can be slowed or made to fail.
"""

from __future__ import annotations

import copy
import logging
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from fakes.serving import BoundAtOnce, send_json

logger = logging.getLogger(__name__)

# How ShopMate reads this shop's JSON (SHOPMATE_ORDERS_MAPPING).
MAPPING = (
    "status=order.state,item=order.summary,eta=order.delivery.estimate,"
    "carrier=order.delivery.courier,tracking=order.delivery.tracking_code,"
    "track_url=order.delivery.tracking_link,email=order.customer.email,"
    "phone=order.customer.phone"
)
CUSTOMER = {
    "name": "Priya Raman",
    "email": "priya.raman@example.com",
    "phone": "+447700900789",
    "address": {"line1": "22 Canal Street", "city": "Manchester", "postcode": "M1 3HE"},
}
PERSONAL_VALUES = ("priya.raman@example.com", "+447700900789", "22 Canal Street", "M1 3HE")

_ORDERS: dict[str, dict[str, Any]] = {
    "ORD-2001": {
        "order": {
            "number": "ORD-2001",
            "state": "Shipped",
            "summary": "Organic Crew Tee (L, Navy)",
            "delivery": {
                "estimate": "2026-12-09",
                "courier": "Evri",
                "tracking_code": "H01HYA0099887766",
                "tracking_link": None,
            },
            "customer": CUSTOMER,
        }
    },
    "ORD-2002": {
        "order": {
            "number": "ORD-2002",
            "state": "Processing",
            "summary": "Botanical Long Sleeve (M, Oat)",
            "delivery": {"estimate": "2026-12-12"},
            "customer": CUSTOMER,
        }
    },
}


class FakeOrdersEndpoint(BoundAtOnce):
    """`with FakeOrdersEndpoint() as shop:`; SHOPMATE_ORDERS_URL is `shop.url_template`."""

    def __init__(self, *, token: str = "shop-endpoint-token") -> None:
        self.token = token
        self.orders = copy.deepcopy(_ORDERS)
        self.calls = 0
        self.delay = 0.0
        self.fail_status: int | None = None
        self._bind(_Handler)

    @property
    def url_template(self) -> str:
        return f"{self._origin}/api/orders/{{order_id}}"

    def answer(self, path: str, authorization: str | None) -> tuple[int, Any]:
        self.calls += 1
        if self.delay and self._stopping.wait(self.delay):
            return 503, {"error": "shutting down"}
        if self.fail_status is not None:
            return self.fail_status, {"error": "internal error"}
        if authorization != f"Bearer {self.token}":
            return 401, {"error": "unauthorised"}
        prefix = "/api/orders/"
        order_id = unquote(path[len(prefix) :]) if path.startswith(prefix) else ""
        if order_id not in self.orders:
            return 404, {"error": "no such order"}
        return 200, self.orders[order_id]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        fake: FakeOrdersEndpoint = self.server.fake  # type: ignore[attr-defined]
        status, body = fake.answer(self.path, self.headers.get("Authorization"))
        send_json(self, status, body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake orders endpoint: " + format, *args)
