"""Builds the Anthropic client ShopMate uses: the SDK's own retries, with a cap on waits."""

from __future__ import annotations

import logging
from typing import Any

import anthropic

from bot.settings import Settings, SettingsError

logger = logging.getLogger(__name__)


class CappedRetryAnthropic(anthropic.Anthropic):
    """The SDK client, but a server's `retry-after` can never park a thread for long.

    The SDK honours `retry-after` / `retry-after-ms` with no upper bound (an overloaded API
    may say "come back in an hour"), while a Slack user is watching a spinner. We keep the
    SDK's retry policy (429, 529, 5xx, connection errors) and only cap each wait. There is no
    public hook for this, so we override the one method that computes the wait.
    """

    def __init__(
        self, *args: Any, max_retry_wait: float = Settings.max_retry_wait, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_retry_wait = max_retry_wait

    def _calculate_retry_timeout(self, *args: Any, **kwargs: Any) -> float:
        wait = super()._calculate_retry_timeout(*args, **kwargs)
        capped = min(wait, self.max_retry_wait)
        if capped < wait:
            logger.info("Claude asked for a %.1fs wait; waiting %.1fs", wait, capped)
        return capped


def make_client(settings: Settings) -> anthropic.Anthropic:
    """An Anthropic client configured from settings; fails early if no key is set."""
    if not settings.anthropic_api_key:
        raise SettingsError(
            "ANTHROPIC_API_KEY is not set. Create a key at console.anthropic.com and put "
            "ANTHROPIC_API_KEY=... in .env (or run `shopmate demo` to try ShopMate offline)."
        )
    return CappedRetryAnthropic(
        api_key=settings.anthropic_api_key,
        base_url=settings.anthropic_base_url,
        max_retries=settings.anthropic_max_retries,
        max_retry_wait=settings.max_retry_wait,
    )
