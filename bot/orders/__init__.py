"""Where orders come from: one source behind `get_order` and the prefetch of pasted ids.

`SHOPMATE_ORDER_SOURCE` picks it: `table` (ShopMate's own table, the default and the demo's),
`shopify` (the Admin GraphQL API) or `http` (a shop's own JSON endpoint). Remote sources sit
behind a read-through cache (cache.py); the tools only ever see an `OrderService`.
"""

from __future__ import annotations

from bot.orders.cache import Lookup, OrderService, OrderUnavailable
from bot.orders.source import OrderSource, SourceUnavailable
from bot.settings import Settings, SettingsError
from storage import Storage

__all__ = [
    "Lookup",
    "OrderService",
    "OrderSource",
    "OrderUnavailable",
    "SourceUnavailable",
    "build_order_service",
    "build_order_source",
]


def build_order_source(settings: Settings, storage: Storage | None) -> OrderSource:
    """The source SHOPMATE_ORDER_SOURCE names, built from its settings (checked here).

    `storage` is only read by the table source (the remote ones keep their copies in the
    service's cache, not in the source).
    """
    if settings.order_source == "shopify":
        from bot.orders.shopify import ShopifySource

        if not (settings.shopify_client_id or settings.shopify_client_secret):
            settings.require("SHOPIFY_ADMIN_TOKEN")
        elif not settings.shopify_admin_token:
            settings.require("SHOPIFY_CLIENT_ID", "SHOPIFY_CLIENT_SECRET")
        if not settings.shopify_shop and not settings.shopify_api_url:
            settings.require("SHOPIFY_SHOP")
        return ShopifySource(
            shop=settings.shopify_shop or "",
            token=settings.shopify_admin_token,
            client_id=settings.shopify_client_id,
            client_secret=settings.shopify_client_secret,
            api_version=settings.shopify_api_version,
            api_url=settings.shopify_api_url,
            timeout=settings.order_timeout_seconds,
            order_name_format=settings.shopify_order_name,
            allowed_fields=settings.order_fields_allowed,
        )
    if settings.order_source == "http":
        from bot.orders.http import HttpSource, parse_mapping

        settings.require("SHOPMATE_ORDERS_URL")
        url = settings.orders_url or ""
        if "{order_id}" not in url:
            raise SettingsError(
                f"SHOPMATE_ORDERS_URL={url!r} needs {{order_id}} where the order id goes."
            )
        try:
            mapping = parse_mapping(settings.orders_mapping)
        except ValueError as problem:
            raise SettingsError(f"SHOPMATE_ORDERS_MAPPING: {problem}.") from None
        return HttpSource(
            url=url,
            token=settings.orders_token,
            mapping=mapping,
            timeout=settings.order_timeout_seconds,
        )
    from bot.orders.table import TableSource

    if storage is None:
        raise ValueError("the table source needs storage")
    return TableSource(storage.orders)


def build_order_service(settings: Settings, storage: Storage) -> OrderService:
    """The service the tools use: the source, with the cache when the source is remote."""
    source = build_order_source(settings, storage)
    remote = settings.order_source != "table"
    return OrderService(
        source,
        cache=storage.order_cache if remote else None,
        cache_seconds=settings.order_cache_seconds,
        allowed_fields=settings.order_fields_allowed,
    )
