"""The Shopify order source: one Admin GraphQL query per order, found by its name.

Shopify's REST Admin API is legacy; this reads the GraphQL Admin API
(POST https://{shop}/admin/api/{version}/graphql.json, header X-Shopify-Access-Token), asking
only for the fields an answer needs. Shopify limits an app by query cost with a leaky bucket:
each response's `extensions.cost.throttleStatus` says how full it is, and a query that does
not fit is refused with a `THROTTLED` error. This client keeps its own estimate of the bucket
so a busy thread waits (within the bound) instead of sending a burst Shopify will refuse, and
when refused it waits for exactly the points it lacks, then retries, while time remains.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2

from bot.orders.carriers import carrier_name, tracking_url
from bot.orders.shopify_auth import ShopifyToken
from bot.orders.source import Order, SourceUnavailable
from bot.settings import Settings

logger = logging.getLogger(__name__)

# What one order query costs before Shopify has told us (it answers with the real figure).
_FIRST_COST_ESTIMATE = 50.0

_ORDER_FIELDS = """
      name
      displayFulfillmentStatus
      displayFinancialStatus
      cancelledAt
      cancelReason
      refunds(first: 5) { createdAt note totalRefundedSet { shopMoney { amount currencyCode } } }
      lineItems(first: 20) {
        nodes { title quantity variant { title selectedOptions { name value } } }
      }
      fulfillments(first: 5) {
        status
        displayStatus
        estimatedDeliveryAt
        deliveredAt
        trackingInfo(first: 3) { company number url }
      }"""
# Personal fields, selected only when an operator allows them (SHOPMATE_ORDER_FIELDS_ALLOWED).
_PERSONAL_SELECTIONS = {
    "email": "email",
    "phone": "phone",
    "shipping_address": "shippingAddress { address1 address2 city zip countryCodeV2 }",
    "customer_name": "customer { displayName }",
}
CHECK_QUERY = (
    "query ShopMateCheck { shop { name } currentAppInstallation { accessScopes { handle } } }"
)


def order_query(allowed_fields: tuple[str, ...] = ()) -> str:
    """The GraphQL document for one order by name, with only the allowed personal fields."""
    extra = "".join(
        f"\n      {_PERSONAL_SELECTIONS[f]}" for f in allowed_fields if f in _PERSONAL_SELECTIONS
    )
    return (
        "query ShopMateOrder($query: String!) {\n  orders(first: 1, query: $query) {\n"
        f"    nodes {{{_ORDER_FIELDS}{extra}\n    }}\n  }}\n}}"
    )


@dataclass
class _Bucket:
    """Our estimate of Shopify's leaky bucket for this app and shop."""

    available: float | None = None  # None: not seen yet, assume a query fits
    maximum: float = 1000.0
    restore_rate: float = 50.0
    seen_at: float = 0.0
    cost: float = _FIRST_COST_ESTIMATE
    in_flight: float = 0.0  # points reserved by requests not yet answered


class ShopifySource:
    """Orders from a Shopify shop's Admin GraphQL API."""

    name = "shopify"

    def __init__(
        self,
        *,
        shop: str,
        token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        api_version: str = Settings.shopify_api_version,
        api_url: str | None = None,
        timeout: float = Settings.order_timeout_seconds,
        order_name_format: str = Settings.shopify_order_name,
        allowed_fields: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not shop and not api_url:
            raise ValueError("shop or api_url is required")
        base = (api_url or f"https://{shop}").rstrip("/")
        self.endpoint = f"{base}/admin/api/{api_version}/graphql.json"
        self._timeout = timeout
        self._name_format = order_name_format
        self._query = order_query(allowed_fields)
        self._allowed = allowed_fields
        self._clock = clock
        self._sleep = sleep
        self._bucket = _Bucket()
        self._bucket_lock = threading.Lock()
        self._probe = threading.Lock()
        self._http = httpx2.Client()
        self._token = ShopifyToken(
            base_url=base,
            token=token,
            client_id=client_id,
            client_secret=client_secret,
            http=self._http,
            clock=clock,
        )

    def order_name(self, order_id: str) -> str:
        """The shop's order name for ShopMate's id: ORD-1001 -> "#1001" with the default."""
        digits = re.search(r"(\d+)\D*$", order_id)
        return self._name_format.format(id=order_id, number=digits.group(1) if digits else order_id)

    def lookup(self, order_id: str) -> Order | None:
        name = self.order_name(order_id)
        search = 'name:"{}"'.format(name.replace("\\", "\\\\").replace('"', '\\"'))
        data = self.execute(self._query, {"query": search})
        for node in (data.get("orders") or {}).get("nodes") or []:
            # Shopify's search may match more loosely than we mean: only the exact name counts.
            if node.get("name") == name:
                return order_from_shopify(order_id, node, self._allowed)
        return None

    def check(self) -> dict[str, Any]:
        """The shop's name and the access scopes granted to this token (for `orders check`)."""
        data = self.execute(CHECK_QUERY, {})
        scopes = (data.get("currentAppInstallation") or {}).get("accessScopes") or []
        return {
            "shop": (data.get("shop") or {}).get("name"),
            "scopes": [s.get("handle") for s in scopes],
        }

    def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run one query within the timeout, waiting out throttling; returns `data`."""
        deadline = self._clock() + self._timeout
        while True:
            body = self._send(query, variables, deadline)
            errors = body.get("errors") or []
            if any(_code(e) == "THROTTLED" for e in errors):
                self._wait_after_throttle(body, deadline)
                continue
            if errors:
                codes = {_code(e) for e in errors}
                kind = "auth" if codes & {"ACCESS_DENIED", "UNAUTHORIZED"} else "error"
                raise SourceUnavailable(kind, "; ".join(str(e.get("message")) for e in errors))
            return body.get("data") or {}

    def _send(self, query: str, variables: dict[str, Any], deadline: float) -> dict[str, Any]:
        """One request, after reserving its points; the first request ever goes alone, so a
        burst of lookups at start-up cannot overdraw a bucket we have not seen yet."""
        if self._bucket.available is None:
            with self._probe:
                if self._bucket.available is None:
                    return self._reserved_post(query, variables, deadline)
        return self._reserved_post(query, variables, deadline)

    def _reserved_post(
        self, query: str, variables: dict[str, Any], deadline: float
    ) -> dict[str, Any]:
        reserved = self._wait_for_points(deadline)
        try:
            body = self._post(query, variables, deadline)
        finally:
            with self._bucket_lock:
                self._bucket.in_flight -= reserved
        self._observe(body)
        return body

    def _post(self, query: str, variables: dict[str, Any], deadline: float) -> dict[str, Any]:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise SourceUnavailable("timeout", f"no answer within {self._timeout:g}s")
        response = self._request(query, variables, remaining)
        if response.status_code == 401 and self._token.renewable:
            self._token.refused()  # expired or revoked: ask for a new one, once
            response = self._request(query, variables, max(0.01, deadline - self._clock()))
        if response.status_code in (401, 403):
            raise SourceUnavailable(
                "auth", f"Shopify refused the token (HTTP {response.status_code})"
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 429 and isinstance(body, dict):
            return body  # a throttled answer: its extensions say how long to wait
        if response.status_code >= 300 or not isinstance(body, dict):
            raise SourceUnavailable("error", f"Shopify answered HTTP {response.status_code}")
        return body

    def _request(self, query: str, variables: dict[str, Any], remaining: float) -> httpx2.Response:
        try:
            return self._http.post(
                self.endpoint,
                json={"query": query, "variables": variables},
                headers={"X-Shopify-Access-Token": self._token.value(remaining)},
                timeout=remaining,
            )
        except httpx2.TimeoutException:
            raise SourceUnavailable("timeout", f"no answer within {self._timeout:g}s") from None
        except httpx2.TransportError as failure:
            raise SourceUnavailable("error", f"cannot reach Shopify: {failure}") from None

    def _observe(self, body: dict[str, Any]) -> None:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        if "currentlyAvailable" not in status:
            return
        with self._bucket_lock:
            bucket = self._bucket
            bucket.available = float(status["currentlyAvailable"])
            bucket.maximum = float(status.get("maximumAvailable") or bucket.maximum)
            bucket.restore_rate = float(status.get("restoreRate") or bucket.restore_rate)
            bucket.seen_at = self._clock()
            if cost.get("requestedQueryCost"):
                bucket.cost = float(cost["requestedQueryCost"])

    def _wait_for_points(self, deadline: float) -> float:
        """Reserve a query's cost from our estimate, waiting if the bucket is short; returns
        the points reserved (released when the answer arrives and says the real level)."""
        with self._bucket_lock:
            bucket = self._bucket
            if bucket.available is None:
                return 0.0
            now = self._clock()
            refilled = bucket.available + (now - bucket.seen_at) * bucket.restore_rate
            available = min(bucket.maximum, refilled) - bucket.in_flight
            wait = max(0.0, (bucket.cost - available) / bucket.restore_rate)
            if now + wait > deadline:
                raise SourceUnavailable(
                    "throttled", f"Shopify's query budget refills in {wait:.1f}s, past the bound"
                )
            # Points other threads may not count on: this query will spend them.
            bucket.in_flight += bucket.cost
            reserved = bucket.cost
        if wait > 0:
            logger.info("waiting %.2fs for Shopify's query budget", wait)
            self._sleep(wait)
        return reserved

    def _wait_after_throttle(self, body: dict[str, Any], deadline: float) -> None:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        needed = float(cost.get("requestedQueryCost") or self._bucket.cost)
        available = float(status.get("currentlyAvailable") or 0.0)
        rate = float(status.get("restoreRate") or self._bucket.restore_rate) or 1.0
        wait = max(0.05, (needed - available) / rate)
        if self._clock() + wait > deadline:
            raise SourceUnavailable(
                "throttled", f"Shopify throttled the query; it refills in {wait:.1f}s"
            )
        logger.info("Shopify throttled the query; retrying in %.2fs", wait)
        self._sleep(wait)

    def close(self) -> None:
        self._http.close()


def _code(error: Any) -> str:
    return str(((error or {}).get("extensions") or {}).get("code") or "")


def _words(value: str | None) -> str | None:
    return value.replace("_", " ").lower() if value else None


def _date(value: str | None) -> str | None:
    """An ISO date-time as its date ("2026-12-07"): what a customer needs of it."""
    return value[:10] if value else None


def _item(node: dict[str, Any]) -> dict[str, Any]:
    options = {
        str(o.get("name", "")).lower(): o.get("value")
        for o in ((node.get("variant") or {}).get("selectedOptions") or [])
    }
    item: dict[str, Any] = {"title": node.get("title"), "quantity": node.get("quantity")}
    if options.get("size"):
        item["size"] = options["size"]
    colour = options.get("colour") or options.get("color")
    if colour:
        item["colour"] = colour
    variant = (node.get("variant") or {}).get("title")
    if variant and "size" not in item and "colour" not in item and variant != "Default Title":
        item["variant"] = variant
    return item


def _item_line(item: dict[str, Any]) -> str:
    details = [str(item[k]) for k in ("size", "colour", "variant") if item.get(k)]
    line = str(item.get("title") or "item")
    if details:
        line += f" ({', '.join(details)})"
    if (item.get("quantity") or 1) > 1:
        line += f" ×{item['quantity']}"
    return line


def _shipments(fulfillments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shipments = []
    for f in fulfillments:
        if f.get("status") in ("CANCELLED", "ERROR", "FAILURE"):
            continue
        tracking = (f.get("trackingInfo") or [{}])[0] if f.get("trackingInfo") else {}
        carrier = carrier_name(tracking.get("company"))
        shipment = {
            "status": _words(f.get("displayStatus")) or _words(f.get("status")),
            "carrier": carrier,
            "tracking_number": tracking.get("number"),
            "track_url": tracking_url(carrier, tracking.get("number"), tracking.get("url")),
            "estimated_delivery": _date(f.get("estimatedDeliveryAt")),
            "delivered": _date(f.get("deliveredAt")),
        }
        shipments.append({k: v for k, v in shipment.items() if v})
    return shipments


def _status(node: dict[str, Any], shipments: list[dict[str, Any]]) -> str:
    if node.get("cancelledAt"):
        return "cancelled"
    if node.get("displayFinancialStatus") == "REFUNDED":
        return "refunded"
    fulfilment = node.get("displayFulfillmentStatus") or ""
    if fulfilment == "FULFILLED":
        delivered = shipments and all(s.get("delivered") for s in shipments)
        return "delivered" if delivered else "shipped"
    if fulfilment == "PARTIALLY_FULFILLED":
        return "partly shipped"
    if fulfilment in ("UNFULFILLED", "SCHEDULED", "IN_PROGRESS", "OPEN", "PENDING_FULFILLMENT"):
        return "processing"
    return _words(fulfilment) or "unknown"


def order_from_shopify(
    order_id: str, node: dict[str, Any], allowed_fields: tuple[str, ...] = ()
) -> Order:
    """ShopMate's fields from one Shopify `Order` node (see bot/orders/source.py)."""
    items = [_item(n) for n in ((node.get("lineItems") or {}).get("nodes") or [])]
    shipments = _shipments(node.get("fulfillments") or [])
    order: Order = {
        "order_id": order_id,
        "status": _status(node, shipments),
        "item": "; ".join(_item_line(i) for i in items) or None,
        "items": items,
        "payment": _words(node.get("displayFinancialStatus")),
    }
    if shipments:
        latest = shipments[-1]
        order["shipments"] = shipments
        order["tracking"] = latest.get("tracking_number")
        order["carrier"] = latest.get("carrier")
        order["track_url"] = latest.get("track_url")
        pending = [s for s in shipments if not s.get("delivered")]
        order["eta"] = (pending or [latest])[-1].get("estimated_delivery")
    if node.get("cancelledAt"):
        order["cancelled"] = {
            "at": _date(node["cancelledAt"]),
            "reason": _words(node.get("cancelReason")),
        }
    refunds = [
        {
            "at": _date(r.get("createdAt")),
            "amount": _money(r.get("totalRefundedSet")),
            "note": r.get("note"),
        }
        for r in node.get("refunds") or []
    ]
    if refunds:
        order["refunds"] = [{k: v for k, v in r.items() if v} for r in refunds]
    _personal(order, node, allowed_fields)
    return order


def _money(money_set: dict[str, Any] | None) -> str | None:
    shop = (money_set or {}).get("shopMoney") or {}
    if shop.get("amount") is None:
        return None
    return f"{shop['amount']} {shop.get('currencyCode', '')}".strip()


def _personal(order: Order, node: dict[str, Any], allowed: tuple[str, ...]) -> None:
    if "email" in allowed:
        order["email"] = node.get("email")
    if "phone" in allowed:
        order["phone"] = node.get("phone")
    if "shipping_address" in allowed and node.get("shippingAddress"):
        address = node["shippingAddress"]
        parts = ("address1", "address2", "city", "zip", "countryCodeV2")
        order["shipping_address"] = ", ".join(str(address[k]) for k in parts if address.get(k))
    if "customer_name" in allowed:
        order["customer_name"] = (node.get("customer") or {}).get("displayName")
