"""The Events API listeners: mentions, messages, Home and the agent view opening, the rest."""

from __future__ import annotations

import re
from logging import Logger
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.slack.home import Home
from bot.slack.responder import SlackResponder


def register(app: App, responder: SlackResponder, *, home: Home | None = None) -> None:
    """app_mention in channels; message for DMs and follow-ups in threads we answered; the
    agent view's openings (suggested prompts) and the Home tab's. Messages in an assistant
    thread are DMs.
    """

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        responder.on_event(event, team_of(context, event), context.bot_user_id, client)

    @app.event("message")
    def on_message(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        responder.on_event(event, team_of(context, event), context.bot_user_id, client)

    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        if home is not None and event.get("tab") == "home":
            home.opened(event)
            return
        responder.agent_view.on_home_opened(event, team_of(context, event), client)

    @app.event("assistant_thread_started")
    def on_assistant_thread_started(
        event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        responder.agent_view.on_thread_started(event, team_of(context, event), client)

    @app.event(re.compile(".*"))
    def ignore_other_events() -> None:
        """Acknowledge events we don't act on; an unhandled one gets 404 and Slack re-sends it."""

    @app.error
    def on_error(error: Exception, logger: Logger) -> None:
        logger.error("Unhandled error in a Slack listener: %s", type(error).__name__)


def team_of(context: BoltContext, event: dict[str, Any]) -> str:
    """The workspace an event belongs to (the call budget and the limits are per workspace)."""
    return context.team_id or event.get("team") or "unknown"
