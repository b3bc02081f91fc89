"""`shopmate stats`: turns, tokens and estimated cost per day and channel; the report itself
is bot/cli/stats_report.py, imported when the command runs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.cli import preflight
from bot.cli.base import Add
from bot.settings import Settings


def register(sub: Any, add: Add) -> None:
    """Add `stats` to the `shopmate` subparsers."""
    p = add(sub, "stats", cmd_stats, "Turns, tokens and estimated cost per day and channel.")
    p.add_argument(
        "--days",
        type=preflight.days_argument,
        default=30,
        help="how many days back, today included, 1 to 36500 (default: 30)",
    )


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.stats_report import print_stats

    preflight.check_database(settings.storage_target, must_exist=True)
    return print_stats(settings, days=args.days, out=sys.stdout)
