"""The outcome of a conversation, and the automated resolution rate built on it.

Each conversation ShopMate answered in ends one of these ways (first match wins):

1. `handed_off`: a person was brought in (an escalation or a change request for its thread);
2. `rated_down`: someone rated one of its answers 👎;
3. `failed` / `stopped`: its last answer failed, or the asker stopped it;
4. `resolved`: answered, and the resolution window (SHOPMATE_RESOLUTION_WINDOW_H) has passed
   since the last answer with none of the above;
5. `open`: answered, but still inside that window: not decided yet.

The automated resolution rate is `resolved / decided` (every outcome but `open`): the share of
the conversations ShopMate was involved in that it settled without a person, the way support
platforms count an AI agent's resolutions (see README). Pure functions over
storage.outcomes' facts; no Slack, no SQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

RESOLVED = "resolved"
HANDED_OFF = "handed_off"
RATED_DOWN = "rated_down"
STOPPED = "stopped"
FAILED = "failed"
OPEN = "open"
# In the order tables show them.
OUTCOMES = (RESOLVED, HANDED_OFF, RATED_DOWN, STOPPED, FAILED, OPEN)
WORDS = {
    RESOLVED: "resolved by ShopMate",
    HANDED_OFF: "handed to a person",
    RATED_DOWN: "rated 👎",
    STOPPED: "stopped",
    FAILED: "failed",
    OPEN: "open (inside the resolution window)",
}


def parse_utc(text: str) -> datetime:
    """A stored `*_utc` string as an aware datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def outcome_of(facts: dict[str, Any], *, now: datetime, window: timedelta) -> str:
    """One conversation's outcome from its stored facts (storage.outcomes) at `now`."""
    if facts.get("handoffs"):
        return HANDED_OFF
    if facts.get("negatives"):
        return RATED_DOWN
    status = facts.get("last_status")
    if status == FAILED:
        return FAILED
    if status == STOPPED:
        return STOPPED
    last = facts.get("last_turn_utc")
    if last and now - parse_utc(last) >= window:
        return RESOLVED
    return OPEN


def count_outcomes(
    facts: Iterable[dict[str, Any]], *, now: datetime, window: timedelta
) -> Counter[str]:
    """How many conversations ended each way."""
    return Counter(outcome_of(row, now=now, window=window) for row in facts)


def decided(counts: Counter[str] | dict[str, int]) -> int:
    """Conversations whose outcome is known (all but `open`)."""
    return sum(n for outcome, n in counts.items() if outcome != OPEN)


def resolution_rate(counts: Counter[str] | dict[str, int]) -> float | None:
    """resolved / decided, or None when nothing is decided yet."""
    settled = decided(counts)
    return counts.get(RESOLVED, 0) / settled if settled else None


def rate_text(counts: Counter[str] | dict[str, int]) -> str:
    """'67% (4 of 6)', or '-' when nothing is decided: how people read the rate everywhere."""
    rate = resolution_rate(counts)
    if rate is None:
        return "-"
    return f"{100 * rate:.0f}% ({counts.get(RESOLVED, 0)} of {decided(counts)})"


def exported(facts: list[dict[str, Any]], *, now: datetime, window: timedelta) -> dict[str, Any]:
    """A conversation's outcome as `shopmate history export` writes it (facts of one thread)."""
    hours = window.total_seconds() / 3600
    if not facts:
        return {"outcome": None, "meaning": "ShopMate has not answered in it yet"}
    outcome = outcome_of(facts[0], now=now, window=window)
    return {"outcome": outcome, "meaning": WORDS[outcome], "resolution_window_hours": hours}
