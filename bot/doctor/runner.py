"""Runs the doctor's checks in order.

Each area has a module with one function `Settings -> list[Check]` (slack, claude, storage
(SQLite, or PostgreSQL through sources.py), a remote order source (sources.py), policies);
`CHECKS` lists them in the order they are reported; a new check is one more such function.
`--post-test CHANNEL`, the only part that writes, lives in post_test.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from bot.doctor.claude import claude_checks
from bot.doctor.result import Check, problem
from bot.doctor.slack import slack_checks
from bot.doctor.sources import orders_checks
from bot.doctor.storage import policies_checks, storage_checks
from bot.settings import Settings

logger = logging.getLogger(__name__)

CheckGroup = Callable[[Settings], list[Check]]
CHECKS: tuple[CheckGroup, ...] = (
    slack_checks,
    claude_checks,
    storage_checks,
    orders_checks,
    policies_checks,
)


def run_checks(
    settings: Settings,
    *,
    post_test_channel: str | None = None,
    groups: Sequence[CheckGroup] = CHECKS,
) -> list[Check]:
    """Every check, in order. A check that crashes is a problem line; the others still run."""
    checks: list[Check] = []
    for group in groups:
        try:
            checks += group(settings)
        except Exception as error:
            logger.debug("the doctor's %s crashed", group.__name__, exc_info=True)
            checks.append(
                problem(
                    group.__module__.rsplit(".", 1)[-1],
                    group.__name__,
                    f"the check itself failed: {type(error).__name__}: {error}.",
                    "Run with --log-level debug for the details, and report it.",
                )
            )
    if post_test_channel:
        from bot.doctor.post_test import post_test

        checks += post_test(settings, post_test_channel)
    return checks
