"""Runs API turns on worker threads and hands their events to the event loop as they happen.

The engine and storage are synchronous. A turn therefore runs on a thread of its own pool
(never in an `async def`, never holding one of the loop's default threadpool slots for the
whole answer), and pushes each event through `emit`, which the HTTP side turns into an
asyncio queue. The turn belongs to the server, not to the connection: a client that goes away
mid-stream stops receiving, while the turn runs to its end and is stored like any other, so
the conversation's history stays valid.

What happens to each turn is the lifecycle's (bot/lifecycle.py), as for every front: the
Idempotency-Key is a claim (its lease renewed by the lifecycle's heartbeat until the answer is
stored), then access, the conversation, limits, input cut, engine, storage and finish. Here
the request becomes a `UserMessage`, and the lifecycle's events become the items the HTTP side
sends; a second message to a conversation that is answering is refused (`Busy`), through the
lifecycle's one per-conversation order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.attachments import Attachment
from bot.drain import Drain, DrainingExecutor
from bot.events import EngineEvent, Notice, Started, ToolFinished, TurnComplete, TurnFailed
from bot.keys import Key
from bot.leases import new_owner_id
from bot.lifecycle import TurnLifecycle, UserMessage
from bot.limits import Limits
from bot.wiring import Services
from storage.api_requests import StoredRequest

logger = logging.getLogger(__name__)

#: The `team` of every API turn: all keys together count as one workspace for the limits.
API_TEAM = "api"


@dataclass(frozen=True)
class ApiTurn:
    """One message to answer: who asks (key name), where (thread key), and what."""

    key_name: str
    conversation_id: str
    thread_key: str
    text: str
    idempotency_key: str | None = None
    attachments: tuple[Attachment, ...] = ()


def api_message(
    key_name: str,
    thread_key: str,
    text: str,
    *,
    idempotency_key: str | None = None,
    attachments: tuple[Attachment, ...] = (),
) -> UserMessage:
    """An API request as the lifecycle takes it: the key asks, in its own conversation.

    No channel, so no access check (the key has decided who may ask); listed under the key's
    name, which is how `stats` shows API usage.
    """
    conversation = Key.parse(thread_key)
    if conversation is None:
        raise ValueError(f"not an API conversation: {thread_key!r}")
    return UserMessage(
        conversation=conversation,
        text=text,
        user=key_name,
        team=API_TEAM,
        message=Key.api_request(key_name, idempotency_key) if idempotency_key else None,
        attachments=attachments,
        listed_under=key_name,
    )


State = Literal["new", "replay", "running", "mismatch"]


@dataclass(frozen=True)
class Begun:
    """What claiming an Idempotency-Key decided: run the request (`new`), or answer with what
    is stored (`replay`), or refuse (`running`: still being answered; `mismatch`)."""

    state: State
    thread_key: str | None = None
    response: dict[str, Any] | None = None


@dataclass(frozen=True)
class Busy:
    """The conversation is answering another message right now."""


@dataclass(frozen=True)
class Crashed:
    """Something other than Claude failed; the user gets the generic notice."""


@dataclass(frozen=True)
class Ended:
    """Nothing more will be emitted for this turn."""


TurnItem = Started | Notice | Busy | Crashed | Ended | EngineEvent


def retry_after_for(notice: Notice) -> int:
    """Seconds until a client over a limit may usefully try again."""
    return 60 if notice.reason.endswith("per_minute") else 3600


@dataclass
class TurnOutcome:
    """What a finished turn amounts to, as the `POST /chat` response and the replay record."""

    conversation_id: str
    reply: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)

    def add(self, event: TurnItem) -> None:
        if isinstance(event, ToolFinished):
            self.tool_calls.append(
                {"name": event.name, "input": event.input, "is_error": event.is_error}
            )
        elif isinstance(event, TurnComplete):
            self.reply = event.text
            self.usage = event.usage.as_dict()

    def as_response(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "reply": self.reply,
            "tool_calls": self.tool_calls,
            "usage": self.usage,
        }


class TurnRunner:
    """A pool of turn workers with per-key limits, one turn at a time per conversation."""

    def __init__(
        self, services: Services, *, owner: str | None = None, drain: Drain | None = None
    ) -> None:
        """`drain` is the process's (bot/process.py): each turn counts as its work in flight."""
        settings = services.settings
        self.services = services
        self.owner = owner or new_owner_id()
        # The lifecycle every front shares, with the API's own limits: per key ("user") and
        # for all keys together ("team" api). Access is the key's business: no policy check.
        self.lifecycle = TurnLifecycle(
            services,
            owner=self.owner,
            limits=Limits(
                user_turns_per_minute=settings.api_key_turns_per_minute,
                team_turns_per_minute=settings.team_turns_per_minute,
                user_tokens_per_day=settings.api_key_tokens_per_day,
                team_tokens_per_day=settings.team_tokens_per_day,
            ),
        )
        self.drain = drain or Drain()
        self._executor = DrainingExecutor(
            self.drain, max_workers=settings.api_workers, thread_name_prefix="api-turn"
        )

    def start(self) -> TurnRunner:
        """Renew the leases of running requests' Idempotency-Keys until `shutdown()`.

        Nothing to recover: a request whose process died is taken over by its client's retry.
        """
        self.lifecycle.start(lambda: None)
        return self

    def begin(
        self, key_name: str, idempotency_key: str, *, fingerprint: str, thread_key: str
    ) -> Begun:
        """Claim an Idempotency-Key for a request, or say why it is not run (blocking).

        `thread_key` is the conversation a new request would use; a retry, also one taking
        over from a dead process, keeps the one its first attempt chose.
        """
        requests = self.services.storage.api_requests

        def record() -> StoredRequest:
            return requests.record(
                key_name,
                idempotency_key,
                fingerprint=fingerprint,
                thread_key=thread_key,
                owner=self.owner,
            )

        stored = record()
        if stored.fingerprint != fingerprint:
            return Begun("mismatch", stored.thread_key)
        if stored.response is not None:
            return Begun("replay", stored.thread_key, stored.response)
        message = api_message(key_name, stored.thread_key, "", idempotency_key=idempotency_key)
        claim = self.lifecycle.claim(message)
        if claim is not None:
            return Begun("new", claim.thread_key or stored.thread_key)
        stored = record()  # held by a live attempt, or answered a moment ago
        if stored.response is not None:
            return Begun("replay", stored.thread_key, stored.response)
        return Begun("running", stored.thread_key)

    def submit(self, turn: ApiTurn, emit: Callable[[TurnItem], None]) -> Future[None]:
        """Start `turn` on a worker; `emit` is called (on that worker) with every item."""
        return self._executor.submit(self._run, turn, emit)

    def shutdown(self) -> None:
        """Wait for running turns to finish and be stored, then stop the workers."""
        self._executor.shutdown(wait=True)
        self.lifecycle.stop()

    # ------------------------------------------------------------------ the worker

    def _run(self, turn: ApiTurn, emit: Callable[[TurnItem], None]) -> None:
        send = _safe(emit)
        message = api_message(
            turn.key_name,
            turn.thread_key,
            turn.text,
            idempotency_key=turn.idempotency_key,
            attachments=turn.attachments,
        )
        if turn.idempotency_key is None:
            self.lifecycle.claim(message)  # nothing to lease: it cannot arrive twice
        try:
            ran = self.lifecycle.serial.run_if_idle(
                turn.thread_key, lambda: self._answer(turn, message, send)
            )
            if not ran:
                self._forget(turn, message)
                send(Busy())
        finally:
            send(Ended())

    def _answer(
        self, turn: ApiTurn, message: UserMessage, send: Callable[[TurnItem], None]
    ) -> None:
        answered = False
        try:
            self.lifecycle.admit(message)  # always allowed: the key has decided who asks
            outcome = TurnOutcome(turn.conversation_id)
            for event in self.lifecycle.run(message):
                if isinstance(event, Started):
                    logger.info(
                        "API turn for key %s in conversation %s",
                        turn.key_name,
                        turn.conversation_id,
                    )
                elif isinstance(event, Notice) and event.kind == "limit":
                    logger.info("Limited API key %s (%s)", turn.key_name, event.reason)
                outcome.add(event)
                if isinstance(event, TurnComplete) and turn.idempotency_key:
                    self.services.storage.api_requests.finish(
                        turn.key_name,
                        turn.idempotency_key,
                        owner=self.owner,
                        response=outcome.as_response(),
                    )
                answered = answered or isinstance(event, TurnComplete)
                if isinstance(event, TurnFailed):
                    logger.warning("API turn for key %s failed: %s", turn.key_name, event.error)
                send(event)
        except Exception:
            logger.exception("API turn for key %s crashed", turn.key_name)
            send(Crashed())
        finally:
            if answered:
                self.lifecycle.finish(message)
            else:
                self._forget(turn, message)

    def _forget(self, turn: ApiTurn, message: UserMessage) -> None:
        """Let a retry with the same Idempotency-Key run again: this attempt gave no answer."""
        if turn.idempotency_key:
            try:
                self.lifecycle.forget(message)
                self.services.storage.api_requests.forget(turn.key_name, turn.idempotency_key)
            except Exception:
                logger.exception("Could not release request of key %s", turn.key_name)


def _safe(emit: Callable[[TurnItem], None]) -> Callable[[TurnItem], None]:
    """`emit` that never raises into the turn: a listener gone away must not stop the work."""

    def send(item: TurnItem) -> None:
        try:
            emit(item)
        except Exception:
            logger.debug("dropped %s: nobody is listening any more", type(item).__name__)

    return send
