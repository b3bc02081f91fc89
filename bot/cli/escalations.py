"""`shopmate escalations [--open]`: the hand-offs and change requests people have to look at."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.cli.base import Add
from bot.cli.preflight import open_existing
from bot.handoff.service import describe_request
from bot.settings import Settings


def register(sub: Any, add: Add) -> None:
    """Add the `escalations` command to the `shopmate` subparsers."""
    p = add(
        sub,
        "escalations",
        cmd_escalations,
        "List hand-offs to people and the change requests waiting for an approver.",
    )
    p.add_argument(
        "--open",
        action="store_true",
        help="only open escalations and pending requests (default: all, newest first)",
    )
    p.add_argument(
        "--limit", type=int, default=50, help="show at most this many of each (default: 50)"
    )
    actions = p.add_subparsers(dest="escalations_command", metavar="ACTION")
    resolve = add(
        actions,
        "resolve",
        cmd_resolve,
        "Mark an escalation resolved (it leaves --open; the thread may be escalated again).",
    )
    resolve.add_argument("id", type=int, help="the escalation's number, as listed (#12 -> 12)")
    resolve.add_argument("--note", default="", help="what was done, kept with it (default: none)")
    resolve.add_argument(
        "--by", default="the command line", help="who resolved it (default: the command line)"
    )


def cmd_resolve(args: argparse.Namespace, settings: Settings) -> int:
    with open_existing(settings) as storage:
        outcome = storage.handoff.resolve_escalation(args.id, by=args.by, note=args.note)
    if outcome == "resolved":
        print(f"Escalation #{args.id} is resolved.")
        return 0
    if outcome == "unknown":
        print(
            f"shopmate: there is no escalation #{args.id}. See `shopmate escalations`.",
            file=sys.stderr,
        )
    else:
        print(f"shopmate: escalation #{args.id} is {outcome}; nothing changed.", file=sys.stderr)
    return 1


def cmd_escalations(args: argparse.Namespace, settings: Settings) -> int:
    with open_existing(settings) as storage:
        escalations = storage.handoff.escalations(only_open=args.open, limit=args.limit)
        requests = storage.handoff.requests(only_pending=args.open, limit=args.limit)
    which = "open " if args.open else ""
    print(f"{len(escalations)} {which}escalation(s), newest first:")
    for row in escalations:
        print(
            f"  #{row['id']}  {row['status']}  {_when(row['created_utc'])}  "
            f"{row['reason'].replace('_', ' ')}  order {row['order_id'] or '-'}  "
            f"asked by {row['user'] or '-'}  thread {row['thread_key']}"
        )
        print(f"      {row['summary']}")
        if row.get("resolved_by"):
            resolution = f": {row['resolution']}" if row.get("resolution") else ""
            print(f"      resolved by {row['resolved_by']}{resolution}")
        if row["permalink"]:
            print(f"      {row['permalink']}")
        elif not row["message_ts"]:
            print("      (not posted: no SHOPMATE_ESCALATION_CHANNEL; email line given)")
    which = "pending " if args.open else ""
    print(f"{len(requests)} {which}change request(s), newest first:")
    for row in requests:
        decided = f" by {row['decided_by']}" if row["decided_by"] else ""
        print(
            f"  #{row['id']}  {row['status']}{decided}  {_when(row['created_utc'])}  "
            f"{describe_request(row)}  asked by {row['user'] or '-'}"
        )
        if row["reason"]:
            print(f"      {row['reason']}")
    return 0


def _when(utc: str) -> str:
    return utc[:16].replace("T", " ")
