"""Console logging follows the current stderr: a later CLI run never logs to a closed file."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from bot.cli.logging_setup import configure_logging


def test_log_lines_go_to_the_stderr_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    configure_logging()
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging()  # idempotent: the handler made earlier is kept
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    first.close()  # what pytest does to a capture between tests

    logging.getLogger("shopmate.test").warning("where does this go")

    assert "where does this go" in second.getvalue()
