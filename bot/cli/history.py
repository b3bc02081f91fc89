"""`shopmate history list|export|purge`: find, export or purge stored conversations."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.cli import preflight
from bot.cli.base import EXIT_FAILURE, Add, Parser
from bot.cli.preflight import CommandError, open_existing
from bot.settings import Settings

CONFIRM_WORD = "delete"


def register(sub: Any, add: Add) -> None:
    """Add `history` and its actions to the `shopmate` subparsers."""
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
    preflight.add_list_options(p, since_what="conversations active", limit=100, limit_help="")
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
    from bot.cli.thread_names import UnknownThread, resolve

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
