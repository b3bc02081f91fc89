"""`POST /describe`: one product's description over HTTP, through the same `Copywriter` as the CLI.

The route is thin on purpose: the body is validated by `catalogue.make_product` (so a product is
accepted or refused exactly as in products.csv), and `Copywriter.describe` does the voice checks,
the one retry and the storage. A product whose inputs are unchanged is answered from the
database and never sent again ("never pay twice"), whichever key or front asked first.

`describe` blocks on the SDK, so it runs on a worker thread, at most `describe_concurrency` at
once; the event loop only waits. A client that disconnects does not stop a paid call: it
finishes and is stored, and asking again returns it. Requests for a product that is being
written right now wait for that call instead of paying for a second one.

Limits: answers from storage cost nothing and are not counted; each new description counts
against the key's `api_key_describes_per_minute` (429 with Retry-After when over it).
"""

# No `from __future__ import annotations`: FastAPI reads the handler's annotations.
import asyncio
import dataclasses
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from bot.api.deps import authenticate, error
from bot.api.schemas import ERRORS
from bot.describe.catalogue import BadProduct, make_product, slug
from bot.describe.prompt import ExamplesError, load_prompt
from bot.describe.service import Copywriter, FatalAPIError, Outcome
from bot.wiring import Services

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0

router = APIRouter()


class DescribeRequest(BaseModel):
    """One product, with the fields of a products.csv row."""

    # Strict like /chat: `5` is not a name; unknown fields are refused, not ignored.
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str | None = Field(
        default=None,
        description="The product's id (letters, digits, - and _); defaults to one from the name.",
        examples=["tee-moss"],
    )
    name: str = Field(examples=["Moss Tee"])
    material: str = Field(examples=["organic cotton"])
    price: str | float = Field(examples=["29.99"])
    colours: list[str] | str = Field(
        description="A list, or one string with colours separated by |.",
        examples=[["moss", "oat"]],
    )
    key_feature: str | None = Field(default="", examples=["a relaxed fit"])


class DescribeResponse(BaseModel):
    id: str
    status: str = Field(description="ok (kept), rejected (broke the voice twice), pending")
    description: str = Field(description="The text to publish; empty unless status is ok.")
    problems: list[str]
    error: str | None
    stored: bool = Field(description="Answered from storage: no model call this time.")


class KeyWindow:
    """New descriptions per key over the last minute, counted when admitted (so in flight too).

    Kept in memory: a restart forgets the window, which at worst admits one more minute's worth.
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._admitted: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key_name: str) -> int | None:
        """None when admitted (and counted); otherwise the seconds until one is allowed."""
        now = self.clock()
        with self._lock:
            times = self._admitted.setdefault(key_name, deque())
            while times and times[0] <= now - WINDOW_SECONDS:
                times.popleft()
            if len(times) >= self.per_minute:
                return max(1, math.ceil(times[0] + WINDOW_SECONDS - now))
            times.append(now)
            return None


class Describer:
    """One app's description desk: the copywriter (None if the examples can't be read), the
    per-key window, the worker threads, and the descriptions being written right now."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        self.window = KeyWindow(settings.api_key_describes_per_minute)
        self.workers = anyio.CapacityLimiter(settings.describe_concurrency)
        # Descriptions being written now, by (product id, input hash); touched only on the loop.
        self.writing: dict[tuple[str, str], asyncio.Future[Outcome]] = {}
        self.copywriter: Copywriter | None = None
        self.unavailable = ""
        try:
            prompt = load_prompt(settings.describe_model, settings.describe_examples)
        except ExamplesError as exc:
            # The chat API still serves; only descriptions are unavailable until this is fixed.
            logger.error("POST /describe is unavailable: %s", exc)
            self.unavailable = f"descriptions are unavailable: {exc}"
        else:
            self.copywriter = Copywriter(
                services.engine.client, services.storage.descriptions, prompt
            )


def describer(request: Request) -> Describer:
    return request.app.state.describer


@router.post(
    "/describe",
    response_model=DescribeResponse,
    responses={k: ERRORS[k] for k in (400, 401, 413, 415, 422, 429, 503)},
    summary="Write (or fetch the stored) description of one product in ThreadCo's voice",
    description="Same voice checks and storage as `shopmate describe`: an unchanged "
    "product is answered from storage with no model call (`stored: true`). A draft that "
    "breaks the voice twice comes back as `status: rejected` with its `problems`.",
)
async def describe(
    body: DescribeRequest,
    key_name: Annotated[str, Depends(authenticate)],
    desk: Annotated[Describer, Depends(describer)],
) -> Any:
    try:
        product = make_product(
            id=body.id if body.id is not None else slug(body.name),
            name=body.name,
            material=body.material,
            price=body.price,
            colours=body.colours,
            key_feature=body.key_feature,
        )
    except BadProduct as exc:
        return error(422, str(exc))
    copywriter = desk.copywriter
    if copywriter is None:
        return error(503, desk.unavailable)
    known = await run_in_threadpool(lambda: copywriter.stored([product]).get(product.id))
    if known is not None:
        return _respond(known)
    inputs = copywriter.key(product)
    running = desk.writing.get(inputs)
    if running is not None:
        # The same product is being written for another request right now: share that
        # call rather than pay for a second one (free, so not counted against the limit).
        logger.info("Waiting for %s, already being written", product.id)
        return await _shared(running)
    wait = desk.window.admit(key_name)
    if wait is not None:
        logger.info("Limited API key %s (describes per minute)", key_name)
        return error(
            429,
            f"this key may ask for {desk.window.per_minute} new descriptions a minute; "
            f"try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    logger.info("Describing %s for API key %s", product.id, key_name)
    # A task of its own: a paid call finishes and is stored even if this client has gone.
    task = asyncio.ensure_future(
        anyio.to_thread.run_sync(copywriter.describe, product, limiter=desk.workers)
    )
    desk.writing[inputs] = task
    task.add_done_callback(lambda _: desk.writing.pop(inputs, None))
    return await _shared(task, first=True)


async def _shared(task: asyncio.Future[Outcome], *, first: bool = False) -> Any:
    """The outcome of a running description; `first` is the request that paid for it."""
    try:
        outcome = await asyncio.shield(task)
    except FatalAPIError as exc:
        if first:
            logger.error("POST /describe cannot reach Claude: %s", exc)
        return JSONResponse({"error": f"descriptions are unavailable: {exc}"}, status_code=503)
    if not first and outcome.status != "error":
        outcome = dataclasses.replace(outcome, stored=True)
    return _respond(outcome)


def _respond(outcome: Outcome) -> Any:
    """ok/rejected → 200, pending (in a batch) → 202, error (nothing paid) → 503."""
    body = outcome.as_dict()
    if outcome.status == "error":
        headers = None
        if outcome.retry_after is not None:
            headers = {"Retry-After": str(max(1, math.ceil(outcome.retry_after)))}
        return JSONResponse(body, status_code=503, headers=headers)
    if outcome.status == "pending":
        return JSONResponse(body, status_code=202)
    return body
