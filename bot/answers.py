"""One turn of a conversation, front-agnostic: store the question, run the engine, store it."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from bot.attachments import PreparedFile, expand, file_ref
from bot.engine import Engine
from bot.events import EngineEvent, TurnComplete, TurnFailed
from bot.stopping import StopSignal
from bot.tools.registry import ToolContext
from storage import NewFile, Storage

logger = logging.getLogger(__name__)


class AnswerService:
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
        files: Sequence[PreparedFile] = (),
    ) -> Iterator[EngineEvent]:
        """Answer `text` (and its `files`, already checked and shrunk) in the thread.

        Files are stored once by content hash and referenced from the stored question; the
        history sent to Claude rebuilds their blocks from those stored bytes, the same every
        turn, so a follow-up about "the screenshot above" sends it again from storage.
        """
        conversations = self.storage.conversations
        load = self.storage.files.load
        history = expand(conversations.history(thread_key), load)
        content: str | list[dict[str, Any]] = text
        if files:
            # Files before the text: Claude reads a question best after what it is about.
            content = [file_ref(f.sha256, f.media_type, f.name) for f in files]
            if text:
                content.append({"type": "text", "text": text})
        question_id = conversations.add_user_message(thread_key, content, user=user, team=team)
        if files:
            self.storage.files.attach(thread_key, question_id, [_new_file(f) for f in files])
            # This turn's blocks from the bytes in hand (stored by hash: the same bytes), not
            # read back from storage right after writing them.
            in_hand = {f.sha256: (f.media_type, f.data) for f in files}
            [question] = expand([{"role": "user", "content": content}], in_hand.get)
            content = question["content"]
        owner: dict[str, Any] = {
            "user": user,
            "team": team,
            "model": self.engine.config.model,
            "question_id": question_id,
        }
        # Tools that act on the conversation (the hand-off) learn here whose thread it is.
        context = ToolContext(conversation=thread_key, user=user, team=team)
        for event in self.engine.run_turn(history, content, context=context, stop=stop):
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


def _new_file(file: PreparedFile) -> NewFile:
    return NewFile(
        sha256=file.sha256,
        media_type=file.media_type,
        data=file.data,
        name=file.name,
        width=file.width,
        height=file.height,
        pages=file.pages,
    )
