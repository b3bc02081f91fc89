"""Decides which messages to answer, exactly once and in order, and streams each answer."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient

from bot import prompts
from bot.access import AccessPolicy
from bot.drain import Drain, DrainingExecutor
from bot.events import Notice, Started, TurnComplete, TurnFailed
from bot.keys import SLACK
from bot.leases import new_owner_id
from bot.lifecycle import TurnLifecycle, UserMessage
from bot.limits import Limits, UsageLimiter
from bot.slack.assistant import AgentView
from bot.slack.budget import CallBudget
from bot.slack.calls import SlackCalls
from bot.slack.files import SlackFiles
from bot.slack.incoming import Incoming, parse_event, parse_event_key
from bot.slack.recording import RecordingWebClient
from bot.slack.reply import (
    ReplyOptions,
    ReplyTarget,
    SlackReply,
    StreamingHealth,
)
from bot.slack.signs import FirstSigns
from bot.stopping import StopSignal
from bot.wiring import Services
from storage import Claim

logger = logging.getLogger(__name__)


def _ends(event: object) -> bool:
    """An answer that ended: nothing left for a shutdown to cut."""
    return isinstance(event, TurnComplete | TurnFailed) or (
        isinstance(event, Notice) and event.final
    )


# A message whose answering has already been cut short this often (each time by its owner's
# death) is given up on with a notice: it may be what kills them.
MAX_ATTEMPTS = 3
RECOVERY_WORKERS = 4


@dataclass
class SlackResponder:
    """The Slack front: events in, streamed answers out. Knows nothing of SQL or Claude's API.

    Before Claude is asked, the sender must be allowed (`access`) and under their limits
    (`limiter`); both default to what the settings say. Each message is claimed (a lease,
    with its text) before anything else happens; `start()` keeps the leases alive and
    answers what dead processes left behind.
    """

    services: Services
    budget: CallBudget = field(default_factory=CallBudget)
    options: ReplyOptions = field(default_factory=ReplyOptions)
    health: StreamingHealth = field(default_factory=StreamingHealth)
    instance_id: str = field(default_factory=new_owner_id)
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
        # What happens to a message (claim, access, conversation, limits, input cut, engine,
        # storage, finish) is the lifecycle's, shared with the other fronts, and so are the
        # leases it keeps and the order of a thread's turns; this class decides which
        # messages enter, and shows their answers.
        self.lifecycle = TurnLifecycle(
            self.services, owner=self.instance_id, access=self.access, limiter=self.limiter
        )
        self.leases = self.lifecycle.leases
        # Every asker's first sign waits its turn in one line (status line or reaction).
        self.signs = FirstSigns(self.budget) if self.options.first_sign == "both" else None
        # Suggested prompts and thread titles share this process's call budget.
        self.agent_view = AgentView(
            settings, self.budget, self.access, self.services.storage.conversations
        )
        # Recovered messages are answered here, not on the sweeping thread, so one slow
        # answer never delays the heartbeat or the next sweep. Counted in the drain like
        # Bolt's listeners: a graceful shutdown waits for them (or cuts them) too.
        self._recovery = DrainingExecutor(
            self.drain, max_workers=RECOVERY_WORKERS, thread_name_prefix="slack-recovery"
        )

    def start(self, client: WebClient) -> SlackResponder:
        """Answer what dead processes left now, then renew leases and sweep until `stop()`."""
        self.lifecycle.start(lambda: self.recover_unfinished(client))
        return self

    def stop(self, *, release: bool = False) -> None:
        """Stop renewing and sweeping; answers already running carry on.

        `release=True` also hands on the claims still held (answers cut short, messages
        still queued), so the next sweep of any live process answers them instead of
        waiting out their leases. Only for a caller that knows no answer of this process
        can still run (a graceful shutdown after its grace): a released message that was
        still being answered here would be answered twice.
        """
        self.leases.stop()
        self._recovery.shutdown(wait=False, cancel_futures=True)
        self.agent_view.close()
        if self.signs is not None:
            self.signs.close()
        self.lifecycle.stop(release=release)

    def on_event(
        self, event: dict[str, Any], team: str, bot_user_id: str | None, client: WebClient
    ):
        """Handle one app_mention or message event (on Bolt's listener thread)."""
        incoming = parse_event(event, team=team, bot_user_id=bot_user_id)
        if incoming is None or not (incoming.text or incoming.has_files):
            return
        if not (incoming.is_dm or incoming.mentioned or self._is_follow_up(incoming)):
            return
        # Claiming first makes a re-delivery, the same mention arriving again as a `message`
        # event, or the same event delivered to another process, a no-op — across restarts
        # too, since claims live in the database. The message is stored with the claim, so if
        # this process dies, another answers it from there.
        message = incoming.as_message()
        claim = self.lifecycle.claim(message, stored=incoming.to_stored())
        if claim is None:
            logger.info("Already answered or answering %s; skipping", incoming.event_key)
            return
        if claim.taken_over and claim.attempts > MAX_ATTEMPTS:
            self._give_up(claim, client)
            return
        try:
            self._accept(incoming, message, client, taken_over=claim.taken_over)
        except Exception:
            # Not renewed any more, so the lease runs out and a sweep settles the message.
            self.lifecycle.let_go(message)
            raise

    def recover_unfinished(self, client: WebClient) -> int:
        """Take over and answer messages whose owner died (its lease ran out unfinished).

        Slack re-sends only what was not acknowledged, and Bolt acknowledges at once: a
        message claimed by a process that then died would otherwise get no answer at all.
        Its text was stored with the claim, so it is answered now, with a note that it was
        delayed; a half-shown answer of the dead owner is marked as interrupted first. Only
        a claim without stored text (made before leases existed), or one that has already
        cut short MAX_ATTEMPTS owners, gets the "please ask again" notice instead. Runs at
        start-up and every SHOPMATE_RECOVERY_INTERVAL seconds; returns how many it took.
        """
        if self.drain.stopping.is_set():
            return 0  # shutting down: whatever is left is for the next process
        claims = self.lifecycle.take_over_expired(prefix=f"{SLACK}:")
        logger.debug("Recovery sweep took over %d unfinished messages", len(claims))
        for claim in claims:
            try:
                self._recovery.submit(self._recover, claim, client)
            except RuntimeError:  # stopped meanwhile: the lease will run out for another
                self.lifecycle.let_go(claim.key)
        return len(claims)

    def _recover(self, claim: Claim, client: WebClient) -> None:
        key = claim.key
        try:
            incoming = Incoming.from_stored(claim.message)
            if incoming is not None and incoming.event_key != key:
                incoming = None  # a stored message that is not this key's
            if incoming is not None and claim.attempts <= MAX_ATTEMPTS:
                owner = claim.previous_owner
                logger.warning("Answering %s, which %s left unfinished", key, owner)
                self._accept(incoming, incoming.as_message(), client, taken_over=True)
                return
            self._give_up(claim, client)
        except Exception:
            logger.exception("Could not settle %s left unfinished", key)

    def _give_up(self, claim: Claim, client: WebClient) -> None:
        """Tell the sender to ask again: the message cannot (or should not) be answered."""
        key = claim.key
        message = parse_event_key(key)
        thread = parse_event_key(claim.thread_key or "")
        if message is None or thread is None:
            self.lifecycle.finish(key)  # not a Slack message of ours
            return
        team, channel, _ = message
        target = ReplyTarget(team=team, channel=channel, thread_ts=thread[2])
        self._retire(target, claim.replies, client)
        # The sender may be unknown here, and native streams in channels need one: post.
        options = dataclasses.replace(self.options, native_streaming=False)
        reply = SlackReply(client, self.budget, target, options=options, health=self.health)
        try:
            reply.handle(Notice("restart", prompts.RESTARTED_NOTICE, "restarted"))
        finally:
            reply.finish()
            self.lifecycle.finish(key)
        logger.warning(
            "Told %s to ask again (stored text: %s, attempts: %s)",
            key,
            "yes" if claim.message else "no",
            claim.attempts,
        )

    def _retire(self, target: ReplyTarget, replies: Sequence[str], client: WebClient) -> None:
        """Mark the messages of an interrupted answer as such; the new answer follows."""
        calls = SlackCalls(self.budget)
        for ts in replies:
            edit = {"channel": target.channel, "ts": ts, "markdown_text": prompts.SUPERSEDED_NOTE}
            outcome = calls.final(client, target.team, "chat.update", **edit)
            if outcome.error == "streaming_state_conflict":
                # Still a live native stream (the dead owner never stopped it): stop it first.
                self._stop_stream(target, ts, client)
                outcome = calls.final(client, target.team, "chat.update", **edit)
            if not outcome.ok:
                logger.warning("Could not retire reply %s: %s", ts, outcome.error)

    def _stop_stream(self, target: ReplyTarget, ts: str, client: WebClient) -> None:
        """Stop a stream a dead owner left open, within bounded retries.

        Since the found facts open the stream before Claude's first word, a crash leaves one
        such stream per order question in flight; their stops share Tier 2 with everything
        else, so a 429 waits its Retry-After (for every reply: the budget is penalised) and a
        passing error is tried again, rather than leaving a message spinning for good.
        """
        outcome = SlackCalls(self.budget).final(
            client, target.team, "chat.stopStream", channel=target.channel, ts=ts
        )
        if not outcome.ok:
            logger.warning("Could not stop stream %s: %s", ts, outcome.error)

    def _accept(
        self, incoming: Incoming, message: UserMessage, client: WebClient, *, taken_over: bool
    ) -> None:
        """Decide what a claimed message gets (a refusal or an answer) and queue it."""
        # Once allowed, ShopMate joins the thread now, so a follow-up written while it is
        # still answering is recognised as one (and queued behind this turn).
        refusal = self.lifecycle.admit(message)
        if refusal is not None:
            self._refuse(incoming, message, refusal, client)
            return
        self.lifecycle.serial.submit(
            incoming.thread_key,
            incoming.ts,
            lambda: self._answer(incoming, message, client, taken_over=taken_over),
        )

    def _is_follow_up(self, incoming: Incoming) -> bool:
        """A message in a thread where ShopMate has already answered needs no new mention."""
        if incoming.thread_ts == incoming.ts:
            return False
        return self.lifecycle.has_conversation(incoming.thread_key)

    def _refuse(
        self, incoming: Incoming, message: UserMessage, refusal: Notice, client: WebClient
    ) -> None:
        if not (incoming.is_dm or incoming.mentioned):
            # Someone else's follow-up in a thread ShopMate is in: they were not asking it.
            self.lifecycle.finish(message)
            return
        self.lifecycle.serial.submit(
            incoming.thread_key,
            incoming.ts,
            lambda: self._notify(incoming, message, refusal, client),
        )

    def _target(self, incoming: Incoming) -> ReplyTarget:
        return ReplyTarget(
            team=incoming.team,
            channel=incoming.channel,
            thread_ts=incoming.thread_ts,
            user=incoming.user,
            user_team=incoming.user_team,
            message_ts=incoming.ts,
        )

    def _reply(self, incoming: Incoming, client: WebClient) -> SlackReply:
        return SlackReply(
            client,
            self.budget,
            self._target(incoming),
            options=self.options,
            health=self.health,
            signs=self.signs,
        )

    def _notify(
        self, incoming: Incoming, message: UserMessage, notice: Notice, client: WebClient
    ) -> None:
        """Answer with a fixed sentence instead of Claude, and mark the message done."""
        reply = self._reply(incoming, client)
        try:
            reply.handle(notice)
        finally:
            reply.finish()
            self.lifecycle.finish(message)

    def _with_files(
        self, incoming: Incoming, message: UserMessage, client: WebClient
    ) -> UserMessage:
        """The message with its files, fetched (with the bot token) only now that it is read."""
        if not incoming.files:
            return message
        files = SlackFiles(client, max_bytes=self.services.settings.max_file_bytes)
        return dataclasses.replace(message, attachments=files.attachments(incoming.files))

    def _answer(
        self,
        incoming: Incoming,
        message: UserMessage,
        client: WebClient,
        *,
        taken_over: bool = False,
    ) -> None:
        key = incoming.event_key
        if self.drain.expired.is_set():
            # Shutting down and out of time: the claim stays unfinished for the next process.
            logger.info("Leaving %s to the next process (shutting down)", key)
            return
        if taken_over:
            # What the dead owner showed of its answer is marked as interrupted, not left
            # half-written above the full answer.
            self._retire(self._target(incoming), self.lifecycle.shown(message), client)
        # Every message this answer creates is recorded with the claim as soon as Slack
        # returns its ts, so a successor knows what was already shown.
        recording = RecordingWebClient(client, lambda ts: self.lifecycle.record_reply(message, ts))
        reply = self._reply(incoming, recording)
        stop = StopSignal()  # set when the person presses Stop on the streamed answer
        cut = lost = False
        try:
            stream = self.lifecycle.run(self._with_files(incoming, message, client), stop=stop)
            try:
                for event in stream:
                    if isinstance(event, Started):
                        reply.start()
                        self.agent_view.title_first_question(incoming, client)
                        if taken_over:
                            reply.handle(
                                Notice("restart", prompts.DELAYED_NOTE, "delayed", final=False)
                            )
                        continue
                    if self.lifecycle.lost(message):
                        lost = True
                        logger.warning("Stopped answering %s: another process took it over", key)
                        break
                    reply.handle(event)
                    if reply.stopped_by_user and not stop.is_set():
                        # Claude's stream is closed at its next event; the turn is stored
                        # as far as the person saw it, and the thread carries on.
                        stop.stop(unshown=reply.unshown)
                    if self.drain.expired.is_set() and not _ends(event):
                        cut = True
                        reply.handle(TurnFailed(prompts.SHUTDOWN_NOTICE, "shutdown"))
                        break
            finally:
                stream.close()
        except Exception:
            logger.exception("Answering %s failed", key)
            reply.handle(TurnFailed(prompts.FAILURE_NOTICE, "internal error"))
        finally:
            reply.finish()
            if lost:
                self.lifecycle.let_go(message)
            elif cut:
                # Cut by a shutdown: not done, so the next process answers it again from the
                # stored text (this process renews its lease until it exits).
                logger.warning("Cut %s short: the shutdown grace ran out", key)
            else:
                self.lifecycle.finish(message)
