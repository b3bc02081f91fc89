"""The life of one user message, for every front: claim, access, limits, input cut, engine, finish.

A front (Slack, the HTTP API, the terminal, the demo) parses its input into a `UserMessage` and
renders what comes back; what happens to a message is decided here, once:

- `claim`: exactly once, as a lease that stores the message (fronts whose input can arrive
  twice, or be left behind by a dead process, give a message key); `finish` when done.
- `check_access`: who may ask; a refusal comes back as a `Notice`.
- `run`: the sender's limits, the input cut, then the engine (with its prefetch) through the
  conversation service, which stores the question and the answer. It yields `Started` once
  the turn may call Claude, `Notice`s for what the user must be told instead of or before an
  answer, and then the engine's own events.

Which messages enter at all (mentions, follow-ups, DMs) stays with each front. The engine
knows nothing of this module; this module knows nothing of Slack, HTTP or SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot import prompts
from bot.access import AccessPolicy
from bot.attachments import Attachment, AttachmentLimits, FileProblem, check_declared, read_all
from bot.events import EngineEvent, Notice, Started
from bot.input_cut import cut_input
from bot.keys import Key
from bot.limits import Limits, UsageLimiter
from bot.stopping import StopSignal
from bot.wiring import Services
from storage import Claim

logger = logging.getLogger(__name__)

LifecycleEvent = Started | Notice | EngineEvent


@dataclass(frozen=True)
class UserMessage:
    """One user message, as any front describes it to the lifecycle."""

    conversation: Key
    text: str
    user: str
    team: str
    # The exactly-once key; None for input that cannot arrive twice (the terminal), or that
    # is deduplicated otherwise (the API's Idempotency-Key, with its stored answer).
    message: Key | None = None
    # Where it was said and by whom, for the access policy; None skips that check (an API
    # key has already decided who may ask).
    channel: str | None = None
    sender_teams: tuple[str, ...] = ()
    has_files: bool = False
    # Files to read with the text (images, PDFs), fetched only once every check has passed;
    # a front that reads no files leaves it empty (and `has_files` gets the only-text line).
    attachments: tuple[Attachment, ...] = ()


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
    ) -> None:
        settings = services.settings
        self.services = services
        self.owner = owner
        self.access = access or AccessPolicy.from_settings(settings)
        self.limiter = limiter or UsageLimiter(
            services.storage.conversations, limits or Limits.from_settings(settings)
        )
        self.file_limits = AttachmentLimits.from_settings(settings)

    # ------------------------------------------------------------------ exactly once

    def claim(self, incoming: UserMessage, *, stored: dict[str, Any] | None = None) -> Claim | None:
        """Lease the message for this process; the claim, or None if it is not ours to answer
        (already answered, or held by a live owner; the front says so in its own log).

        `stored` is what a successor needs to answer it if this process dies.
        """
        if incoming.message is None:
            return Claim(str(incoming.conversation), self.owner, "claimed", None, "", None)
        claim = self.services.storage.claims.claim_message(
            str(incoming.message),
            owner=self.owner,
            thread_key=str(incoming.conversation),
            message=stored,
            lease_seconds=self.services.settings.claim_lease_seconds,
        )
        return claim

    def finish(self, incoming: UserMessage) -> None:
        """Mark the message done, so no re-delivery or restart handles it again."""
        if incoming.message is not None:
            self.services.storage.claims.finish(str(incoming.message))

    # ------------------------------------------------------------------ who may ask

    def check_access(self, incoming: UserMessage) -> Notice | None:
        """None if the sender may ask here; else the refusal to show (logged, without text)."""
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
            limit = self.services.settings.max_input_chars
            text, was_cut = cut_input(incoming.text, limit)
            if was_cut:
                yield Notice("input_cut", prompts.input_cut_notice(limit), "input cut", final=False)
            yield from self.services.answers.answer(
                str(incoming.conversation),
                text,
                user=incoming.user,
                team=incoming.team,
                stop=stop,
                files=files,
            )

    @staticmethod
    def _file_notice(incoming: UserMessage, problem: FileProblem) -> Notice:
        logger.info(
            "Not reading the files of %s: %s",
            incoming.message or incoming.conversation,
            problem.reason,
        )
        return Notice("file", problem.notice, problem.reason)
