"""`shopmate chat`: talk to ShopMate in the terminal, locally or, with --url, through the API."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bot.cli import preflight
from bot.cli.base import Add
from bot.cli.preflight import CommandError
from bot.settings import Settings, SettingsError


def register(sub: Any, add: Add) -> None:
    """Add `chat` to the `shopmate` subparsers."""
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


def add_remote_chat_options(parser: argparse.ArgumentParser) -> None:
    """`shopmate chat --url URL [--api-key KEY]`: talk to a remote API instead."""
    parser.add_argument(
        "--url",
        help="talk to this ShopMate API, e.g. http://127.0.0.1:8000 (default: no API, local)",
    )
    parser.add_argument("--api-key", help="with --url: the API key (default: SHOPMATE_API_KEY)")
    parser.add_argument(
        "--conversation",
        help="with --url: resume this conversation id (default: start a new one)",
    )


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
    from bot.cli.logging_setup import hold_console_logs
    from bot.keys import Key
    from bot.lifecycle import TurnLifecycle
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


def cmd_remote_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.api.client import ApiClient, ApiError, remote_chat

    key = args.api_key or settings.api_key
    if not key:
        raise SettingsError(
            "SHOPMATE_API_KEY is not set. Pass --api-key or set SHOPMATE_API_KEY to a key from "
            "`shopmate api-keys create NAME`."
        )
    with ApiClient(args.url, key) as client:
        try:
            return remote_chat(
                client, stdin=sys.stdin, out=sys.stdout, conversation_id=args.conversation
            )
        except ApiError as failure:
            raise CommandError(f"{args.url} refused: {failure.message}") from None
