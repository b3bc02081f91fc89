"""The `shopmate` command line: chat, orders, serve, run, demo, stats, history, describe."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.logging_setup import configure_logging
from bot.settings import Settings, SettingsError, parse_days

logger = logging.getLogger(__name__)

EXIT_USAGE = 2


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        settings = Settings.load()
        configure_logging(args.log_level or settings.log_level)
        return args.handler(args, settings)
    except SettingsError as error:
        print(f"shopmate: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as error:
        print(f"shopmate: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopmate", description="ShopMate, ThreadCo's Claude-powered support bot for Slack."
    )
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = add("chat", cmd_chat, "Talk to ShopMate in the terminal (needs ANTHROPIC_API_KEY).")
    p.add_argument("--thread", default="default", help="conversation name to start or resume")

    p = add("serve", cmd_serve, "Serve the Slack Events API over HTTP (production).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)

    add("run", cmd_run, "Connect to Slack with Socket Mode (no public URL needed).")

    p = add("demo", cmd_demo, "Play ShopMate offline against simulated Slack and Claude.")
    p.add_argument("--interactive", action="store_true", help="type the messages yourself")
    p.add_argument(
        "--data-dir", type=Path, default=Path(".shopmate-demo"), help="where the demo database goes"
    )
    p.add_argument("--pace", type=float, default=40.0, help="simulated tokens per second")

    orders = sub.add_parser("orders", help="Import and look up orders.")
    orders_sub = orders.add_subparsers(dest="orders_command", metavar="ACTION")
    p = orders_sub.add_parser("import", help="Upsert orders from a CSV or JSON file.")
    p.add_argument("file", type=Path)
    p.add_argument("--strict", action="store_true", help="import nothing if any row is bad")
    p.set_defaults(handler=cmd_orders_import)
    p = orders_sub.add_parser("show", help="Show one order as get_order returns it.")
    p.add_argument("order_id")
    p.set_defaults(handler=cmd_orders_show)

    p = add("stats", cmd_stats, "Turns, tokens and estimated cost per day and channel.")
    p.add_argument("--days", type=int, default=30, help="how many days back (default 30)")

    history = sub.add_parser("history", help="Export or purge stored conversations.")
    history_sub = history.add_subparsers(dest="history_command", metavar="ACTION")
    p = history_sub.add_parser("purge", help="Delete conversations older than a duration.")
    p.add_argument(
        "--older-than", required=False, help="e.g. 90d (default: SHOPMATE_RETENTION_DAYS)"
    )
    p.set_defaults(handler=cmd_history_purge)
    p = history_sub.add_parser("export", help="Write one conversation as JSON.")
    p.add_argument("thread", help="thread key, e.g. slack:T0001:C0001:1700000000.000100")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    p.set_defaults(handler=cmd_history_export)

    from bot.describe.cli import register as register_describe

    register_describe(sub)
    return parser


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal import chat
    from bot.wiring import build_services

    services = build_services(settings)
    try:
        return chat(services.conversations, f"local:{args.thread}", stdin=sys.stdin, out=sys.stdout)
    finally:
        services.close()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.slack.server import serve

    return serve(settings, host=args.host, port=args.port)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.slack.server import run_socket_mode

    return run_socket_mode(settings)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.demo import run_demo

    return run_demo(data_dir=args.data_dir, interactive=args.interactive, tokens_per_s=args.pace)


def cmd_orders_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.orders_import import ImportFailed, parse_orders
    from storage import open_storage

    try:
        result = parse_orders(args.file, id_pattern=settings.order_id_pattern)
    except ImportFailed as error:
        raise CommandError(f"nothing imported: {error}") from None
    for problem in [*result.errors, *result.warnings]:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if args.strict and result.errors:
        raise CommandError(f"nothing imported: {len(result.errors)} bad row(s) and --strict")
    storage = open_storage(settings.db_path)
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
    from bot.tools import get_order_tool
    from storage import open_storage

    storage = open_storage(settings.db_path)
    try:
        tool = get_order_tool(storage.orders, id_pattern=settings.order_id_pattern)
        result = tool.handler({"order_id": args.order_id})
    finally:
        storage.close()
    print(json.dumps(result.content, indent=2, ensure_ascii=False))
    return 1 if result.is_error else 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from bot.stats import print_stats

    if args.days < 1:
        raise CommandError("--days must be at least 1")
    return print_stats(settings, days=args.days, out=sys.stdout)


def cmd_history_purge(args: argparse.Namespace, settings: Settings) -> int:
    from storage import open_storage

    if args.older_than:
        try:
            days = parse_days(args.older_than)
        except ValueError:
            raise CommandError(f"--older-than {args.older_than!r}: give days, e.g. 90d") from None
    elif settings.retention_days:
        days = settings.retention_days
    else:
        raise CommandError("give --older-than, e.g. 90d, or set SHOPMATE_RETENTION_DAYS")
    cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    storage = open_storage(settings.db_path)
    try:
        removed = storage.conversations.purge_older_than(cutoff)
    finally:
        storage.close()
    print(
        f"Removed conversations idle for over {days} day(s): "
        + ", ".join(f"{n} {what}" for what, n in removed.items())
    )
    return 0


def cmd_history_export(args: argparse.Namespace, settings: Settings) -> int:
    from storage import open_storage

    storage = open_storage(settings.db_path)
    try:
        exported = storage.conversations.export(args.thread)
    finally:
        storage.close()
    if exported is None:
        raise CommandError(f"no conversation {args.thread!r} in {settings.db_path}")
    text = json.dumps(exported, indent=2, ensure_ascii=False)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"Wrote {args.thread} to {args.output}")
    else:
        print(text)
    return 0
