"""An ASGI layer that turns away bodies the API never wants, before any parsing or auth work.

A POST must say `Content-Type: application/json` (415 otherwise) and stay under the body cap
(413 otherwise). The cap is enforced on the bytes that actually arrive, not only on the
Content-Length header, so a chunked upload without a length cannot grow past it either. The
body is read here, bounded, and replayed to the app, so FastAPI never buffers more.
"""

from __future__ import annotations

import email.message
import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


def is_json_content_type(value: str | None) -> bool:
    """True for application/json and application/*+json, with any parameters."""
    if not value:
        return False
    message = email.message.Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class BodyGuard:
    """Checks the content type and size of every request body for the wrapped app."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Paths that take more (the chat endpoints carry attached files).
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in {"POST", "PUT", "PATCH"}:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not is_json_content_type(headers.get("content-type")):
            await _error(send, 415, "send the body as JSON with Content-Type: application/json")
            return
        limit = self.path_limits.get(scope.get("path", ""), self.max_body_bytes)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _error(send, 413, f"the body must be at most {limit} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _error(send, 413, f"the body must be at most {limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            # After the body, the app (e.g. a streaming response) waits for the disconnect.
            return await receive()

        await self.app(scope, replay, send)


async def _error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # We stop reading the request; the connection cannot be reused for another one.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
