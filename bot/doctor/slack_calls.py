"""How the doctor calls Slack: one quiet WebClient per token, and one call that turns any
failure into Slack's error code (`SlackCallFailed`), shared by the Slack and people checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.settings import Settings

logger = logging.getLogger(__name__)

AREA = "slack"
TIMEOUT_S = 10.0
REINSTALL_FIX = (
    "Add them under OAuth & Permissions → Scopes (or paste manifest.yml again under App "
    "Manifest), then reinstall the app to the workspace."
)


class SlackCallFailed(Exception):
    """A Web API call that did not succeed: Slack's error code, or 'connection'."""

    def __init__(self, code: str, detail: str = "", needed: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.needed = needed


def web_client(settings: Settings, token: str | None) -> WebClient:
    # slack_sdk logs each failed call at ERROR; the report says it once, so keep it quiet.
    quiet = logging.getLogger(f"{__name__}.client")
    quiet.setLevel(logging.DEBUG if logger.isEnabledFor(logging.DEBUG) else logging.CRITICAL)
    return WebClient(token=token, base_url=settings.slack_api_url, timeout=TIMEOUT_S, logger=quiet)


def call(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Make one Web API call; raise SlackCallFailed with Slack's error code on failure."""
    try:
        return fn(**kwargs)
    except SlackApiError as error:
        data = error.response.data if isinstance(error.response.data, dict) else {}
        code = data.get("error") or f"HTTP {error.response.status_code}"
        raise SlackCallFailed(str(code), needed=data.get("needed")) from None
    except (OSError, ValueError) as error:  # URLError and timeouts are OSErrors
        reason = getattr(error, "reason", None) or error
        raise SlackCallFailed("connection", detail=str(reason)) from None
