"""`GET /conversations/{id}`: a stored conversation, as the key that started it sees it."""

# No `from __future__ import annotations`: FastAPI reads the handler's annotations.
from typing import Any

from fastapi import APIRouter

from bot.api.deps import CONVERSATION_ID, KeyName, State, error, thread_key_for
from bot.api.schemas import ERRORS, Conversation
from bot.api.transcript import transcript

router = APIRouter()


@router.get(
    "/conversations/{conversation_id}",
    response_model=Conversation,
    responses={k: ERRORS[k] for k in (401, 404)},
    summary="The stored conversation: role, text and tool calls of each message",
)
def get_conversation(conversation_id: str, key_name: KeyName, state: State) -> Any:
    if not CONVERSATION_ID.fullmatch(conversation_id):
        return error(404, "no such conversation")
    thread_key = thread_key_for(key_name, conversation_id)
    storage = state.storage
    if not storage.conversations.exists(thread_key):
        return error(404, "no such conversation")
    history = storage.conversations.history(thread_key)
    return {"conversation_id": conversation_id, "messages": transcript(history)}
