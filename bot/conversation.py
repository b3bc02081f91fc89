"""One turn of a thread, front-agnostic: store the question, run the engine, store the answer."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

from bot.engine import Engine
from bot.events import EngineEvent, TurnComplete, TurnFailed
from bot.stopping import StopSignal
from bot.tools.registry import ToolContext
from storage import Storage

logger = logging.getLogger(__name__)


class ConversationService:
    """Ties the engine to storage so every front (Slack, terminal, demo) persists turns alike.

    The user's message is written the moment its turn starts, before Claude is called, so a
    crash mid-answer loses no question. The assistant and tool messages are written in one
    transaction when the answer completes; a failed turn writes only its usage, so the stored
    history stays a valid request and the next message in the thread just works. A turn the
    user stopped is stored as far as they saw it, with the status "stopped".
    """

    def __init__(self, storage: Storage, engine: Engine) -> None:
        self.storage = storage
        self.engine = engine

    def answer(
        self,
        thread_key: str,
        text: str,
        *,
        user: str | None = None,
        team: str | None = None,
        stop: StopSignal | None = None,
    ) -> Iterator[EngineEvent]:
        conversations = self.storage.conversations
        history = conversations.history(thread_key)
        question_id = conversations.add_user_message(thread_key, text, user=user, team=team)
        owner: dict[str, Any] = {
            "user": user,
            "team": team,
            "model": self.engine.config.model,
            "question_id": question_id,
        }
        # Tools that act on the conversation (the hand-off) learn here whose thread it is.
        context = ToolContext(conversation=thread_key, user=user, team=team)
        for event in self.engine.run_turn(history, text, context=context, stop=stop):
            if isinstance(event, TurnComplete):
                turn_id = conversations.add_turn(
                    thread_key,
                    event.messages,
                    usage=event.usage.as_dict(),
                    status="stopped" if event.stop_reason == "stopped" else "complete",
                    **owner,
                )
                # Fronts link what they show to the stored turn (feedback buttons rate it).
                event = dataclasses.replace(event, turn_id=turn_id)
            elif isinstance(event, TurnFailed):
                conversations.add_turn(
                    thread_key,
                    [],
                    usage=event.usage.as_dict(),
                    status="failed",
                    error=event.error,
                    **owner,
                )
            yield event
