"""The Admin API access token ShopMate sends to Shopify: a fixed one, or one it asks for.

A custom app created in the Shopify admin (before 2026) shows a fixed `shpat_…` token:
SHOPIFY_ADMIN_TOKEN. Since 1 January 2026 new apps are made in Shopify's Dev Dashboard, which
shows a client id and secret instead; for an app installed on the organisation's own store,
the client credentials grant exchanges them for a token
(POST https://{shop}/admin/oauth/access_token) that expires, about a day later. This asks for
one when needed, again shortly before it expires, and at once when Shopify refuses it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx2

from bot.orders.source import SourceUnavailable

logger = logging.getLogger(__name__)

# Ask for a new token this long before the old one expires.
_RENEW_BEFORE_S = 300.0


class ShopifyToken:
    """`value(timeout)` is the token to send; `refused()` drops one Shopify would not take."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        http: httpx2.Client,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not token and not (client_id and client_secret):
            raise ValueError("a token, or a client id and secret, is required")
        self._fixed = token or None
        self._client = (client_id, client_secret)
        self._url = f"{base_url}/admin/oauth/access_token"
        self._http = http
        self._clock = clock
        self._current: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    @property
    def renewable(self) -> bool:
        return self._fixed is None

    def value(self, timeout: float) -> str:
        if self._fixed is not None:
            return self._fixed
        with self._lock:
            if self._current is None or self._clock() >= self._expires - _RENEW_BEFORE_S:
                self._current, lifetime = self._request(timeout)
                self._expires = self._clock() + lifetime
            return self._current

    def refused(self) -> None:
        with self._lock:
            self._current = None

    def _request(self, timeout: float) -> tuple[str, float]:
        client_id, secret = self._client
        try:
            response = self._http.post(
                self._url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                },
                timeout=timeout,
            )
        except httpx2.TimeoutException:
            raise SourceUnavailable("timeout", "no access token within the timeout") from None
        except httpx2.TransportError as failure:
            raise SourceUnavailable("error", f"cannot reach Shopify: {failure}") from None
        if response.status_code in (400, 401, 403):
            raise SourceUnavailable(
                "auth",
                f"Shopify refused SHOPIFY_CLIENT_ID/SECRET (HTTP {response.status_code}); is "
                "the app installed on this store?",
            )
        try:
            body = response.json()
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise SourceUnavailable(
                "error", f"no access token in Shopify's answer (HTTP {response.status_code})"
            ) from None
        lifetime = float(body.get("expires_in") or 3600)
        logger.info("new Shopify access token, valid for %.0f s", lifetime)
        return token, lifetime
