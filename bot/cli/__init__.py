"""The `shopmate` command line: chat, orders, serve, run, demo, stats, history, describe,
feedback, doctor.

Every command group is a module of this package with the same shape, `register(sub, add)`;
COMMANDS lists them in the order `shopmate --help` shows them. Command modules import what
runs the command inside the handler, so a command that never calls Claude never loads its SDK.

Every mistake a person can make here ends in one line on stderr that names the setting or
option and the fix: exit status 2 for a configuration or usage mistake, 1 for anything else.
The checks behind those lines live in bot/cli/preflight.py; `--log-level debug` adds the details.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bot import __version__
from bot.cli import (
    api,
    chat,
    db,
    demo,
    describe,
    doctor,
    escalations,
    feedback,
    history,
    knowledge,
    orders,
    serve,
    stats,
)
from bot.cli.base import EXIT_FAILURE, EXIT_USAGE, Parser
from bot.cli.logging_setup import configure_logging
from bot.cli.preflight import CommandError, Unavailable
from bot.settings import Settings, SettingsError

logger = logging.getLogger(__name__)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# The command groups, in the order `shopmate --help` lists them; each has `register(sub, add)`.
COMMANDS = (
    chat,
    serve,
    demo,
    orders,
    stats,
    history,
    describe,
    api,
    feedback,
    escalations,
    knowledge,
    doctor,
    db,
)


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

    for command in COMMANDS:
        command.register(sub, add)
    return parser
