"""`POST /chat` (the whole answer) and `POST /chat/stream` (server-sent events): one turn each.

Both take the same checks (`prepare`): the message, its files, the Idempotency-Key and the
conversation; then the turn runs on the app's `TurnRunner` and its first item says whether it
runs at all (`start`).
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations.
import asyncio
import hashlib
import json
import logging
import re
import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot import prompts
from bot.api import attachments as api_files
from bot.api.deps import (
    CONVERSATION_ID,
    ApiState,
    IdempotencyKey,
    KeyName,
    State,
    conversation_id_of,
    error,
    thread_key_for,
)
from bot.api.schemas import ERRORS, ChatRequest, ChatResponse
from bot.api.sse import event_stream, replay, stream
from bot.api.turns import ApiTurn, Busy, Crashed, Ended, TurnItem, TurnOutcome, retry_after_for
from bot.attachments import AttachmentLimits
from bot.events import Notice, Started, ToolFinished, TurnComplete, TurnFailed
from bot.input_cut import clean_text

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")

router = APIRouter()


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={k: v for k, v in ERRORS.items() if k != 404} | {404: ERRORS[404]},
    summary="Send a message; get the whole answer",
)
async def chat(
    body: ChatRequest, key_name: KeyName, state: State, idempotency_key: IdempotencyKey = None
) -> Any:
    prepared = await prepare(state, body, key_name, idempotency_key)
    if not isinstance(prepared, ApiTurn):
        return prepared
    queue, refused = await start(state, prepared)
    if refused is not None:
        return refused
    outcome = TurnOutcome(prepared.conversation_id)
    failure: str | None = None
    while not isinstance(item := await queue.get(), Ended):
        if isinstance(item, TurnFailed):
            failure = item.message
        elif isinstance(item, Crashed):
            failure = prompts.FAILURE_NOTICE
        elif isinstance(item, ToolFinished | TurnComplete):
            outcome.add(item)
    if failure is not None:
        return JSONResponse(
            {"error": failure, "conversation_id": prepared.conversation_id}, status_code=503
        )
    return outcome.as_response()


@router.post(
    "/chat/stream",
    responses={200: {"content": {"text/event-stream": {}}}} | ERRORS,
    summary="Send a message; get the answer as server-sent events",
    description="Events: `start {conversation_id}`, `text {text}`, "
    "`tool {name, input, status, is_error}`, `notice {text}`, `done {reply, usage}`, "
    "`error {message}`. Each `data:` line is one JSON object.",
)
async def chat_stream(
    body: ChatRequest, key_name: KeyName, state: State, idempotency_key: IdempotencyKey = None
) -> Any:
    prepared = await prepare(state, body, key_name, idempotency_key)
    if isinstance(prepared, JSONResponse):
        return prepared
    if not isinstance(prepared, ApiTurn):
        return event_stream(replay(prepared))
    queue, refused = await start(state, prepared)
    if refused is not None:
        return refused
    return event_stream(stream(prepared.conversation_id, queue))


async def prepare(
    state: ApiState, body: ChatRequest, key_name: str, idempotency_key: str | None
) -> ApiTurn | JSONResponse | dict[str, Any]:
    """Checks shared by both chat endpoints: a turn to run, an error, or a stored answer."""
    checked = _check_request(state, body, idempotency_key)
    if isinstance(checked, JSONResponse):
        return checked
    text, files = checked
    thread_key = await _thread_key(state, body, key_name)
    if thread_key is None:
        return error(404, "no such conversation")
    if idempotency_key is not None:
        claimed = await _claim(state, body, key_name, idempotency_key, thread_key)
        if not isinstance(claimed, str):
            return claimed
        thread_key = claimed
    return ApiTurn(
        key_name=key_name,
        conversation_id=conversation_id_of(thread_key),
        thread_key=thread_key,
        text=text,
        idempotency_key=idempotency_key,
        attachments=files,
    )


def _check_request(
    state: ApiState, body: ChatRequest, idempotency_key: str | None
) -> JSONResponse | tuple[str, Any]:
    """The message's text and files, or the 4xx that refuses them (no storage touched)."""
    settings = state.settings
    text = clean_text(body.message)
    if not text:
        return error(422, "message: must contain some text")
    if len(text) > settings.max_input_chars:
        return error(422, f"message: must be at most {settings.max_input_chars} characters")
    files = api_files.decode(body.attachments, AttachmentLimits.from_settings(settings))
    if isinstance(files, str):
        return error(422, files)
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        return error(400, "Idempotency-Key must be 1-255 visible ASCII characters")
    return text, files


async def _thread_key(state: ApiState, body: ChatRequest, key_name: str) -> str | None:
    """A new conversation's key, or the named one's if this key has it; None if it has not."""
    if body.conversation_id is None:
        return thread_key_for(key_name, uuid.uuid4().hex)
    thread_key = thread_key_for(key_name, body.conversation_id)
    known = CONVERSATION_ID.fullmatch(body.conversation_id) and await run_in_threadpool(
        state.storage.conversations.exists, thread_key
    )
    return thread_key if known else None


async def _claim(
    state: ApiState, body: ChatRequest, key_name: str, idempotency_key: str, thread_key: str
) -> str | JSONResponse | dict[str, Any]:
    """Claim the Idempotency-Key: the thread to run in, a stored answer to replay, or a 4xx."""
    fingerprint = hashlib.sha256(
        json.dumps(
            [body.message, body.conversation_id, *api_files.fingerprint(body.attachments)]
        ).encode()
    ).hexdigest()
    begun = await run_in_threadpool(
        lambda: state.runner.begin(
            key_name, idempotency_key, fingerprint=fingerprint, thread_key=thread_key
        )
    )
    if begun.state == "replay":
        logger.info("Replayed request %r of key %s", idempotency_key, key_name)
        return begun.response or {}
    if begun.state == "running":
        return error(409, "a request with this Idempotency-Key is still running")
    if begun.state == "mismatch":
        return error(422, "this Idempotency-Key was used for a different request")
    return begun.thread_key or thread_key


async def start(
    state: ApiState, turn: ApiTurn
) -> tuple[asyncio.Queue[TurnItem], JSONResponse | None]:
    """Submit the turn; wait for its first item, which says whether it runs at all."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[TurnItem] = asyncio.Queue()
    state.runner.submit(turn, lambda item: loop.call_soon_threadsafe(queue.put_nowait, item))
    first = await queue.get()
    if isinstance(first, Started):
        return queue, None
    if isinstance(first, Notice) and first.kind == "limit":
        return queue, error(429, first.text, headers={"Retry-After": str(retry_after_for(first))})
    if isinstance(first, Notice) and first.kind == "file":
        return queue, error(422, first.text)  # ShopMate can't read the files sent
    if isinstance(first, Busy):
        return queue, error(409, "this conversation is answering another message")
    return queue, error(503, prompts.FAILURE_NOTICE)
