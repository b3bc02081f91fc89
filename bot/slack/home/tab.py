"""The Home tab: opening it, and what its Approve / Reject / Resolve buttons do.

A decision from Home takes the very path of the channel's buttons (approvals.apply_decision:
decided once in storage, then the request message edited and the thread told by the winning
click only). Who is refreshed: everyone concerned who has opened Home in this process (a
person who has not will get a fresh one when they do, as Slack sends `app_home_opened` on
every visit): approvers when a request or escalation is filed or settled, leads when an
answer is rated, the clicker with a note when their click changed nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient

from bot.slack.approvals import NOT_ALLOWED, Approvers, decide_click, read_click
from bot.slack.budget import CallBudget
from bot.slack.calls import SlackCalls
from bot.slack.home.data import Links, gather
from bot.slack.home.publisher import HomePublisher
from bot.slack.home.view import build_home
from bot.stats import Figures, headline
from bot.wiring import Services

logger = logging.getLogger(__name__)

# A burst of changes within this many seconds costs one publish per person.
DEBOUNCE_S = 1.0
# Leads opening Home together share one computation of the figures (dropped on any change).
FIGURES_TTL_S = 5.0


class Home:
    """One process's Home tabs: who has opened one, what each sees, when to publish again."""

    def __init__(
        self,
        services: Services,
        client: WebClient,
        budget: CallBudget,
        approvers: Approvers,
        *,
        debounce_s: float = DEBOUNCE_S,
    ) -> None:
        settings = services.settings
        self.services = services
        self.client = client
        self.budget = budget  # the replies': a decision's edits wait their turn in it
        self.approvers = approvers
        self.leads = Approvers(settings.leads, cache_seconds=settings.approvers_cache_seconds)
        # user -> (approver, lead) as last rendered: who a change concerns, known without a
        # Slack call on the thread that reports the change.
        self._roles: dict[str, tuple[bool, bool]] = {}
        self._lock = threading.Lock()
        self._workspace: tuple[str, str | None] | None = None
        self._figures: tuple[float, list[Figures]] | None = None
        self._generation = 0  # bumped on every change: figures computed before it are stale
        self.publisher = HomePublisher(
            client, self.render, budget, team=self.team, debounce_s=debounce_s
        )
        if services.handoff is not None:
            services.handoff.watch(lambda _what: self.refresh_approvers())

    # ----- what a person sees -------------------------------------------------------------------

    def render(self, user: str, notice: str | None = None) -> dict[str, Any]:
        """`user`'s Home now (called by the publisher, off every answer's path)."""
        is_approver = self.is_approver(user)
        is_lead = is_approver or self.leads.allows(user, self.client)
        with self._lock:
            self._roles[user] = (is_approver, is_lead)
        now = datetime.now(UTC)
        data = gather(
            self.services.storage,
            self.services.settings,
            user=user,
            is_approver=is_approver,
            is_lead=is_lead,
            links=Links(self._url()),
            now=now,
            notice=notice,
            figures=self._headline(now) if is_lead else None,
        )
        return build_home(data)

    def _headline(self, now: datetime) -> list[Figures]:
        """The leads' figures, computed once for all the Homes published within a few seconds."""
        with self._lock:
            cached, generation = self._figures, self._generation
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        window = timedelta(hours=self.services.settings.resolution_window_hours)
        figures = headline(self.services.storage, now=now, window=window)
        with self._lock:
            if generation == self._generation:
                self._figures = (time.monotonic() + FIGURES_TTL_S, figures)
        return figures

    def _changed(self) -> None:
        """Data changed: the next Home computes the figures afresh."""
        with self._lock:
            self._figures = None
            self._generation += 1

    def is_approver(self, user: str) -> bool:
        return self.approvers.allows(user, self.client)

    def team(self) -> str:
        return self._workspace_info()[0]

    def _url(self) -> str | None:
        return self._workspace_info()[1]

    def _workspace_info(self) -> tuple[str, str | None]:
        """The bot token's workspace and its URL (for links), from auth.test, asked once."""
        with self._lock:
            if self._workspace is not None:
                return self._workspace
        outcome = SlackCalls().call(self.client, None, "auth.test")
        if not outcome.ok:
            logger.warning("auth.test failed: %s; Home links left out", outcome.error)
            return ("unknown", None)
        response = outcome.response
        found = (str(response.get("team_id") or "unknown"), response.get("url"))
        with self._lock:
            self._workspace = found
        return found

    # ----- when to publish ----------------------------------------------------------------------

    def opened(self, event: dict[str, Any]) -> None:
        """`app_home_opened` with tab "home": publish this person's Home."""
        user = event.get("user")
        if isinstance(user, str) and user:
            self.publisher.publish_now(user)

    def refresh_approvers(self) -> None:
        """A request or escalation changed: the Homes of approvers who have one."""
        self._changed()
        with self._lock:
            users = {user for user, (approver, _) in self._roles.items() if approver}
        self.publisher.refresh(users)

    def refresh_leads(self) -> None:
        """An answer was rated: the figures and the 👎 list changed for leads."""
        self._changed()
        with self._lock:
            users = {user for user, (_, lead) in self._roles.items() if lead}
        self.publisher.refresh(users)

    # ----- buttons ------------------------------------------------------------------------------

    def decide(self, body: dict[str, Any], decision: str) -> None:
        """The channel's decision path (approvals.decide_click), told on the clicker's Home.
        The winner's decision reaches every approver's Home through the hand-off watcher."""
        click = read_click(body, "Home")
        decide_click(
            self.services,
            self.approvers,
            click,
            self.client,
            decision,
            budget=self.budget,
            tell=lambda text: self.publisher.refresh([click.user], text),
        )

    def resolve(self, body: dict[str, Any]) -> None:
        click = read_click(body, "Home")
        user, value = click.user, click.number
        if value is None or self.services.handoff is None:
            return
        if not self.is_approver(user):
            logger.info("Refused resolving escalation %s from Home: %s", value, user)
            self.publisher.refresh([user], NOT_ALLOWED)
            return
        outcome = self.services.handoff.resolve(value, by=user, note="resolved from Home")
        if outcome != "resolved":
            self.publisher.refresh([user], f"Escalation #{value} is {outcome}; nothing changed.")
