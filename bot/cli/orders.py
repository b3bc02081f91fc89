"""`shopmate orders import|show|check`: load orders, look one up as Claude would, check the
source."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli import preflight
from bot.cli.base import Add, Parser
from bot.cli.preflight import CommandError, open_existing
from bot.settings import Settings


def register(sub: Any, add: Add) -> None:
    """Add `orders` and its actions to the `shopmate` subparsers."""
    orders = add(
        sub, "orders", None, "Import, look up and check orders (actions: import, show, check)."
    )
    orders_sub = orders.add_subparsers(dest="orders_command", metavar="ACTION", parser_class=Parser)
    p = add(orders_sub, "import", cmd_orders_import, "Upsert orders from a CSV or JSON file.")
    p.add_argument("file", type=Path, help="CSV with order_id,status,item,eta,tracking, or JSON")
    p.add_argument(
        "--strict",
        action="store_true",
        help="import nothing if any row is bad (default: skip bad rows, import the rest)",
    )
    p = add(orders_sub, "show", cmd_orders_show, "Show one order, as get_order finds it.")
    p.add_argument("order_id", help="the order id, e.g. ORD-1001")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the JSON Claude receives (default: a summary for people)",
    )

    p = add(
        orders_sub,
        "check",
        cmd_orders_check,
        "Check the order source: that it answers, its permissions, one lookup and its time.",
    )
    p.add_argument("order_id", nargs="?", help="an order id to look up (default: ORD-1001)")


def cmd_orders_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.orders_import import ImportFailed, parse_orders
    from storage import open_storage

    preflight.check_database(settings.storage_target, must_exist=False)
    try:
        result = parse_orders(args.file, id_pattern=settings.order_id_pattern)
    except ImportFailed as error:
        raise CommandError(f"nothing imported: {error}") from None
    for problem in [*result.errors, *result.warnings]:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if args.strict and result.errors:
        raise CommandError(f"nothing imported: {len(result.errors)} bad row(s) and --strict")
    storage = open_storage(settings.storage_target)
    try:
        counts = storage.orders.upsert_many(result.rows)
    finally:
        storage.close()
    print(
        f"Imported {len(result.rows)} order(s) into {settings.db_path}: "
        f"{counts['inserted']} new, {counts['updated']} updated, {len(result.errors)} skipped."
    )
    return 1 if result.errors else 0


def cmd_orders_show(args: argparse.Namespace, settings: Settings) -> int:
    from bot.orders import build_order_service
    from bot.tools import get_order_tool

    with open_existing(settings) as storage:
        orders = build_order_service(settings, storage)
        try:
            tool = get_order_tool(orders, id_pattern=settings.order_id_pattern)
            result = tool.handler({"order_id": args.order_id})
        finally:
            close = getattr(orders.source, "close", None)
            if close is not None:
                close()
    if args.json:
        print(json.dumps(result.content, indent=2, ensure_ascii=False))
    elif result.is_error:
        print(result.content["error"].split(". Ask the customer")[0] + ".")
    else:
        print(describe_order(result.content))
    return 1 if result.is_error else 0


def cmd_orders_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.orders.check import check_order_source, print_check

    return print_check(check_order_source(settings, args.order_id), sys.stdout)


def describe_order(order: dict[str, Any]) -> str:
    """An order as a person reads it, from the fields get_order gives Claude."""
    lines = [f"{order['order_id']}: {order['status']}", f"  Item:      {order['item']}"]
    if order.get("estimated_delivery"):
        lines.append(f"  Delivery:  {order['estimated_delivery']}")
    if order.get("tracking_number"):
        carrier = f" ({order['carrier']})" if order.get("carrier") else ""
        link = f"  {order['track_url']}" if order.get("track_url") else ""
        lines.append(f"  Tracking:  {order['tracking_number']}{link}{carrier}")
    if order.get("as_of"):
        lines.append(f"  As of:     {order['as_of']} (the order system is not answering)")
    return "\n".join(lines)
