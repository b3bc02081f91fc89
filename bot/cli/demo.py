"""`shopmate demo`: ShopMate offline against simulated Slack and Claude (bot/cli/demo_run.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.cli import preflight
from bot.cli.base import Add
from bot.settings import Settings


def register(sub: Any, add: Add) -> None:
    """Add `demo` to the `shopmate` subparsers."""
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


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    if args.data_dir is not None:
        preflight.check_writable_directory("--data-dir", args.data_dir)
    from bot.cli.demo_run import run_demo

    return run_demo(data_dir=args.data_dir, interactive=args.interactive, tokens_per_s=args.pace)
