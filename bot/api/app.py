"""The FastAPI app: /chat, /chat/stream, /conversations/{id}, /healthz, OpenAPI at /docs.

Handlers are `async def` but never block: storage calls go through the threadpool, and a turn
runs on a `TurnRunner` worker that feeds an asyncio queue. Every error is `{"error": "..."}`.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations, which
# name types local to create_app().
import asyncio
import hashlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from bot import prompts
from bot.api import attachments as api_files
from bot.api.describe import add_describe_route
from bot.api.guard import BodyGuard
from bot.api.schemas import ERRORS, ChatRequest, ChatResponse, Conversation
from bot.api.transcript import transcript
from bot.api.turns import (
    ApiTurn,
    Busy,
    Crashed,
    Ended,
    TurnItem,
    TurnOutcome,
    TurnRunner,
    retry_after_for,
)
from bot.attachments import AttachmentLimits
from bot.events import (
    Notice,
    Started,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnComplete,
    TurnFailed,
)
from bot.keys import Key
from bot.trust import clean_text
from bot.wiring import Services

logger = logging.getLogger(__name__)

CONVERSATION_ID = re.compile(r"[0-9a-f]{32}")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
KEEPALIVE_SECONDS = 15.0


def thread_key_for(key_name: str, conversation_id: str) -> str:
    """Conversations are stored per key: another key's id simply names no conversation."""
    return str(Key.api(key_name, conversation_id))


def conversation_id_of(thread_key: str) -> str:
    key = Key.parse(thread_key)
    assert key is not None, thread_key
    return key.last


def sse(event: str, data: dict[str, Any]) -> str:
    """One server-sent event. JSON never holds a raw newline, so text cannot break the frame."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(services: Services, *, owner: str | None = None) -> FastAPI:
    """The API over `services`; `owner` names this process in idempotency leases."""
    runner = TurnRunner(services, owner=owner or uuid.uuid4().hex)
    settings = services.settings
    storage = services.storage

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        # Turns still running (a client may have gone) finish and are stored before exit.
        await run_in_threadpool(runner.shutdown)

    app = FastAPI(
        title="ShopMate API",
        description="ThreadCo's support assistant over HTTP. Authenticate with "
        "`Authorization: Bearer KEY` (keys from `shopmate api-keys create NAME`).",
        version="1",
        lifespan=lifespan,
    )
    chat_limit = api_files.max_body_bytes(settings)
    app.add_middleware(
        BodyGuard,
        max_body_bytes=settings.api_max_body_bytes,
        path_limits={"/chat": chat_limit, "/chat/stream": chat_limit},
    )
    bearer = HTTPBearer(auto_error=False, description="A key from `shopmate api-keys create`")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return error(400, "the body is not valid JSON")
        parts = []
        for problem in problems:
            where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
            parts.append(f"{where or 'body'}: {problem.get('msg', 'invalid')}")
        return error(422, "; ".join(parts))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.error("Unexpected API error", exc_info=exc)
        return error(500, "internal error")

    def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str:
        """The key's name; 401 for a missing, unknown or revoked key (its value is never logged)."""
        name = storage.api_keys.verify(credentials.credentials) if credentials else None
        if name is None:
            logger.info("Refused an API request without a valid key")
            raise HTTPException(
                401, "a valid API key is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return name

    KeyName = Annotated[str, Depends(authenticate)]
    IdempotencyKey = Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="Retrying with the same key replays."),
    ]

    @app.get("/healthz", summary="Liveness check for load balancers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/conversations/{conversation_id}",
        response_model=Conversation,
        responses={k: ERRORS[k] for k in (401, 404)},
        summary="The stored conversation: role, text and tool calls of each message",
    )
    def get_conversation(conversation_id: str, key_name: KeyName) -> Any:
        if not CONVERSATION_ID.fullmatch(conversation_id):
            return error(404, "no such conversation")
        thread_key = thread_key_for(key_name, conversation_id)
        if not storage.conversations.exists(thread_key):
            return error(404, "no such conversation")
        history = storage.conversations.history(thread_key)
        return {"conversation_id": conversation_id, "messages": transcript(history)}

    async def prepare(
        body: ChatRequest, key_name: str, idempotency_key: str | None
    ) -> ApiTurn | JSONResponse | dict[str, Any]:
        """Checks shared by both chat endpoints: a turn to run, an error, or a stored answer."""
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
        if body.conversation_id is None:
            thread_key = thread_key_for(key_name, uuid.uuid4().hex)
        else:
            thread_key = thread_key_for(key_name, body.conversation_id)
            known = CONVERSATION_ID.fullmatch(body.conversation_id) and await run_in_threadpool(
                storage.conversations.exists, thread_key
            )
            if not known:
                return error(404, "no such conversation")
        if idempotency_key is not None:
            fingerprint = hashlib.sha256(
                json.dumps(
                    [body.message, body.conversation_id, *api_files.fingerprint(body.attachments)]
                ).encode()
            ).hexdigest()
            begun = await run_in_threadpool(
                lambda: storage.api_requests.begin(
                    key_name,
                    idempotency_key,
                    fingerprint=fingerprint,
                    thread_key=thread_key,
                    owner=runner.owner,
                    lease_seconds=runner.lease_seconds,
                )
            )
            if begun.state == "replay":
                logger.info("Replayed request %r of key %s", idempotency_key, key_name)
                return begun.response or {}
            if begun.state == "running":
                return error(409, "a request with this Idempotency-Key is still running")
            if begun.state == "mismatch":
                return error(422, "this Idempotency-Key was used for a different request")
            thread_key = begun.thread_key or thread_key
        return ApiTurn(
            key_name=key_name,
            conversation_id=conversation_id_of(thread_key),
            thread_key=thread_key,
            text=text,
            idempotency_key=idempotency_key,
            attachments=files,
        )

    async def start(turn: ApiTurn) -> tuple[asyncio.Queue[TurnItem], JSONResponse | None]:
        """Submit the turn; wait for its first item, which says whether it runs at all."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[TurnItem] = asyncio.Queue()
        runner.submit(turn, lambda item: loop.call_soon_threadsafe(queue.put_nowait, item))
        first = await queue.get()
        if isinstance(first, Started):
            return queue, None
        if isinstance(first, Notice) and first.kind == "limit":
            return queue, error(
                429, first.text, headers={"Retry-After": str(retry_after_for(first))}
            )
        if isinstance(first, Notice) and first.kind == "file":
            return queue, error(422, first.text)  # ShopMate can't read the files sent
        if isinstance(first, Busy):
            return queue, error(409, "this conversation is answering another message")
        return queue, error(503, prompts.FAILURE_NOTICE)

    @app.post(
        "/chat",
        response_model=ChatResponse,
        responses={k: v for k, v in ERRORS.items() if k != 404} | {404: ERRORS[404]},
        summary="Send a message; get the whole answer",
    )
    async def chat(
        body: ChatRequest, key_name: KeyName, idempotency_key: IdempotencyKey = None
    ) -> Any:
        prepared = await prepare(body, key_name, idempotency_key)
        if not isinstance(prepared, ApiTurn):
            return prepared
        queue, refused = await start(prepared)
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

    @app.post(
        "/chat/stream",
        responses={200: {"content": {"text/event-stream": {}}}} | ERRORS,
        summary="Send a message; get the answer as server-sent events",
        description="Events: `start {conversation_id}`, `text {text}`, "
        "`tool {name, input, status, is_error}`, `notice {text}`, `done {reply, usage}`, "
        "`error {message}`. Each `data:` line is one JSON object.",
    )
    async def chat_stream(
        body: ChatRequest, key_name: KeyName, idempotency_key: IdempotencyKey = None
    ) -> Any:
        prepared = await prepare(body, key_name, idempotency_key)
        if isinstance(prepared, JSONResponse):
            return prepared
        if not isinstance(prepared, ApiTurn):
            return _event_stream(_replay(prepared))
        queue, refused = await start(prepared)
        if refused is not None:
            return refused
        return _event_stream(_stream(prepared.conversation_id, queue))

    add_describe_route(app, services, authenticate=authenticate)
    return app


def _event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        # No proxy buffering or caching: the point is to see words as they are written.
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _replay(response: dict[str, Any]) -> AsyncIterator[str]:
    """A stored answer, as the events its first stream sent (text in one piece)."""
    yield sse("start", {"conversation_id": response.get("conversation_id")})
    for call in response.get("tool_calls", []):
        yield sse("tool", {**call, "status": "finished"})
    if response.get("reply"):
        yield sse("text", {"text": response["reply"]})
    yield sse("done", {"reply": response.get("reply", ""), "usage": response.get("usage", {})})


async def _stream(conversation_id: str, queue: asyncio.Queue[TurnItem]) -> AsyncIterator[str]:
    """Engine events as SSE. If the client leaves, this generator is cancelled; the turn isn't."""
    yield sse("start", {"conversation_id": conversation_id})
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
        except TimeoutError:
            yield ": keep-alive\n\n"  # a comment line: proxies see traffic, clients ignore it
            continue
        if isinstance(item, Ended):
            return
        if isinstance(item, TextDelta):
            yield sse("text", {"text": item.text})
        elif isinstance(item, ToolStarted):
            yield sse("tool", _tool(item.name, item.input, "started", is_error=False))
        elif isinstance(item, ToolFinished):
            yield sse("tool", _tool(item.name, item.input, "finished", is_error=item.is_error))
        elif isinstance(item, TurnComplete):
            yield sse("done", {"reply": item.text, "usage": item.usage.as_dict()})
        elif isinstance(item, Notice):
            yield sse("notice", {"text": item.text})
        elif isinstance(item, TurnFailed):
            yield sse("error", {"message": item.message})
        elif isinstance(item, Crashed):
            yield sse("error", {"message": prompts.FAILURE_NOTICE})


def _tool(name: str, tool_input: dict[str, Any], status: str, *, is_error: bool) -> dict[str, Any]:
    return {"name": name, "input": tool_input, "status": status, "is_error": is_error}
