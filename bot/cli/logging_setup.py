"""Logging for ShopMate processes: one format, and secrets masked whatever a library logs."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Callable
from typing import TextIO

from bot.settings import Settings

# Slack bot/app/user tokens, Anthropic keys, and bearer headers a library might echo.
_SECRET = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|sk-ant-[A-Za-z0-9_-]+|Bearer\s+[^\s'\"]+)"
)


def mask_secrets(text: str) -> str:
    """Replace anything that looks like a token or key with a fixed marker."""
    return _SECRET.sub("[redacted]", text)


class SecretMaskingFilter(logging.Filter):
    """Masks tokens in every record, so no setting or header ever reaches a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is now, not what it was when the handler was made.

    `main()` may run many times in one process (tests capture and close stderr between
    runs); a handler bound to the first stream would then fail on a closed file.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure_logging(level: str = Settings.log_level) -> None:
    """Log to stderr with timestamps; idempotent, so tests and the CLI can both call it."""
    root = logging.getLogger()
    root.setLevel(level)
    if not any(getattr(h, "_shopmate", False) for h in root.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(SecretMaskingFilter())
        handler._shopmate = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    # The HTTP client logs every request at INFO; that is noise in a bot's log.
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, root.level))


def hold_console_logs() -> Callable[..., None]:
    """Keep console log lines back until the caller says it is a good moment to print them.

    `shopmate chat` writes a prompt and a streamed answer on stdout; a log line printed on
    stderr in the middle would land inside them. The returned function prints what was held
    (call it between turns); `release(stop=True)` prints the rest and logs directly again.
    """
    root = logging.getLogger()
    console = next((h for h in root.handlers if getattr(h, "_shopmate", False)), None)
    if console is None:
        return lambda stop=False: None
    held = logging.handlers.MemoryHandler(
        capacity=10_000, flushLevel=logging.CRITICAL + 1, target=console, flushOnClose=True
    )
    held.setLevel(console.level)
    held._shopmate = True  # type: ignore[attr-defined]
    root.removeHandler(console)
    root.addHandler(held)

    def release(stop: bool = False) -> None:
        held.flush()
        if stop and held in root.handlers:
            root.removeHandler(held)
            root.addHandler(console)
            held.close()

    return release
