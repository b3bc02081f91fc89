"""Builds the Bolt app: a Web client that retries, the responder, Home, the hand-off poster;
the listeners are registered by bot/slack/listeners/."""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from slack_bolt import App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from bot.drain import Drain, DrainingExecutor
from bot.settings import Settings
from bot.slack import listeners
from bot.slack.approvals import Approvers, use_slack_for_handoff
from bot.slack.budget import CallBudget
from bot.slack.home import Home
from bot.slack.reply import ReplyOptions
from bot.slack.responder import SlackResponder
from bot.slack.shared_budget import SharedCallBudget
from bot.wiring import Services

logger = logging.getLogger(__name__)


class _TokenFromEnvironmentNotice(logging.Filter):
    """Drops Bolt's "As you gave client as well, token will be unused." warning.

    Bolt reads SLACK_BOT_TOKEN from the environment itself and warns when a client is given
    too, although our client carries that very token (Settings reads the same variable): on
    a correct configuration it is noise that makes every start look wrong.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def build_web_client(settings: Settings) -> WebClient:
    """A WebClient for SLACK_API_URL that retries connection resets.

    No RateLimitErrorRetryHandler on purpose: a 429 must reach ShopMate's reply, which puts
    the method on hold in the shared budget for every reply (not only the one that was
    refused), drops a progress call instead of sleeping on it, and retries a final one.
    """
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2)],
    )


def build_app(
    services: Services,
    *,
    budget: CallBudget | None = None,
    web_client: WebClient | None = None,
    socket_mode: bool = False,
    listener_executor: Executor | None = None,
    drain: Drain | None = None,
) -> tuple[App, SlackResponder]:
    """The Bolt app and its responder; tests pass a budget and a client for fake servers.

    Tests also pass their own `listener_executor` (one that counts its jobs): Bolt acks an
    event before its listener runs, so only the pool can say when that listener has finished.
    `drain` is the process's (bot/process.py); a new one when the app is the whole process.
    """
    settings = services.settings
    responder = SlackResponder(
        services,
        # One budget for every process on this database (bot/slack/shared_budget.py).
        budget=budget
        or SharedCallBudget(services.storage.budget, minute_s=settings.slack_minute_s),
        options=ReplyOptions(
            flush_interval=settings.flush_interval,
            native_streaming=settings.slack_native_streaming,
            feedback=settings.slack_feedback,
            loading_messages=settings.loading_messages if settings.loading_messages_enabled else (),
            task_steps=settings.slack_task_steps,
            facts_first=settings.facts_first,
            first_sign=settings.first_sign,
        ),
        drain=drain or Drain(),
    )
    bolt_logger = logging.getLogger("slack_bolt")
    if not any(isinstance(f, _TokenFromEnvironmentNotice) for f in bolt_logger.filters):
        bolt_logger.addFilter(_TokenFromEnvironmentNotice())
    app = App(
        client=web_client or build_web_client(settings),
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not socket_mode,
        # Counts every acked event as work in flight, for a graceful shutdown.
        listener_executor=listener_executor
        or DrainingExecutor(
            responder.drain, max_workers=settings.slack_workers, thread_name_prefix="slack-listener"
        ),
        logger=bolt_logger,
    )
    # One approvers list (and its cache of group members) for the channel's buttons and Home.
    approvers = Approvers(settings.approvers, cache_seconds=settings.approvers_cache_seconds)
    # The Home tab: published in the background, in its own slots of the replies' budget.
    home = Home(services, app.client, responder.budget, approvers)
    # Escalations and requests posted through this client, in the replies' call budget.
    use_slack_for_handoff(app, services, budget=responder.budget)
    listeners.register(app, services, responder, home=home, approvers=approvers)
    return app, responder
