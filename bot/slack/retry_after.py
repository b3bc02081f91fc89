"""How long Slack asked us to wait: the `Retry-After` of a 429, read from any header mapping.

Read by `SlackCalls` (bot/slack/calls.py), the one way the bot calls Slack, so every caller's
429 holds its method in the budget for the same, capped, time.
"""

from __future__ import annotations

from typing import Any

MAX_RETRY_AFTER_S = 30.0  # a longer Retry-After is waited out only this long per try


def retry_after(headers: Any) -> float:
    """Seconds Slack asked us to wait, capped; 1 when it did not say."""
    raw = None
    if headers is not None:
        for name, value in dict(headers).items():
            if str(name).lower() == "retry-after":
                raw = value[0] if isinstance(value, list) else value
    try:
        wait = float(raw) if raw is not None else 1.0
    except ValueError:
        wait = 1.0
    return min(max(wait, 0.0), MAX_RETRY_AFTER_S)
