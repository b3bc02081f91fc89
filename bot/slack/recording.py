"""Records every Slack message an answer creates against its claim.

`RecordingWebClient` tells the lifecycle the ts of each message it creates, so a successor
that takes the claim over knows what the dead owner already showed (and retires it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

logger = logging.getLogger(__name__)

# Web API methods that create a message in the thread (a native stream is one from its start).
_CREATING_METHODS = frozenset({"chat.postMessage", "chat.startStream"})


class RecordingWebClient(WebClient):
    """A WebClient like `client` that reports the ts of every message it creates.

    Built per answer, as Bolt builds its per-request client. Recording happens in `api_call`,
    which every method (and slack_sdk's `chat_stream` helper) goes through.
    """

    def __init__(self, client: WebClient, on_message: Callable[[str], None]) -> None:
        super().__init__(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            ssl=client.ssl,
            proxy=client.proxy,
            headers=dict(client.headers),
            team_id=client.default_params.get("team_id"),
            logger=client.logger,
            retry_handlers=list(client.retry_handlers) if client.retry_handlers else None,
        )
        self._on_message = on_message

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        response = super().api_call(api_method, **kwargs)
        if api_method in _CREATING_METHODS and response.get("ts"):
            try:
                self._on_message(str(response["ts"]))
            except Exception:
                logger.exception("Could not record reply %s of %s", response["ts"], api_method)
        return response
