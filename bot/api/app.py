"""The FastAPI app: /chat, /chat/stream, /conversations/{id}, /describe, /healthz, OpenAPI at
/docs.

`create_app` only assembles: the state the routes share (bot/api/deps.py), the body guard, the
error handlers, and one router per group of routes (bot/api/routes/). Handlers are `async def`
but never block: storage calls go through the threadpool, and a turn runs on a `TurnRunner`
worker that feeds an asyncio queue. Every error is `{"error": "..."}`.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations.
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from bot.api import attachments as api_files
from bot.api.deps import ApiState, error
from bot.api.guard import BodyGuard
from bot.api.routes import chat, conversations, describe, health
from bot.api.turns import TurnRunner
from bot.drain import Drain
from bot.wiring import Services

logger = logging.getLogger(__name__)

# In the order they were always registered, so the OpenAPI document lists them the same way.
ROUTERS = (health.router, conversations.router, chat.router, describe.router)


def create_app(
    services: Services, *, owner: str | None = None, drain: Drain | None = None
) -> FastAPI:
    """The API over `services`; `owner` names this process in idempotency leases, `drain`
    is the process's (its turns are counted as work in flight; bot/process.py)."""
    state = ApiState(services, TurnRunner(services, owner=owner, drain=drain))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Idempotency-Keys are claims: their leases are renewed while their turns run.
        state.runner.start()
        yield
        # Turns still running (a client may have gone) finish and are stored before exit.
        await run_in_threadpool(state.runner.shutdown)

    app = FastAPI(
        title="ShopMate API",
        description="ThreadCo's support assistant over HTTP. Authenticate with "
        "`Authorization: Bearer KEY` (keys from `shopmate api-keys create NAME`).",
        version="1",
        lifespan=lifespan,
    )
    app.state.api = state
    app.state.describer = describe.Describer(services)
    chat_limit = api_files.max_body_bytes(services.settings)
    app.add_middleware(
        BodyGuard,
        max_body_bytes=services.settings.api_max_body_bytes,
        path_limits={"/chat": chat_limit, "/chat/stream": chat_limit},
    )
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
    for router in ROUTERS:
        app.include_router(router)
    return app


async def http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return error(400, "the body is not valid JSON")
    parts = []
    for problem in problems:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
        parts.append(f"{where or 'body'}: {problem.get('msg', 'invalid')}")
    return error(422, "; ".join(parts))


async def unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.error("Unexpected API error", exc_info=exc)
    return error(500, "internal error")
