"""Runs API turns on worker threads and hands their events to the event loop as they happen.

The engine and storage are synchronous. A turn therefore runs on a thread of its own pool
(never in an `async def`, never holding one of the loop's default threadpool slots for the
whole answer), and pushes each event through `emit`, which the HTTP side turns into an
asyncio queue. The turn belongs to the server, not to the connection: a client that goes away
mid-stream stops receiving, while the turn runs to its end and is stored like any other, so
the conversation's history stays valid.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bot.attachments import Attachment
from bot.events import EngineEvent, Notice, Started, ToolFinished, TurnComplete, TurnFailed
from bot.keys import Key
from bot.lifecycle import TurnLifecycle, UserMessage
from bot.limits import Limits
from bot.wiring import Services

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

    def __init__(self, services: Services, *, owner: str) -> None:
        settings = services.settings
        self.services = services
        self.owner = owner
        self.lease_seconds = settings.claim_lease_seconds
        self.renew_seconds = settings.lease_renew_seconds
        # The lifecycle every front shares, with the API's own limits: per key ("user") and
        # for all keys together ("team" api). Access is the key's business: no policy check.
        self.lifecycle = TurnLifecycle(
            services,
            owner=owner,
            limits=Limits(
                user_turns_per_minute=settings.api_key_turns_per_minute,
                team_turns_per_minute=settings.team_turns_per_minute,
                user_tokens_per_day=settings.api_key_tokens_per_day,
                team_tokens_per_day=settings.team_tokens_per_day,
            ),
        )
        self._executor = ThreadPoolExecutor(
            max_workers=settings.api_workers, thread_name_prefix="api-turn"
        )
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()

    def submit(self, turn: ApiTurn, emit: Callable[[TurnItem], None]) -> Future[None]:
        """Start `turn` on a worker; `emit` is called (on that worker) with every item."""
        return self._executor.submit(self._run, turn, emit)

    def shutdown(self) -> None:
        """Wait for running turns to finish and be stored, then stop the workers."""
        self._executor.shutdown(wait=True)

    # ------------------------------------------------------------------ the worker

    def _run(self, turn: ApiTurn, emit: Callable[[TurnItem], None]) -> None:
        send = _safe(emit)
        with self._busy_lock:
            busy = turn.thread_key in self._busy
            if not busy:
                self._busy.add(turn.thread_key)
        if busy:
            self._release(turn)
            send(Busy())
            send(Ended())
            return
        try:
            self._answer(turn, send)
        finally:
            with self._busy_lock:
                self._busy.discard(turn.thread_key)
            send(Ended())

    def _answer(self, turn: ApiTurn, send: Callable[[TurnItem], None]) -> None:
        storage = self.services.storage
        answered = False
        message = UserMessage(
            conversation=Key.api(turn.key_name, turn.conversation_id),
            text=turn.text,
            user=turn.key_name,
            team=API_TEAM,
            attachments=turn.attachments,
        )
        try:
            outcome = TurnOutcome(turn.conversation_id)
            renewed = time.monotonic()
            for event in self.lifecycle.run(message):
                if isinstance(event, Started):
                    # The conversation is this key's from now on (channel = the key's name,
                    # which is how `stats` shows API usage).
                    storage.conversations.ensure(
                        turn.thread_key, platform="api", team=API_TEAM, channel=turn.key_name
                    )
                    logger.info(
                        "API turn for key %s in conversation %s",
                        turn.key_name,
                        turn.conversation_id,
                    )
                elif isinstance(event, Notice) and event.kind == "limit":
                    logger.info("Limited API key %s (%s)", turn.key_name, event.reason)
                outcome.add(event)
                if isinstance(event, TurnComplete) and turn.idempotency_key:
                    storage.api_requests.finish(
                        turn.key_name,
                        turn.idempotency_key,
                        owner=self.owner,
                        response=outcome.as_response(),
                    )
                answered = answered or isinstance(event, TurnComplete)
                if isinstance(event, TurnFailed):
                    logger.warning("API turn for key %s failed: %s", turn.key_name, event.error)
                send(event)
                if turn.idempotency_key and time.monotonic() - renewed > self.renew_seconds:
                    storage.api_requests.renew(
                        turn.key_name,
                        turn.idempotency_key,
                        owner=self.owner,
                        lease_seconds=self.lease_seconds,
                    )
                    renewed = time.monotonic()
        except Exception:
            logger.exception("API turn for key %s crashed", turn.key_name)
            send(Crashed())
        finally:
            if not answered:
                self._release(turn)

    def _release(self, turn: ApiTurn) -> None:
        """Let a retry with the same Idempotency-Key run again: this attempt gave no answer."""
        if turn.idempotency_key:
            try:
                self.services.storage.api_requests.release(
                    turn.key_name, turn.idempotency_key, owner=self.owner
                )
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
