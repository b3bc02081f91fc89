"""Logging for ShopMate processes: one format, and secrets masked whatever a library logs."""

from __future__ import annotations

import logging
import re

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


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr with timestamps; idempotent, so tests and the CLI can both call it."""
    root = logging.getLogger()
    root.setLevel(level)
    if not any(getattr(h, "_shopmate", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(SecretMaskingFilter())
        handler._shopmate = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    # The HTTP client logs every request at INFO; that is noise in a bot's log.
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, root.level))
