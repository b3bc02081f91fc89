"""The `http` order source: a shop's own JSON endpoint, one GET per order.

SHOPMATE_ORDERS_URL names the endpoint with `{order_id}` in it; SHOPMATE_ORDERS_TOKEN is sent
as `Authorization: Bearer ...`. A 404 means "no such order". The answer's fields are read
through a mapping (SHOPMATE_ORDERS_MAPPING): `status=state,eta=delivery.estimate,...`, each
ShopMate field from a dotted path into the JSON (`items.0.title` reads a list's first entry).
Fields the mapping does not name are never read, so a response carrying the whole customer
leaks nothing.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

import httpx2

from bot.orders.carriers import carrier_name, tracking_url
from bot.orders.source import ORDER_FIELDS, PERSONAL_FIELDS, Order, SourceUnavailable
from bot.settings import Settings

logger = logging.getLogger(__name__)

# Fields a shop's endpoint can fill (the structured lists come whole, as ShopMate shapes them).
MAPPABLE_FIELDS = tuple(f for f in ORDER_FIELDS if f != "order_id") + PERSONAL_FIELDS
DEFAULT_MAPPING: dict[str, str] = {
    f: f for f in ("status", "item", "items", "eta", "tracking", "carrier", "track_url", "payment")
}


def parse_mapping(raw: str | None) -> dict[str, str]:
    """`field=path,field=path` -> {field: path} over the default one-to-one mapping.

    Raises ValueError naming the bad entry (unknown field, missing path).
    """
    mapping = dict(DEFAULT_MAPPING)
    for entry in (raw or "").split(","):
        if not entry.strip():
            continue
        field, sep, path = (part.strip() for part in entry.partition("="))
        if not sep or not path or not re.fullmatch(r"[\w.-]+", path):
            raise ValueError(f"{entry.strip()!r} is not field=path")
        if field not in MAPPABLE_FIELDS:
            raise ValueError(f"{field!r} is not one of {', '.join(MAPPABLE_FIELDS)}")
        mapping[field] = path
    return mapping


def read_path(document: Any, path: str) -> Any:
    """The value at a dotted path (list indices as numbers), or None if any step is missing."""
    value = document
    for step in path.split("."):
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


class HttpSource:
    """Orders from a shop's own endpoint."""

    name = "http"

    def __init__(
        self,
        *,
        url: str,
        token: str | None = None,
        mapping: dict[str, str] | None = None,
        timeout: float = Settings.order_timeout_seconds,
    ) -> None:
        if "{order_id}" not in url:
            raise ValueError("the orders URL needs {order_id} in it")
        self.url = url
        self._mapping = mapping or dict(DEFAULT_MAPPING)
        self._timeout = timeout
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx2.Client(headers=headers)

    def lookup(self, order_id: str) -> Order | None:
        url = self.url.replace("{order_id}", quote(order_id, safe=""))
        try:
            response = self._http.get(url, timeout=self._timeout)
        except httpx2.TimeoutException:
            raise SourceUnavailable("timeout", f"no answer within {self._timeout:g}s") from None
        except httpx2.TransportError as failure:
            raise SourceUnavailable("error", f"cannot reach the orders URL: {failure}") from None
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise SourceUnavailable(
                "auth", f"the endpoint refused the token ({response.status_code})"
            )
        if response.status_code == 429:
            raise SourceUnavailable("throttled", "the endpoint asked us to slow down (429)")
        if response.status_code >= 300:
            raise SourceUnavailable("error", f"the endpoint answered HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise SourceUnavailable("error", "the endpoint's answer is not JSON") from None
        return self.order_from(order_id, document)

    def order_from(self, order_id: str, document: Any) -> Order:
        """ShopMate's fields from the endpoint's JSON, through the mapping."""
        order: Order = {"order_id": order_id}
        for field, path in self._mapping.items():
            value = read_path(document, path)
            if value is not None and value != "":
                order[field] = value
        order["status"] = str(order.get("status") or "unknown").lower()
        if order.get("carrier"):
            order["carrier"] = carrier_name(str(order["carrier"]))
        link = tracking_url(order.get("carrier"), order.get("tracking"), order.get("track_url"))
        if link:
            order["track_url"] = link
        return order

    def close(self) -> None:
        self._http.close()
