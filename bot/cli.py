"""The `shopmate` command line: chat, orders, serve, run, demo, stats, history, describe,
feedback, doctor.

Every mistake a person can make here ends in one line on stderr that names the setting or
option and the fix: exit status 2 for a configuration or usage mistake, 1 for anything else.
The checks behind those lines live in bot/preflight.py; `--log-level debug` adds the details.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from bot import __version__, preflight
from bot.api.commands import add_api_commands, add_remote_chat_options, cmd_remote_chat
from bot.feedback_report import add_feedback_command
from bot.logging_setup import configure_logging
from bot.preflight import CommandError, Unavailable, open_existing
from bot.settings import Settings, SettingsError

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

EXIT_FAILURE = 1
EXIT_USAGE = 2
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
CONFIRM_WORD = "delete"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line that points at the command's --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}. See `{self.prog} --help`.\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        # `shopmate orders` with no action: that group's help, not the top-level one.
        getattr(args, "group_parser", parser).print_help()
        return EXIT_USAGE
    # One --log-level action is shared by every parser (default: absent), so read it safely.
    level = getattr(args, "log_level", None)
    configure_logging(level or "INFO")
    try:
        settings = Settings.load()
        configure_logging(level or settings.log_level)
        return handler(args, settings)
    except SettingsError as error:  # ConfigError too
        return _fail(error, EXIT_USAGE)
    except (CommandError, Unavailable) as error:
        return _fail(error, EXIT_FAILURE)
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except Exception as error:
        # A bug or an environment we did not foresee: still one line, details on request.
        return _fail(
            f"{type(error).__name__}: {error} (run with --log-level debug for details)",
            EXIT_FAILURE,
        )


def _fail(error: object, status: int) -> int:
    logger.debug("the details behind the next line:", exc_info=True)
    print(f"shopmate: {error}", file=sys.stderr)
    return status


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=argparse.SUPPRESS,
        help="how much to log: debug, info, warning or error (default: SHOPMATE_LOG_LEVEL, INFO)",
    )
    parser = Parser(
        prog="shopmate",
        description="ShopMate, ThreadCo's Claude-powered support bot for Slack. Settings come "
        "from the environment and from .env in the current directory.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"shopmate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def add(
        group: Any, name: str, handler: Callable[..., int] | None, help_text: str
    ) -> argparse.ArgumentParser:
        p = group.add_parser(name, help=help_text, description=help_text, parents=[common])
        if handler is not None:
            p.set_defaults(handler=handler)
        else:
            p.set_defaults(group_parser=p)
        return p

    p = add(sub, "chat", cmd_chat, "Talk to ShopMate in the terminal (needs ANTHROPIC_API_KEY).")
    p.add_argument(
        "--thread",
        default="default",
        help="conversation name to start or resume; stored as local:NAME (default: default)",
    )
    p.add_argument(
        "--file",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="an image (PNG, JPEG, GIF, WebP) or PDF sent with your first question; repeatable "
        "(default: none)",
    )
    add_remote_chat_options(p)

    p = add(sub, "serve", cmd_serve, "Serve the Slack Events API over HTTP (production).")
    preflight.add_listen_options(p, default_port=3000)

    add(sub, "run", cmd_run, "Connect to Slack with Socket Mode (no public URL needed).")

    p = add(sub, "demo", cmd_demo, "Play ShopMate offline against simulated Slack and Claude.")
    p.add_argument(
        "--interactive",
        action="store_true",
        help="type the messages yourself (default: play the sample conversation)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the demo database in this directory, across runs "
        "(default: a fresh temporary directory each run)",
    )
    p.add_argument(
        "--pace",
        type=preflight.pace_argument,
        default=40.0,
        help="simulated Claude speed in tokens per second, 1 to 10000 (default: 40)",
    )

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

    p = add(sub, "stats", cmd_stats, "Turns, tokens and estimated cost per day and channel.")
    p.add_argument(
        "--days",
        type=preflight.days_argument,
        default=30,
        help="how many days back, today included, 1 to 36500 (default: 30)",
    )

    history = add(
        sub, "history", None, "Find, export or purge stored conversations (list, export, purge)."
    )
    history_sub = history.add_subparsers(
        dest="history_command", metavar="ACTION", parser_class=Parser
    )
    p = add(history_sub, "list", cmd_history_list, "List stored conversations, newest first.")
    p.add_argument(
        "--channel", help="only this Slack channel id, e.g. C0123ABCD (default: every channel)"
    )
    p.add_argument(
        "--since",
        type=preflight.since_argument,
        help="only conversations active in this period, e.g. 7d or 2w (default: any time)",
    )
    p.add_argument(
        "--limit",
        type=preflight.limit_argument,
        default=100,
        help="show at most this many (default: 100)",
    )
    p = add(
        history_sub, "export", cmd_history_export, "Write one conversation as JSON (data requests)."
    )
    p.add_argument(
        "thread",
        help="the conversation: a chat --thread name (t3), a Slack permalink, "
        "CHANNEL/TS, or a key from `history list`",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        help="file to write; its directory must exist (default: stdout)",
    )
    p = add(
        history_sub,
        "purge",
        cmd_history_purge,
        "Delete conversations idle for longer than a period; asks first.",
    )
    p.add_argument(
        "--older-than",
        type=preflight.duration_argument,
        help="idle period, e.g. 90d or 12w, at least 1d (default: SHOPMATE_RETENTION_DAYS)",
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help="delete without asking (default: ask on a terminal, refuse otherwise)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="only count what would be deleted (default: off)",
    )

    from bot.describe.cli import register as register_describe

    register_describe(sub)
    add_api_commands(sub, add)
    add_feedback_command(sub, add)
    from bot.handoff.cli import register as register_handoff

    register_handoff(sub, add)
    from bot.policies.check import register as register_knowledge

    register_knowledge(sub, add)
    from bot.doctor.cli import register as register_doctor

    register_doctor(sub, add)

    from bot.db_commands import register as register_db

    register_db(sub, add)
    return parser


# -- Slack and Claude --------------------------------------------------------------------------


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    if args.url:
        if args.file:
            raise CommandError(
                "--file sends a file from the local chat; over --url, put it in "
                "the API's `attachments` (see README, HTTP API)"
            )
        return cmd_remote_chat(args, settings)
    for path in args.file:
        if not path.is_file():
            raise CommandError(f"--file {path}: no such file")
    settings.require("ANTHROPIC_API_KEY")
    preflight.check_database(settings.storage_target, must_exist=False)
    from bot.keys import Key
    from bot.lifecycle import TurnLifecycle
    from bot.logging_setup import hold_console_logs
    from bot.terminal import chat
    from bot.wiring import build_services

    services = build_services(settings)
    # Log lines wait until the answer is written, so they never land inside the prompt.
    release_logs = hold_console_logs()
    try:
        return chat(
            TurnLifecycle(services, owner=f"terminal:{os.getpid()}"),
            Key.local(args.thread),
            stdin=sys.stdin,
            out=sys.stdout,
            between_turns=release_logs,
            files=args.file,
        )
    finally:
        release_logs(stop=True)
        services.close()


def _check_slack(settings: Settings, *names: str) -> None:
    """What `serve` and `run` share: settings present, tokens of the right kind, database."""
    settings.require(*names)
    preflight.check_bot_token(settings.slack_bot_token)
    preflight.check_app_token(settings.slack_app_token if "SLACK_APP_TOKEN" in names else None)
    preflight.check_signing_secret(settings.slack_signing_secret)
    preflight.retention_days(settings)
    preflight.check_database(settings.storage_target, must_exist=False)
    if settings.knowledge_dir is not None:  # a bad folder is said before Slack is asked
        from bot.policies.documents import load_documents

        load_documents(settings.knowledge_dir)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    _check_slack(settings, "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "ANTHROPIC_API_KEY")
    preflight.check_listen_address(args.host, args.port)
    preflight.verify_slack(settings)
    from bot import lean

    lean.leave_out()  # before the SDKs are imported: what `serve` never uses stays out
    from bot.slack.server import serve  # after the checks: a mistake is reported in a blink

    return serve(settings, host=args.host, port=args.port)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    _check_slack(settings, "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "ANTHROPIC_API_KEY")
    preflight.verify_slack(settings)
    from bot.slack.server import run_socket_mode

    return run_socket_mode(settings)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    if args.data_dir is not None:
        preflight.check_writable_directory("--data-dir", args.data_dir)
    from bot.demo import run_demo

    return run_demo(data_dir=args.data_dir, interactive=args.interactive, tokens_per_s=args.pace)


# -- orders ------------------------------------------------------------------------------------


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


# -- usage and history -------------------------------------------------------------------------


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from bot.stats import print_stats

    preflight.check_database(settings.storage_target, must_exist=True)
    return print_stats(settings, days=args.days, out=sys.stdout)


def cmd_history_list(args: argparse.Namespace, settings: Settings) -> int:
    since = None
    if args.since is not None:
        since = datetime.now(UTC) - timedelta(days=args.since)
    with open_existing(settings) as storage:
        rows = storage.conversations.summaries(
            channel=args.channel, since_utc=since, limit=args.limit
        )
    if not rows:
        print(f"No conversations in {settings.db_path}{_filters(args)}.")
        return 0
    print(f"{len(rows)} conversation(s) in {settings.db_path}{_filters(args)}, newest first:")
    table = [("key", "messages", "size", "last active (UTC)")]
    table += [
        (
            row["thread_key"],
            str(row["messages"]),
            _size(row["content_bytes"]),
            row["updated_utc"][:16].replace("T", " "),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    for line in table:
        print(
            f"  {line[0].ljust(widths[0])}  {line[1].rjust(widths[1])}  "
            f"{line[2].rjust(widths[2])}  {line[3]}"
        )
    if len(rows) == args.limit:
        print(f"(the {args.limit} most recent; --limit shows more)")
    print("Export one with: shopmate history export KEY -o FILE.json")
    return 0


def _filters(args: argparse.Namespace) -> str:
    parts = []
    if args.channel:
        parts.append(f"channel {args.channel}")
    if args.since:
        parts.append(f"active in the last {args.since} day(s)")
    return f" ({', '.join(parts)})" if parts else ""


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB"


def cmd_history_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.thread_names import UnknownThread, resolve

    if args.output is not None:
        preflight.check_output_file("-o", args.output)
    with open_existing(settings) as storage:
        try:
            key = resolve(storage.conversations, args.thread)
        except UnknownThread as error:
            raise CommandError(
                f"{error} in {settings.db_path}; `shopmate history list` shows what is stored"
            ) from None
        exported = storage.conversations.export(key)
        if exported is not None:
            exported["outcome"] = _outcome(storage, key, settings)
    text = json.dumps(exported, indent=2, ensure_ascii=False)
    if args.output is None:
        print(text)
        return 0
    try:
        args.output.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        raise CommandError(f"-o {args.output}: {error.strerror}") from None
    print(f"Wrote {key} to {args.output}")
    return 0


def _outcome(storage: Any, key: str, settings: Settings) -> dict:
    """How the conversation ended (bot/outcomes.py), as of now."""
    from bot import outcomes

    return outcomes.exported(
        storage.outcomes.facts(thread_key=key),
        now=datetime.now(UTC),
        window=timedelta(hours=settings.resolution_window_hours),
    )


def cmd_history_purge(args: argparse.Namespace, settings: Settings) -> int:
    days = args.older_than or preflight.retention_days(settings)
    if not days:
        raise CommandError(
            "give --older-than, e.g. 90d, or set SHOPMATE_RETENTION_DAYS (0 keeps everything)"
        )
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with open_existing(settings) as storage:
        counts = storage.conversations.count_older_than(cutoff)
        where = f"idle for over {days} day(s), since before {cutoff:%Y-%m-%d %H:%M} UTC"
        if not counts["conversations"] and not counts["events"]:
            print(f"Nothing to remove: no conversations {where} in {settings.db_path}.")
            return 0
        print(f"Would remove {_counts(counts)} {where}, from {settings.db_path}.")
        if args.dry_run:
            print("Dry run: nothing removed.")
            return 0
        if not args.yes and not _confirmed(sys.stdin, sys.stdout):
            return EXIT_FAILURE
        removed = storage.conversations.purge_older_than(cutoff)
    print(f"Removed conversations idle for over {days} day(s): {_counts(removed)}")
    return 0


def _counts(counts: dict[str, int]) -> str:
    # Attached files are named only when there are some; their links are bookkeeping.
    shown = {k: n for k, n in counts.items() if k != "file links" and (n or k != "files")}
    return ", ".join(f"{n} {what}" for what, n in shown.items())


def _confirmed(stdin: TextIO, out: TextIO) -> bool:
    """A typed confirmation on a terminal; without one, say how to go ahead and remove nothing."""
    if not stdin.isatty():
        print(
            "shopmate: nothing removed: no terminal to ask on. Run again with --yes to remove "
            "them, or --dry-run to only count.",
            file=sys.stderr,
        )
        return False
    out.write(f"Type '{CONFIRM_WORD}' to remove them: ")
    out.flush()
    if stdin.readline().strip().lower() == CONFIRM_WORD:
        return True
    print("Nothing removed.", file=out)
    return False
