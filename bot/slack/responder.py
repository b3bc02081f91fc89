"""Decides which messages to answer, exactly once and in order, and streams each answer."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient

from bot import prompts
from bot.events import TurnFailed
from bot.slack.budget import CallBudget
from bot.slack.incoming import Incoming, parse_event
from bot.slack.reply import ReplyOptions, ReplyTarget, SlackReply, StreamingHealth
from bot.slack.serial import ThreadSerializer
from bot.wiring import Services

logger = logging.getLogger(__name__)


@dataclass
class SlackResponder:
    """The Slack front: events in, streamed answers out. Knows nothing of SQL or Claude's API."""

    services: Services
    budget: CallBudget = field(default_factory=CallBudget)
    options: ReplyOptions = field(default_factory=ReplyOptions)
    health: StreamingHealth = field(default_factory=StreamingHealth)
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    serializer: ThreadSerializer = field(default_factory=ThreadSerializer)

    def on_event(
        self, event: dict[str, Any], team: str, bot_user_id: str | None, client: WebClient
    ):
        """Handle one app_mention or message event (on Bolt's listener thread)."""
        incoming = parse_event(event, team=team, bot_user_id=bot_user_id)
        if incoming is None or not (incoming.text or incoming.has_files):
            return
        if not (incoming.is_dm or incoming.mentioned or self._is_follow_up(incoming)):
            return
        # Claiming first makes a re-delivery, or the same mention arriving again as a
        # `message` event, a no-op — across restarts too, since claims live in SQLite.
        claimed = self.services.storage.events.claim(
            incoming.event_key, owner=self.instance_id, thread_key=incoming.thread_key
        )
        if not claimed:
            logger.info("Already answered or answering %s; skipping", incoming.event_key)
            return
        # ShopMate joins the thread now, so a follow-up written while it is still answering
        # is recognised as one (and queued behind this turn).
        self.services.storage.conversations.ensure(
            incoming.thread_key,
            platform="slack",
            team=incoming.team,
            channel=incoming.channel,
            thread_ts=incoming.thread_ts,
        )
        self.serializer.submit(
            incoming.thread_key, incoming.ts, lambda: self._answer(incoming, client)
        )

    def _is_follow_up(self, incoming: Incoming) -> bool:
        """A message in a thread where ShopMate has already answered needs no new mention."""
        if incoming.thread_ts == incoming.ts:
            return False
        return self.services.storage.conversations.exists(incoming.thread_key)

    def _answer(self, incoming: Incoming, client: WebClient) -> None:
        reply = SlackReply(
            client,
            self.budget,
            ReplyTarget(
                team=incoming.team,
                channel=incoming.channel,
                thread_ts=incoming.thread_ts,
                user=incoming.user,
                user_team=incoming.user_team,
            ),
            options=self.options,
            health=self.health,
        )
        storage = self.services.storage
        try:
            reply.start()
            text = incoming.text or ""
            if incoming.has_files and not text:
                reply.handle(_only_text())
                return
            for event in self.services.conversations.answer(
                incoming.thread_key, text, user=incoming.user, team=incoming.team
            ):
                reply.handle(event)
        except Exception:
            logger.exception("Answering %s failed", incoming.event_key)
            reply.handle(TurnFailed(prompts.FAILURE_NOTICE, "internal error"))
        finally:
            reply.finish()
            storage.events.finish(incoming.event_key)


def _only_text() -> TurnFailed:
    return TurnFailed(prompts.ONLY_TEXT_NOTICE, "non-text message")
