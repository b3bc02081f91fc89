"""Decides which messages to answer, exactly once and in order, and streams each answer."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient

from bot import prompts
from bot.events import TextDelta, TurnComplete, TurnFailed
from bot.slack.budget import CallBudget
from bot.slack.drain import Drain
from bot.slack.incoming import Incoming, parse_event, parse_event_key
from bot.slack.reply import ReplyOptions, ReplyTarget, SlackReply, StreamingHealth
from bot.slack.serial import ThreadSerializer
from bot.trust import AccessPolicy, Limits, Refusal, UsageLimiter, cut_input
from bot.wiring import Services

logger = logging.getLogger(__name__)

_FINAL = (TurnComplete, TurnFailed)  # an answer that ended: nothing left for a shutdown to cut


@dataclass
class SlackResponder:
    """The Slack front: events in, streamed answers out. Knows nothing of SQL or Claude's API.

    Before Claude is asked, the sender must be allowed (`access`) and under their limits
    (`limiter`); both default to what the settings say.
    """

    services: Services
    budget: CallBudget = field(default_factory=CallBudget)
    options: ReplyOptions = field(default_factory=ReplyOptions)
    health: StreamingHealth = field(default_factory=StreamingHealth)
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    serializer: ThreadSerializer = field(default_factory=ThreadSerializer)
    access: AccessPolicy | None = None
    limiter: UsageLimiter | None = None
    drain: Drain = field(default_factory=Drain)

    def __post_init__(self) -> None:
        settings = self.services.settings
        if self.access is None:
            self.access = AccessPolicy.from_settings(settings)
        if self.limiter is None:
            self.limiter = UsageLimiter(
                self.services.storage.conversations, Limits.from_settings(settings)
            )

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
        assert self.access is not None
        refusal = self.access.check(
            team=incoming.team, sender_teams=incoming.sender_teams, channel=incoming.channel
        )
        if refusal is not None:
            self._refuse(incoming, refusal, client)
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

    def recover_unfinished(self, client: WebClient) -> int:
        """Tell the senders of messages a previous run accepted but never finished answering.

        Slack re-sends only what was not acknowledged, and Bolt acknowledges at once: a
        message claimed by a process that then died would otherwise get no answer at all.
        Its text was never stored if its turn had not started, so ShopMate cannot answer it
        now; it says so in the thread, once (the claim makes that exactly once, and a late
        re-delivery of the same message is then skipped). Returns how many it told.
        """
        events = self.services.storage.events
        told = 0
        for claim in events.unfinished(exclude_owner=self.instance_id):
            message = parse_event_key(claim["key"])
            thread = parse_event_key(claim["thread_key"] or "")
            if message is None or thread is None:
                continue  # not a Slack message of ours
            try:
                if not events.claim(claim["key"], owner=self.instance_id):
                    continue
                team, channel, _ = message
                target = ReplyTarget(team=team, channel=channel, thread_ts=thread[2])
                # The sender is unknown here, and native streams in channels need one: post.
                options = dataclasses.replace(self.options, native_streaming=False)
                reply = SlackReply(client, self.budget, target, options=options, health=self.health)
                try:
                    reply.handle(TurnFailed(prompts.RESTARTED_NOTICE, "restarted"))
                finally:
                    reply.finish()
                    events.finish(claim["key"])
            except Exception:
                logger.exception("Could not settle %s left unfinished", claim["key"])
                continue
            logger.warning("Told %s that a restart interrupted its answer", claim["key"])
            told += 1
        return told

    def _is_follow_up(self, incoming: Incoming) -> bool:
        """A message in a thread where ShopMate has already answered needs no new mention."""
        if incoming.thread_ts == incoming.ts:
            return False
        return self.services.storage.conversations.exists(incoming.thread_key)

    def _refuse(self, incoming: Incoming, refusal: Refusal, client: WebClient) -> None:
        # Logged without the message: who, where and why is enough to audit a refusal.
        logger.info(
            "Refused %s: user %s of workspace %s in channel %s (%s)",
            incoming.event_key,
            incoming.user,
            incoming.user_team,
            incoming.channel,
            refusal.reason,
        )
        if not (incoming.is_dm or incoming.mentioned):
            # Someone else's follow-up in a thread ShopMate is in: they were not asking it.
            self.services.storage.events.finish(incoming.event_key)
            return
        self.serializer.submit(
            incoming.thread_key,
            incoming.ts,
            lambda: self._notify(incoming, TurnFailed(refusal.notice, refusal.reason), client),
        )

    def _reply(self, incoming: Incoming, client: WebClient) -> SlackReply:
        return SlackReply(
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

    def _notify(self, incoming: Incoming, notice: TurnFailed, client: WebClient) -> None:
        """Answer with a fixed sentence instead of Claude, and mark the message done."""
        reply = self._reply(incoming, client)
        try:
            reply.handle(notice)
        finally:
            reply.finish()
            self.services.storage.events.finish(incoming.event_key)

    def _answer(self, incoming: Incoming, client: WebClient) -> None:
        if self.drain.expired.is_set():
            # Shutting down and out of time: the claim stays unfinished for the next process.
            logger.info("Leaving %s to the next process (shutting down)", incoming.event_key)
            return
        reply = self._reply(incoming, client)
        limit = self.services.settings.max_input_chars
        assert self.limiter is not None
        cut = False
        try:
            if incoming.has_files and not incoming.text:
                reply.handle(_only_text())
                return
            with self.limiter.turn(user=incoming.user, team=incoming.team) as refusal:
                if refusal is not None:
                    logger.info(
                        "Limited %s: user %s of workspace %s (%s)",
                        incoming.event_key,
                        incoming.user,
                        incoming.team,
                        refusal.reason,
                    )
                    reply.handle(TurnFailed(refusal.notice, refusal.reason))
                    return
                reply.start()
                text, was_cut = cut_input(incoming.text, limit)
                if was_cut:
                    reply.handle(TextDelta(prompts.input_cut_notice(limit) + "\n\n"))
                events = self.services.conversations.answer(
                    incoming.thread_key, text, user=incoming.user, team=incoming.team
                )
                try:
                    for event in events:
                        reply.handle(event)
                        if self.drain.expired.is_set() and not isinstance(event, _FINAL):
                            cut = True
                            reply.handle(TurnFailed(prompts.SHUTDOWN_NOTICE, "shutdown"))
                            break
                finally:
                    events.close()
        except Exception:
            logger.exception("Answering %s failed", incoming.event_key)
            reply.handle(TurnFailed(prompts.FAILURE_NOTICE, "internal error"))
        finally:
            reply.finish()
            if cut:
                # Cut by a shutdown: not done, so the next process can answer it again.
                logger.warning("Cut %s short: the shutdown grace ran out", incoming.event_key)
            else:
                self.services.storage.events.finish(incoming.event_key)


def _only_text() -> TurnFailed:
    return TurnFailed(prompts.ONLY_TEXT_NOTICE, "non-text message")
