"""The button listeners: 👍/👎 on answers, Approve / Reject on hand-off requests (in the
channel and on Home), Resolve on Home's escalations.

Each acknowledges first (within Slack's 3 seconds), then hands the click to the module that
decides what it does. Clicks on buttons already shown are handled whatever the settings now
say (a rating is stored even with SHOPMATE_FEEDBACK off).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack import feedback, handoff
from bot.slack.approvals import Approvers, decide
from bot.slack.budget import CallBudget
from bot.slack.home import Home, view
from bot.wiring import Services
from storage.feedback import CHANGED, NEW
from storage.handoff import APPROVED, REJECTED


def register(
    app: App,
    services: Services,
    *,
    home: Home,
    approvers: Approvers,
    budget: CallBudget | None = None,
) -> None:
    """The buttons ShopMate shows; `budget` is the replies' (decisions' edits wait in it)."""
    _feedback(app, services, home)
    if services.handoff is not None:
        _channel_decisions(app, services, approvers, budget)
    _home_buttons(app, home)


def _feedback(app: App, services: Services, home: Home) -> None:
    store = services.storage.feedback

    @app.action(feedback.ACTION_ID)
    def on_feedback(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient):
        ack()  # within Slack's 3 seconds; the rating is stored and acknowledged after
        if feedback.handle_click(body, action, store, client) in (NEW, CHANGED):
            home.refresh_leads()  # returns at once: Home publishes in the background


def _channel_decisions(
    app: App, services: Services, approvers: Approvers, budget: CallBudget | None
) -> None:
    @app.action(handoff.APPROVE_ACTION)
    def on_approve(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        decide(services, approvers, body, client, APPROVED, budget=budget)

    @app.action(handoff.REJECT_ACTION)
    def on_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        decide(services, approvers, body, client, REJECTED, budget=budget)


def _home_buttons(app: App, home: Home) -> None:
    @app.action(view.APPROVE_ACTION)
    def on_home_approve(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        home.decide(body, APPROVED)

    @app.action(view.REJECT_ACTION)
    def on_home_reject(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        home.decide(body, REJECTED)

    @app.action(view.RESOLVE_ACTION)
    def on_home_resolve(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        home.resolve(body)
