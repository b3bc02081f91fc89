"""Every Bolt listener ShopMate has, registered in one place (as Bolt's own samples do).

`register(app, ...)` is the only function that puts listeners on the app: the events
(messages, Home and the agent view opening) in `events.py`, the button clicks (feedback,
Approve / Reject in the channel and on Home, Resolve) in `actions.py`. The listeners only
acknowledge and route; what a click or a message does lives in the modules they call.
"""

from __future__ import annotations

from slack_bolt import App

from bot.slack.approvals import Approvers
from bot.slack.home import Home
from bot.slack.listeners import actions, events
from bot.slack.responder import SlackResponder
from bot.wiring import Services


def register(
    app: App,
    services: Services,
    responder: SlackResponder,
    *,
    home: Home,
    approvers: Approvers,
) -> None:
    """Put all of ShopMate's listeners on `app`."""
    events.register(app, responder, home=home)
    actions.register(app, services, home=home, approvers=approvers, budget=responder.budget)


__all__ = ["register"]
