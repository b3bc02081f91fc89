"""One way to call Slack's Web API: a budget slot, the call, Slack's error code, a 429's penalty.

Every Slack call of the running bot goes through `SlackCalls`, so each one draws on the
workspace's shared `CallBudget` (bot/slack/budget.py, or the database-wide one in
bot/slack/shared_budget.py) the same way, and a 429 that still comes puts the method on hold
for every caller (Retry-After, bot/slack/retry_after.py) instead of only the one that met it.
Four kinds of call, by how much they matter:

- `call`: the slot is already taken (or the method has no limit): just the call;
- `now`: a progress or cosmetic call takes a free slot now or is skipped (None);
- `waited`: waits its turn (bounded) for a slot, then calls once;
- `final`: a call that must land (an answer's last text, chat.stopStream, retiring a message)
  waits its turn, and what may pass next time is tried again: a 429 after its Retry-After
  (the next slot comes after the hold), any other failure after a short pause, doubled each
  time; an error retrying cannot help (`settled`) is returned at once.

None of them raises: the outcome carries Slack's error code ("connection" for a network
failure after the client's own retries, "no_budget" when no slot came in time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.budget import CallBudget, Reservation
from bot.slack.errors import RATE_LIMITED, SETTLED
from bot.slack.retry_after import retry_after

logger = logging.getLogger(__name__)

FINAL_ATTEMPTS = 4  # tries of a call that must land
FINAL_WAIT_S = 120.0  # the longest a final call waits for budget, per try
RETRY_BACKOFF_S = 0.5  # first pause after a transient failure, doubled each time
CONNECTION = "connection"
NO_BUDGET = "no_budget"


@dataclass
class Outcome:
    """What one Slack call ended with: its response, or Slack's error code."""

    response: Any | None = None
    error: str | None = None  # Slack's error code, "connection", or "no_budget"
    retry_after: float | None = None  # a 429's wait, as the budget was told

    @property
    def ok(self) -> bool:
        return self.error is None


class SlackCalls:
    """Slack Web API calls paced by `budget` (None: no budget, as for clicks without one).

    The budget key of a call is its workspace (`team`) and, for the methods Slack limits per
    channel (chat.postMessage), the call's own `channel` argument.
    """

    def __init__(
        self, budget: CallBudget | None = None, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.budget = budget
        self.sleep = sleep

    def call(self, client: WebClient, team: str | None, method: str, /, **kwargs: Any) -> Outcome:
        """Make one call whose slot is taken (or needs none); log a failure by method and code."""
        fn = getattr(client, method.replace(".", "_"))  # a misspelt method is a bug: raise
        try:
            return Outcome(fn(**kwargs))
        except SlackApiError as error:
            response = error.response
            code = (response.get("error") if response is not None else None) or "unknown_error"
            outcome = Outcome(response, error=code)
            if response is not None and (code == "ratelimited" or response.status_code == 429):
                outcome.error = "ratelimited"
                outcome.retry_after = retry_after(response.headers)
                if self.budget is not None and team is not None:
                    self.budget.penalize(
                        team, method, outcome.retry_after, channel=kwargs.get("channel")
                    )
            logger.warning("Slack API error: method=%s error=%s", method, outcome.error)
            return outcome
        except Exception as error:  # connection failures after the client's retries
            logger.warning(
                "Slack API call failed: method=%s error=%s", method, type(error).__name__
            )
            return Outcome(error=CONNECTION)

    def now(
        self,
        client: WebClient,
        team: str,
        method: str,
        /,
        *,
        optional: bool = False,
        owner: str | None = None,
        **kwargs: Any,
    ) -> Outcome | None:
        """A call that takes a free slot now or is not made (None); `optional` and `owner` as
        in `CallBudget.try_acquire` (a progress update, taking its turn among replies)."""
        if self.budget is not None and not self.budget.try_acquire(
            team, method, channel=kwargs.get("channel"), optional=optional, owner=owner
        ):
            return None
        return self.call(client, team, method, **kwargs)

    def waited(
        self,
        client: WebClient,
        team: str,
        method: str,
        /,
        *,
        timeout: float,
        reservation: Reservation | None = None,
        **kwargs: Any,
    ) -> Outcome:
        """Wait (at most `timeout`) for a slot, first come first served, then call once."""
        if self.budget is not None and not self.budget.acquire(
            team, method, channel=kwargs.get("channel"), timeout=timeout, reservation=reservation
        ):
            logger.warning("No %s budget within %.0f s in %s", method, timeout, team)
            return Outcome(error=NO_BUDGET)
        return self.call(client, team, method, **kwargs)

    def final(
        self,
        client: WebClient,
        team: str,
        method: str,
        /,
        *,
        timeout: float = FINAL_WAIT_S,
        reservation: Reservation | None = None,
        settled: Collection[str] = SETTLED,
        attempts: int = FINAL_ATTEMPTS,
        **kwargs: Any,
    ) -> Outcome:
        """A call that must land: wait for budget, retry what may pass next time (bounded).

        A 429 holds every caller of the method for Retry-After (capped) and is tried again in
        the slot after the hold; a transient failure is tried again after a short pause; an
        error in `settled` (about the message, the channel, the token) is returned at once,
        for the caller to decide. `reservation` (a slot promised to this call) is used first.
        """
        outcome = Outcome(error=NO_BUDGET)
        for attempt in range(attempts):
            outcome = self.waited(
                client, team, method, timeout=timeout, reservation=reservation, **kwargs
            )
            reservation = None
            if outcome.ok or outcome.error in settled or outcome.error == NO_BUDGET:
                return outcome
            if outcome.error not in RATE_LIMITED and attempt + 1 < attempts:
                self.sleep(RETRY_BACKOFF_S * 2**attempt)
        return outcome
