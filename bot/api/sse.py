"""A turn's events as server-sent events for `POST /chat/stream`, live or replayed from storage."""

# No `from __future__ import annotations`, like the routes that use these.
import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from bot import prompts
from bot.api.turns import Crashed, Ended, TurnItem
from bot.events import Notice, TextDelta, ToolFinished, ToolStarted, TurnComplete, TurnFailed

KEEPALIVE_SECONDS = 15.0


def sse(event: str, data: dict[str, Any]) -> str:
    """One server-sent event. JSON never holds a raw newline, so text cannot break the frame."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        # No proxy buffering or caching: the point is to see words as they are written.
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def replay(response: dict[str, Any]) -> AsyncIterator[str]:
    """A stored answer, as the events its first stream sent (text in one piece)."""
    yield sse("start", {"conversation_id": response.get("conversation_id")})
    for call in response.get("tool_calls", []):
        yield sse("tool", {**call, "status": "finished"})
    if response.get("reply"):
        yield sse("text", {"text": response["reply"]})
    yield sse("done", {"reply": response.get("reply", ""), "usage": response.get("usage", {})})


async def stream(conversation_id: str, queue: asyncio.Queue[TurnItem]) -> AsyncIterator[str]:
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
