"""Publishes Home tabs in the background: coalesced per person, debounced, paced.

Nothing here runs on an answer's path: listeners and watchers only mark a person as due and
return. Worker threads render and publish, each publish taking a paced `views.publish` slot
of the workspace's call budget (Tier 4, a key of its own, so it never takes a slot an answer
needs). A person marked again while already due is published once, with the newest data (it
is rendered just before the call); a refresh waits `debounce_s` so that a burst of changes (a
decision, then the thread told) costs one publish. A 429 that still comes puts the method on
hold for everyone and the person back in the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.slack.budget import CallBudget
from bot.slack.calls import SlackCalls
from storage import StorageClosed

logger = logging.getLogger(__name__)

PUBLISH = "views.publish"
# A view rendered for a person: (user, notice or None) -> the view.
Render = Callable[[str, str | None], dict[str, Any]]


class HomePublisher:
    """Marks people due and publishes their Home from `workers` background threads."""

    def __init__(
        self,
        client: WebClient,
        render: Render,
        budget: CallBudget,
        *,
        team: Callable[[], str],
        debounce_s: float = 1.0,
        workers: int = 2,
        slot_wait_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.render = render
        self.budget = budget
        self.calls = SlackCalls(budget)
        self.team = team
        self.debounce_s = debounce_s
        self.slot_wait_s = slot_wait_s
        self.clock = clock
        self._cond = threading.Condition()
        self._due: dict[str, float] = {}  # user -> when to publish
        self._notices: dict[str, str] = {}
        self._workers = workers
        self._threads: list[threading.Thread] = []  # started on the first publish

    # ----- marking people due (returns at once) ------------------------------------------------

    def publish_now(self, user: str) -> None:
        """Someone opened their Home: publish it as soon as a slot allows."""
        self._mark(user, 0.0)

    def refresh(self, users: list[str] | set[str] | frozenset[str], notice: str = "") -> None:
        """Something changed for these people: publish theirs after the debounce."""
        for user in users:
            self._mark(user, self.debounce_s, notice)

    def _mark(self, user: str, delay: float, notice: str = "") -> None:
        if not user:
            return
        with self._cond:
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._work, name=f"home-publisher-{i}", daemon=True)
                    for i in range(self._workers)
                ]
                for thread in self._threads:
                    thread.start()
            due = self.clock() + delay
            # Keep the earlier time: more changes never push a pending publish back.
            self._due[user] = min(self._due.get(user, due), due)
            if notice:
                self._notices[user] = notice
            self._cond.notify_all()

    # ----- the workers -------------------------------------------------------------------------

    def _next(self) -> tuple[str, str | None]:
        with self._cond:
            while True:
                now = self.clock()
                if self._due:
                    user, due = min(self._due.items(), key=lambda item: item[1])
                    if due <= now:
                        del self._due[user]
                        return user, self._notices.pop(user, None)
                    self._cond.wait(due - now)
                else:
                    self._cond.wait()

    def _work(self) -> None:
        """A daemon worker for the process's life: at exit, views still due are dropped (people
        see them when they open Home)."""
        while True:
            job = self._next()
            try:
                self._publish(*job)
            except StorageClosed:  # the process is stopping; Home is rebuilt when next opened
                logger.info("Skipped the Home of %s: storage closed", job[0])
            except Exception:  # a bug or closed storage: one Home stays stale, the worker lives
                logger.exception("Could not publish the Home of %s", job[0])

    def _publish(self, user: str, notice: str | None) -> None:
        team = self.team()
        if not self.budget.acquire(team, PUBLISH, timeout=self.slot_wait_s):
            logger.warning("No views.publish slot for %s's Home; trying again later", user)
            self._mark(user, self.debounce_s, notice or "")
            return
        # Rendered once the slot is taken, so the view carries the newest data.
        view = self.render(user, notice)
        outcome = self.calls.call(self.client, team, PUBLISH, user_id=user, view=view)
        if outcome.ok:
            return
        if outcome.retry_after is not None:  # a 429: the budget holds every publish meanwhile
            self._mark(user, outcome.retry_after, notice or "")
        logger.error(
            "views.publish for %s failed: %s %s", user, outcome.error, _details(outcome.response)
        )


def _details(response: Any) -> str:
    """Slack's own words on an invalid view (response_metadata.messages), for the log."""
    try:
        return "; ".join((response.get("response_metadata") or {}).get("messages") or [])
    except Exception:
        return ""
