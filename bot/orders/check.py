"""`shopmate orders check [ID]`: which order source is configured, whether it answers, with
which permissions, and one lookup with its time. Read-only; `shopmate doctor` can call
`check_order_source(settings)` and print its results its own way.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, TextIO

from bot.orders.source import OrderSource, SourceUnavailable
from bot.settings import Settings, SettingsError

logger = logging.getLogger(__name__)

DEFAULT_CHECK_ID = "ORD-1001"
# What ShopMate reads; read_all_orders only widens it past Shopify's 60-day window.
SHOPIFY_NEEDED_SCOPE = "read_orders"
SHOPIFY_OLD_ORDERS_SCOPE = "read_all_orders"


@dataclass(frozen=True)
class CheckResult:
    """One line of a check: what was checked, whether it is fine, what was seen, the fix."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_order_source(settings: Settings, order_id: str | None = None) -> list[CheckResult]:
    """Check the configured order source; never raises for a source or settings problem."""
    from bot.orders import build_order_source

    kind = settings.order_source
    storage = None
    try:
        if kind == "table":
            storage = _open_table_storage(settings)
            if storage is None:
                return [_source_line(settings), _no_database(settings)]
        source = build_order_source(settings, storage)
    except SettingsError as problem:
        return [_source_line(settings), CheckResult("settings", False, str(problem), _fix(kind))]
    try:
        results = [_source_line(settings)]
        results += _reachability(settings, source, storage)
        results.append(_lookup(source, order_id or DEFAULT_CHECK_ID))
        return results
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
        if storage is not None:
            storage.close()


def _source_line(settings: Settings) -> CheckResult:
    where = {
        "table": f"ShopMate's orders table in {settings.db_path}",
        "shopify": f"Shopify {settings.shopify_api_url or settings.shopify_shop or '(no shop)'}, "
        f"Admin API {settings.shopify_api_version}",
        "http": f"your endpoint {settings.orders_url or '(no URL)'}",
    }[settings.order_source]
    return CheckResult("source", True, f"{settings.order_source}: {where}")


def _fix(kind: str) -> str:
    return {
        "shopify": "Set SHOPIFY_SHOP and SHOPIFY_ADMIN_TOKEN (see README, "
        '"Connect your order system").',
        "http": "Set SHOPMATE_ORDERS_URL with {order_id} in it.",
    }.get(kind, "")


def _open_table_storage(settings: Settings) -> Any:
    from storage import open_storage

    if not settings.db_path.is_file():
        return None
    return open_storage(settings.db_path, create=False)


def _no_database(settings: Settings) -> CheckResult:
    return CheckResult(
        "answers",
        False,
        f"no database at {settings.db_path}",
        "Run `shopmate orders import FILE`, or set SHOPMATE_ORDER_SOURCE to shopify or http.",
    )


def _reachability(settings: Settings, source: OrderSource, storage: Any) -> list[CheckResult]:
    if settings.order_source == "table":
        count = storage.orders.count()
        return [
            CheckResult(
                "answers",
                count > 0,
                f"{count} order(s) in the table",
                "" if count else "Run `shopmate orders import FILE`.",
            )
        ]
    if settings.order_source == "shopify":
        return _shopify_permissions(source)
    token = "a Bearer token is sent" if settings.orders_token else "no token is sent"
    return [CheckResult("permissions", True, f"{token} (SHOPMATE_ORDERS_TOKEN)")]


def _shopify_permissions(source: Any) -> list[CheckResult]:
    started = time.monotonic()
    try:
        shop = source.check()
    except SourceUnavailable as failure:
        fix = (
            "Check SHOPIFY_ADMIN_TOKEN: the custom app's Admin API access token (shpat_...)."
            if failure.kind == "auth"
            else "Check SHOPIFY_SHOP / SHOPIFY_API_URL and that the shop is reachable."
        )
        return [CheckResult("answers", False, f"{failure.kind}: {failure.message}", fix)]
    elapsed = (time.monotonic() - started) * 1000
    scopes = [s for s in shop["scopes"] if s]
    results = [CheckResult("answers", True, f"shop {shop['shop']!r} in {elapsed:.0f} ms")]
    has_orders = SHOPIFY_NEEDED_SCOPE in scopes or SHOPIFY_OLD_ORDERS_SCOPE in scopes
    detail = "granted: " + (", ".join(scopes) or "nothing")
    if has_orders and SHOPIFY_OLD_ORDERS_SCOPE not in scopes:
        detail += " (orders older than 60 days need read_all_orders)"
    results.append(
        CheckResult(
            "permissions",
            has_orders,
            detail,
            "" if has_orders else "Grant the custom app the read_orders scope and reinstall it.",
        )
    )
    return results


def _lookup(source: OrderSource, order_id: str) -> CheckResult:
    started = time.monotonic()
    try:
        order = source.lookup(order_id)
    except SourceUnavailable as failure:
        elapsed = (time.monotonic() - started) * 1000
        return CheckResult(
            "lookup",
            False,
            f"{order_id}: {failure.kind} after {elapsed:.0f} ms: {failure.message}",
            "See the lines above; SHOPMATE_ORDER_TIMEOUT_S bounds each lookup.",
        )
    elapsed = (time.monotonic() - started) * 1000
    found = f"found, {order['status']}" if order else "not found"
    return CheckResult("lookup", True, f"{order_id}: {found} in {elapsed:.0f} ms")


def print_check(results: list[CheckResult], out: TextIO) -> int:
    """One line per check (and its fix); 1 if any failed, for `shopmate orders check`."""
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        out.write(f"{mark} {result.name:<12} {result.detail}\n")
        if result.fix and not result.ok:
            out.write(f"     {'':<12} fix: {result.fix}\n")
    return 0 if all(r.ok for r in results) else 1
