"""The SIGTERM/SIGINT handler only records the request; the main thread does the logging.

Python runs a signal handler on the main thread between bytecodes, possibly inside a log
write; a handler that logged there raised "reentrant call" on stderr and the process hung
instead of draining. So the handler must log nothing, and `_wait` says what happened.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator

import pytest

from bot.slack.server import _wait, stop_on_signals


@pytest.fixture
def restore_signal_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_the_handler_logs_nothing_and_the_main_thread_says_why_it_stops(
    restore_signal_handlers: None, caplog: pytest.LogCaptureFixture
) -> None:
    stop = stop_on_signals()
    handler = signal.getsignal(signal.SIGTERM)
    assert callable(handler)

    with caplog.at_level(logging.DEBUG):
        handler(signal.SIGTERM, None)  # what Python does when SIGTERM arrives
        assert caplog.records == [], "a signal handler must not write to the log"
        assert stop.is_set()

        _wait(stop)  # returns at once: the request is already there
    assert [r.getMessage() for r in caplog.records] == ["SIGTERM: shutting down gracefully"]
