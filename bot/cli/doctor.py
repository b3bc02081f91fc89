"""`shopmate doctor [--json] [--post-test CHANNEL]`: the report, exit 0 only with no problem."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.cli.base import EXIT_FAILURE, Add
from bot.settings import SPECS, Settings


def register(sub: Any, add: Add) -> None:
    """Add `shopmate doctor` (`add` is the CLI's helper that adds the common options)."""
    p = add(
        sub,
        "doctor",
        cmd_doctor,
        "Check this deployment (Slack, Claude, the database, the policies), one line per "
        "check with the fix; read-only unless --post-test. Exit status 1 if any problem.",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON, for scripts (default: one line per check)",
    )
    p.add_argument(
        "--post-test",
        metavar="CHANNEL",
        help="also stream a short test reply in CHANNEL (an id: C..., G... or D...), say "
        "whether native streaming or the fallback worked, then delete it (the only option "
        "that writes; default: off)",
    )


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from bot.doctor.render import Redactor, write_json, write_text
    from bot.doctor.runner import run_checks

    checks = run_checks(settings, post_test_channel=args.post_test)
    redact = Redactor(str(getattr(settings, s.attr) or "") for s in SPECS if s.secret)
    (write_json if args.json else write_text)(checks, sys.stdout, redact)
    return EXIT_FAILURE if any(c.status == "problem" for c in checks) else 0
