"""A fake Shopify Admin GraphQL API on 127.0.0.1 for tests, the bench and `orders check`.

POST /admin/api/{version}/graphql.json with X-Shopify-Access-Token, as Shopify. It parses the
query, refuses fields outside the schema ShopMate uses (schema.py) as Shopify does, answers
from realistic orders (data.py), charges each query's cost to a leaky bucket (maximum and
restore rate settable; THROTTLED errors with `extensions.cost` when it is short), and can be
slowed down or made to fail.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from fakes.serving import BoundAtOnce, FakeHTTPServer, send_json
from fakes.shopify.data import sample_orders
from fakes.shopify.graphql import Field, GraphQLSyntaxError, parse
from fakes.shopify.schema import Executor, requested_cost, validate

logger = logging.getLogger(__name__)

_PATH = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
_NAME_QUERY = re.compile(r"""name:(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+))""")
MAX_SINGLE_QUERY_COST = 1000


class _Bucket:
    """Shopify's leaky bucket for one app on one shop."""

    def __init__(self, maximum: float, restore_rate: float) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self.available = maximum
        self._at = time.monotonic()

    def refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self._at) * self.restore_rate)
        self._at = now

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": float(self.maximum),
            "currentlyAvailable": float(int(self.available)),
            "restoreRate": float(self.restore_rate),
        }


class FakeShopify(BoundAtOnce):
    """Serve it with `with FakeShopify() as shop:`; point ShopMate at `shop.url`."""

    def __init__(
        self,
        *,
        token: str = "shpat_test_token",
        maximum_available: float = 1000.0,
        restore_rate: float = 50.0,
        scopes: tuple[str, ...] = ("read_orders",),
        shop_name: str = "ThreadCo",
        client_id: str = "shopmate-dev-dashboard-app",
        client_secret: str = "shpss_test_secret",
        token_lifetime_s: int = 86399,
    ) -> None:
        self.token = token
        # A Dev Dashboard app's credentials, exchanged for expiring tokens (client credentials).
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime_s = token_lifetime_s
        self.issued: list[str] = []  # tokens that still work
        self.grants = 0
        self.scopes = list(scopes)
        self.shop_name = shop_name
        self.orders: list[dict[str, Any]] = sample_orders()
        self.delay = 0.0  # seconds before each answer
        self.fail_status: int | None = None  # answer every request with this HTTP status
        self.requests: list[dict[str, Any]] = []
        self.order_queries = 0  # operations that selected `orders`
        self.throttled = 0
        self._bucket = _Bucket(maximum_available, restore_rate)
        self._lock = threading.Lock()
        self._bind(_Handler)

    @property
    def url(self) -> str:
        return self._origin

    def set_bucket(
        self,
        *,
        maximum: float | None = None,
        restore_rate: float | None = None,
        available: float | None = None,
    ) -> None:
        """Change the leaky bucket (a small one makes throttling quick to reach in tests)."""
        with self._lock:
            self._bucket.refill()
            if maximum is not None:
                self._bucket.maximum = maximum
            if restore_rate is not None:
                self._bucket.restore_rate = restore_rate
            self._bucket.available = min(
                self._bucket.maximum, available if available is not None else self._bucket.available
            )

    @contextmanager
    def down(self, status: int = 500) -> Iterator[None]:
        """Every request fails with `status` inside the block."""
        self.fail_status = status
        try:
            yield
        finally:
            self.fail_status = None

    def order(self, name: str) -> dict[str, Any]:
        """The stored order with this name (e.g. "#1001"), to change in a test."""
        return next(o for o in self.orders if o["name"] == name)

    # -- answering ------------------------------------------------------------------------

    def answer(self, headers: dict[str, str], path: str, raw: bytes) -> tuple[int, dict | str]:
        if self.delay and self._stopping.wait(self.delay):
            return 503, {"errors": "shutting down"}
        if self.fail_status is not None:
            return self.fail_status, {"errors": "Internal Server Error"}
        if path == "/admin/oauth/access_token":
            return self._grant(raw)
        if not _PATH.match(path):
            return 404, {"errors": "Not Found"}
        if headers.get("x-shopify-access-token") not in (self.token, *self.issued):
            return 401, {
                "errors": "[API] Invalid API key or access token (unrecognized login or wrong "
                "password)"
            }
        try:
            body = json.loads(raw or b"{}")
            query, variables = body["query"], body.get("variables") or {}
            operation = parse(query)
        except GraphQLSyntaxError as error:
            return 200, {
                "errors": [
                    {
                        "message": f"Parse error: {error}",
                        "locations": [{"line": error.line, "column": error.column}],
                    }
                ]
            }
        except (ValueError, KeyError, TypeError):
            return 400, {"errors": {"query": "Required parameter missing or invalid"}}
        with self._lock:
            self.requests.append({"path": path, "query": query, "variables": variables})
        errors = validate(operation, variables)
        if errors:
            return 200, {"errors": errors}
        return 200, self._execute(operation, variables)

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as when a day has passed)."""
        with self._lock:
            self.issued.clear()

    def _grant(self, raw: bytes) -> tuple[int, dict]:
        """The client credentials grant: a Dev Dashboard app's id and secret -> a token."""
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return 400, {"error": "invalid_client"}
        with self._lock:
            self.grants += 1
            token = f"shpat_issued_{self.grants}"
            self.issued.append(token)
        return 200, {
            "access_token": token,
            "scope": ",".join(self.scopes),
            "expires_in": self.token_lifetime_s,
        }

    def _execute(self, operation, variables: dict[str, Any]) -> dict[str, Any]:
        cost = requested_cost(operation.selections, "QueryRoot", variables)
        if cost > MAX_SINGLE_QUERY_COST:
            return {
                "errors": [
                    {
                        "message": f"Query cost is {cost}, which exceeds the single query max "
                        f"cost limit ({MAX_SINGLE_QUERY_COST}).",
                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost},
                    }
                ]
            }
        with self._lock:
            if any(f.name == "orders" for f in operation.selections):
                self.order_queries += 1
            self._bucket.refill()
            if self._bucket.available < cost:
                self.throttled += 1
                return {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {
                        "cost": {
                            "requestedQueryCost": cost,
                            "actualQueryCost": None,
                            "throttleStatus": self._bucket.status(),
                        }
                    },
                }
            self._bucket.available -= cost
            executor = Executor({}, variables, self._resolve_root)
            data = executor.run(operation)
            actual = min(cost, executor.actual_cost)
            self._bucket.available += cost - actual  # Shopify refunds what was not used
            status = self._bucket.status()
        return {
            "data": data,
            "extensions": {
                "cost": {
                    "requestedQueryCost": cost,
                    "actualQueryCost": actual,
                    "throttleStatus": status,
                }
            },
        }

    def _resolve_root(self, name: str, f: Field, variables: dict[str, Any]) -> Any:
        if name == "shop":
            return {"name": self.shop_name, "myshopifyDomain": "threadco.myshopify.com"}
        if name == "currentAppInstallation":
            return {"accessScopes": [{"handle": s, "description": s} for s in self.scopes]}
        search = f.arguments.get("query")
        if hasattr(search, "name"):
            search = variables.get(search.name)
        return [o for o in self.orders if _matches(o, search)]


def _matches(order: dict[str, Any], search: str | None) -> bool:
    """Shopify's search syntax, the part ShopMate uses: `name:"#1001"` (or no search)."""
    if not search:
        return True
    match = _NAME_QUERY.search(search)
    if match is None:
        return False
    wanted = next(g for g in match.groups() if g is not None).replace('\\"', '"')
    return order["name"] in (wanted, f"#{wanted.lstrip('#')}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body = self.server.fake.answer(headers, self.path, raw)
        send_json(self, status, body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake shopify: " + format, *args)
