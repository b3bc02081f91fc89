"""The life of one user message, for every front: claim, access, conversation, limits, input cut,
engine, store, finish, and the recovery of what a dead process left.

A front (Slack, the HTTP API, the terminal, the demo) parses its input into a `UserMessage` and
renders what comes back; what happens to a message is decided here, once, in this order:

- `claim`: exactly once, as a lease that stores the message (fronts whose input can arrive
  twice, or be left behind by a dead process, give a message key: a Slack event, an API
  Idempotency-Key). The lease is renewed by this lifecycle's `LeaseKeeper` until `finish`
  (or `forget`, for a claim whose message may simply be sent again).
- `check_access`: who may ask; a refusal comes back as a `Notice`.
- `open_conversation`: the conversation is recorded (a Slack thread ShopMate has joined, so
  its follow-ups are recognised; an API conversation owned by its key).
- `run`: the sender's limits, the input cut, then the engine (with its prefetch) through the
  answer service, which stores the question and the answer. It yields `Started` once the turn
  may call Claude, `Notice`s for what the user must be told instead of or before an answer,
  and then the engine's own events.
- `finish`: the message is done; no re-delivery, retry or restart handles it again.
- `start(recover)`: the front's recovery sweep, now and every so often, beside the heartbeat.

One conversation's turns run one at a time (`serial`): Slack queues a thread's messages, the
API refuses a second one while the first runs. Each step is logged at DEBUG under a stable
name (`STEPS`) and told to an optional `observer`, so a test can check that every front goes
through the same steps in the same order.

Which messages enter at all (mentions, follow-ups, DMs) stays with each front. The engine
knows nothing of this module; this module knows nothing of Slack, HTTP or SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bot import prompts
from bot.access import AccessPolicy
from bot.attachments import Attachment, AttachmentLimits, FileProblem, check_declared, read_all
from bot.events import EngineEvent, Notice, Started, TurnComplete, TurnFailed
from bot.input_cut import cut_input
from bot.keys import Key
from bot.leases import LeaseKeeper
from bot.limits import Limits, UsageLimiter
from bot.serial import ThreadSerializer
from bot.stopping import StopSignal
from bot.wiring import Services
from storage import Claim, StorageClosed

logger = logging.getLogger(__name__)

LifecycleEvent = Started | Notice | EngineEvent

#: The lifecycle's steps, in the order a message that is answered goes through them.
STEPS = (
    "claim",
    "access",
    "conversation",
    "limits",
    "input_cut",
    "engine",
    "store",
    "finish",
)
#: Not a message's step: the sweep that takes over what dead processes left.
RECOVERY = "recovery"

StepObserver = Callable[[str, "UserMessage | None"], None]


@dataclass(frozen=True)
class UserMessage:
    """One user message, as any front describes it to the lifecycle."""

    conversation: Key
    text: str
    user: str
    team: str
    # The exactly-once key; None for input that cannot arrive twice (the terminal, an API
    # request without an Idempotency-Key).
    message: Key | None = None
    # Where it was said and by whom, for the access policy; None skips that check (an API
    # key has already decided who may ask).
    channel: str | None = None
    sender_teams: tuple[str, ...] = ()
    has_files: bool = False
    # Files to read with the text (images, PDFs), fetched only once every check has passed;
    # a front that reads no files leaves it empty (and `has_files` gets the only-text line).
    attachments: tuple[Attachment, ...] = ()
    # Where the conversation is listed (stats, Home) when it differs from `channel`: the
    # API lists a conversation under its key's name. And a Slack thread's root ts.
    listed_under: str | None = None
    thread_ts: str | None = None

    @property
    def claim_key(self) -> str | None:
        return str(self.message) if self.message is not None else None


class TurnLifecycle:
    """Owns a message from arrival to finish; one per process, shared by its fronts."""

    def __init__(
        self,
        services: Services,
        *,
        owner: str,
        access: AccessPolicy | None = None,
        limiter: UsageLimiter | None = None,
        limits: Limits | None = None,
        observer: StepObserver | None = None,
    ) -> None:
        settings = services.settings
        self.services = services
        self.owner = owner
        self.access = access or AccessPolicy.from_settings(settings)
        self.limiter = limiter or UsageLimiter(
            services.storage.conversations, limits or Limits.from_settings(settings)
        )
        self.file_limits = AttachmentLimits.from_settings(settings)
        self.observer = observer
        self.leases = LeaseKeeper(
            services.storage.claims,
            owner,
            lease_seconds=settings.claim_lease_seconds,
            renew_seconds=settings.lease_renew_seconds,
            sweep_seconds=settings.recovery_interval_seconds,
        )
        self.serial = ThreadSerializer()

    def _step(self, name: str, incoming: UserMessage | None) -> None:
        """Say which step a message has reached (DEBUG, and the observer if any)."""
        where = (incoming.message or incoming.conversation) if incoming is not None else "-"
        logger.debug("lifecycle %s: %s", name, where, extra={"lifecycle_step": name})
        if self.observer is not None:
            self.observer(name, incoming)

    # ------------------------------------------------------------------ exactly once

    def claim(self, incoming: UserMessage, *, stored: dict[str, Any] | None = None) -> Claim | None:
        """Lease the message for this process; the claim, or None if it is not ours to answer
        (already answered, or held by a live owner; the front says so in its own log).

        `stored` is what a successor needs to answer it if this process dies. The lease is
        renewed from now on until `finish` or `forget`.
        """
        self._step("claim", incoming)
        key = incoming.claim_key
        if key is None:
            return Claim(str(incoming.conversation), self.owner, "claimed", None, "", None)
        claim = self.services.storage.claims.claim_message(
            key,
            owner=self.owner,
            thread_key=str(incoming.conversation),
            message=stored,
            lease_seconds=self.leases.lease_seconds,
        )
        if claim is not None:
            self.leases.hold(key)
        return claim

    def lost(self, incoming: UserMessage) -> bool:
        """True once another process took this message over (this one stalled past its lease)."""
        key = incoming.claim_key
        return key is not None and self.leases.lost(key)

    def let_go(self, incoming: UserMessage | str) -> None:
        """Stop renewing the claim without finishing it: its lease runs out for a successor."""
        key = incoming if isinstance(incoming, str) else incoming.claim_key
        if key is not None:
            self.leases.drop(key)

    def finish(self, incoming: UserMessage | str) -> None:
        """Mark the message (or the claim key) done, so no re-delivery or restart handles it."""
        self._step("finish", incoming if isinstance(incoming, UserMessage) else None)
        key = incoming if isinstance(incoming, str) else incoming.claim_key
        if key is not None:
            self.services.storage.claims.finish(key)
            self.leases.drop(key)

    def forget(self, incoming: UserMessage) -> None:
        """Drop an unanswered claim, so the same message sent again is handled afresh."""
        key = incoming.claim_key
        if key is not None:
            self.leases.drop(key)
            self.services.storage.claims.forget(key, owner=self.owner)

    def record_reply(self, incoming: UserMessage, ts: str) -> None:
        """Remember a message the front showed for this answer (a successor retires it)."""
        key = incoming.claim_key
        if key is not None:
            self.services.storage.claims.record_reply(key, ts)

    def shown(self, incoming: UserMessage) -> tuple[str, ...]:
        """What earlier owners showed of this message's answer, as `record_reply` kept it."""
        key = incoming.claim_key
        claim = self.services.storage.claims.get(key) if key is not None else None
        return claim.replies if claim is not None else ()

    # ------------------------------------------------------------------ recovery

    def start(self, recover: Callable[[], object]) -> TurnLifecycle:
        """Run the front's recovery sweep now, then renew leases and sweep until `stop()`."""
        recover()
        self.leases.start(recover)
        return self

    def take_over_expired(self, *, prefix: str) -> list[Claim]:
        """Claims of the front's (keys starting `prefix`) whose owner died, now this process's."""
        self._step(RECOVERY, None)
        claims = self.services.storage.claims.take_over_expired(
            owner=self.owner, lease_seconds=self.leases.lease_seconds, prefix=prefix
        )
        for claim in claims:
            self.leases.hold(claim.key)
        return claims

    def stop(self, *, release: bool = False) -> None:
        """Stop renewing and sweeping; `release=True` also hands on the claims still held.

        Only for a caller that knows none of them can still be answered here (a graceful
        shutdown after its grace): a released message still being answered would be answered
        twice. The next sweep of any live process answers them instead of waiting out leases.
        """
        self.leases.stop()
        held = self.leases.held()
        if not (release and held):
            return
        try:
            released = self.services.storage.claims.release(held, owner=self.owner)
        except StorageClosed:
            return  # their leases simply run out
        logger.warning("Handed on %d unfinished messages to the next process", released)

    # ------------------------------------------------------------------ who may ask

    def check_access(self, incoming: UserMessage) -> Notice | None:
        """None if the sender may ask here; else the refusal to show (logged, without text)."""
        self._step("access", incoming)
        if incoming.channel is None:
            return None
        refusal = self.access.check(
            team=incoming.team, sender_teams=incoming.sender_teams, channel=incoming.channel
        )
        if refusal is None:
            return None
        logger.info(
            "Refused %s: user %s of workspace %s in channel %s (%s)",
            incoming.message or incoming.conversation,
            incoming.user,
            ",".join(incoming.sender_teams) or incoming.team,
            incoming.channel,
            refusal.reason,
        )
        return Notice("refusal", refusal.notice, refusal.reason)

    def admit(self, incoming: UserMessage) -> Notice | None:
        """Access, then the conversation: None once the message may go on to `run`, else the
        refusal to show (and no conversation is opened for it)."""
        refusal = self.check_access(incoming)
        if refusal is None:
            self.open_conversation(incoming)
        return refusal

    # ------------------------------------------------------------------ the conversation

    def open_conversation(self, incoming: UserMessage) -> None:
        """Record the conversation (idempotent): from now on its follow-ups belong to it."""
        self._step("conversation", incoming)
        listed = incoming.listed_under if incoming.listed_under is not None else incoming.channel
        self.services.storage.conversations.ensure(
            str(incoming.conversation),
            platform=incoming.conversation.platform,
            team=incoming.team,
            channel=listed,
            thread_ts=incoming.thread_ts,
        )

    def has_conversation(self, conversation: Key | str) -> bool:
        return self.services.storage.conversations.exists(str(conversation))

    # ------------------------------------------------------------------ the turn

    def run(
        self, incoming: UserMessage, *, stop: StopSignal | None = None
    ) -> Iterator[LifecycleEvent]:
        """Limits, input cut, engine and storage; the caller finishes the claim after.

        `stop` is the front's way to end the answer early (Slack's Stop button; a client that
        went away): the engine closes Claude's stream and stores what the user saw.
        """
        if incoming.has_files and not incoming.text and not incoming.attachments:
            yield Notice("only_text", prompts.ONLY_TEXT_NOTICE, "non-text message")
            return
        # Files are judged on what the front says of them before anything is downloaded,
        # and Claude is not called for a message whose files can't be read.
        problem = check_declared(incoming.attachments, self.file_limits)
        if problem is not None:
            yield self._file_notice(incoming, problem)
            return
        self._step("limits", incoming)
        with self.limiter.turn(user=incoming.user, team=incoming.team) as refusal:
            if refusal is not None:
                logger.info(
                    "Limited %s: user %s of workspace %s (%s)",
                    incoming.message or incoming.conversation,
                    incoming.user,
                    incoming.team,
                    refusal.reason,
                )
                yield Notice("limit", refusal.notice, refusal.reason)
                return
            files = read_all(incoming.attachments, self.file_limits)
            if isinstance(files, FileProblem):
                yield self._file_notice(incoming, files)
                return
            yield Started()
            yield from self._answer(incoming, files, stop)

    def _answer(
        self, incoming: UserMessage, files: Any, stop: StopSignal | None
    ) -> Iterator[LifecycleEvent]:
        self._step("input_cut", incoming)
        limit = self.services.settings.max_input_chars
        text, was_cut = cut_input(incoming.text, limit)
        if was_cut:
            yield Notice("input_cut", prompts.input_cut_notice(limit), "input cut", final=False)
        self._step("engine", incoming)
        for event in self.services.answers.answer(
            str(incoming.conversation),
            text,
            user=incoming.user,
            team=incoming.team,
            stop=stop,
            files=files,
        ):
            if isinstance(event, TurnComplete | TurnFailed):
                self._step("store", incoming)  # the answer service has stored the turn
            yield event

    @staticmethod
    def _file_notice(incoming: UserMessage, problem: FileProblem) -> Notice:
        logger.info(
            "Not reading the files of %s: %s",
            incoming.message or incoming.conversation,
            problem.reason,
        )
        return Notice("file", problem.notice, problem.reason)
