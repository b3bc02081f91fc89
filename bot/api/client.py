"""`shopmate chat --url`: the terminal chat against a remote ShopMate API, streamed.

This replaces the seed's TypeScript `client.ts`. History stays on the server; the client
keeps only the conversation id it was given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, TextIO

import httpx2

from bot.console import AnswerWriter, read_questions

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """The API answered with an error status; `message` is its `error` text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ApiClient:
    """A small client for the ShopMate API; `httpx2` is the HTTP library the SDK also uses."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0) -> None:
        self._http = httpx2.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            # The stream may pause while tools run; reads wait longer than connects.
            timeout=httpx2.Timeout(timeout, read=300.0),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stream(
        self, message: str, conversation_id: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """POST /chat/stream; yields (event, data) pairs. ApiError for an error status."""
        body = {"message": message, "conversation_id": conversation_id}
        with self._http.sse("/chat/stream", method="POST", json=body) as source:
            response = source.response
            if response.status_code != 200:
                response.read()
                raise ApiError(response.status_code, _error_text(response))
            for event in source:
                yield event.event, json.loads(event.data)

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        response = self._http.get(f"/conversations/{conversation_id}")
        if response.status_code != 200:
            raise ApiError(response.status_code, _error_text(response))
        return response.json()


def _error_text(response: httpx2.Response) -> str:
    try:
        return str(response.json().get("error") or response.text)
    except ValueError:
        return response.text[:200] or response.reason_phrase


def print_stream(events: Iterator[tuple[str, dict[str, Any]]], out: TextIO) -> str | None:
    """Write one streamed answer as it arrives; returns the conversation id it belongs to."""
    conversation_id = None
    write = AnswerWriter(out)
    for event, data in events:
        if event == "start":
            conversation_id = data.get("conversation_id")
        elif event == "text":
            write.words(str(data.get("text", "")))
        elif event == "tool" and data.get("status") == "finished":
            shown = " ".join(str(v) for v in (data.get("input") or {}).values())
            outcome = "error" if data.get("is_error") else "ok"
            write.line(f"  [{data.get('name')} {shown} -> {outcome}]")
        elif event == "notice":
            write.line(f"ShopMate: {data.get('text', '')}")
        elif event == "error":
            write.line(f"ShopMate: {data.get('message', '')}")
        elif event == "done":
            write.end()
    return conversation_id


def remote_chat(
    client: ApiClient, *, stdin: TextIO, out: TextIO, conversation_id: str | None = None
) -> int:
    """Read questions line by line until EOF or Ctrl-C, each answered by the remote API."""
    out.write("ShopMate support chat (remote). Type a question; Ctrl-D or Ctrl-C to leave.\n")
    if conversation_id:
        count = len(client.conversation(conversation_id)["messages"])
        out.write(f"(resuming conversation {conversation_id}: {count} earlier messages)\n")
    out.flush()
    try:
        for text in read_questions(stdin, out):
            try:
                conversation_id = (
                    print_stream(client.stream(text, conversation_id), out) or conversation_id
                )
            except ApiError as failure:
                if failure.status == 401:
                    raise
                out.write(f"ShopMate: {failure.message}\n")
            except httpx2.TransportError as failure:
                out.write(f"ShopMate: the connection to the API failed ({failure}). Try again.\n")
    except KeyboardInterrupt:
        out.write("\n")
    if conversation_id:
        out.write(f"Conversation {conversation_id} (resume: --conversation {conversation_id})\n")
    out.write("Bye.\n")
    out.flush()
    return 0
