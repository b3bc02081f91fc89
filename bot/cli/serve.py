"""`shopmate serve` (the Events API over HTTP) and `shopmate run` (Socket Mode): the Slack bot."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli import preflight
from bot.cli.base import Add
from bot.settings import Settings


def register(sub: Any, add: Add) -> None:
    """Add `serve` and `run` to the `shopmate` subparsers."""
    p = add(sub, "serve", cmd_serve, "Serve the Slack Events API over HTTP (production).")
    preflight.add_listen_options(p, default_port=3000)

    add(sub, "run", cmd_run, "Connect to Slack with Socket Mode (no public URL needed).")


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
    from bot.cli import lean

    lean.leave_out()  # before the SDKs are imported: what `serve` never uses stays out
    from bot.slack.server import serve  # after the checks: a mistake is reported in a blink

    return serve(settings, host=args.host, port=args.port)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    _check_slack(settings, "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "ANTHROPIC_API_KEY")
    preflight.verify_slack(settings)
    from bot.cli import lean

    # Socket Mode here is slack_sdk's websocket-client one: no aiohttp either.
    lean.leave_out()
    from bot.slack.server import run_socket_mode

    return run_socket_mode(settings)
