"""Streaming chunks (`chunks` on chat.startStream/appendStream/stopStream), checked like Slack.

Slack's chunk types: `markdown_text {text}`, `task_update {id, title, status, details?, output?,
sources?}` with status pending|in_progress|complete|error, `plan_update {title}` and `blocks
{blocks}`. A malformed chunk fails the whole call with `invalid_arguments` (and a message
naming the problem), as Slack answers a schema error; the chunks a call was accepted with are
recorded on the message in order, so tests can read the steps a user saw next to the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fakes.slack.block_kit import parse_blocks
from fakes.slack.wire import SlackError, parse_chunks

CHUNK_TYPES = frozenset({"markdown_text", "task_update", "plan_update", "blocks"})
TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
TASK_TEXT_MAX = 256  # details and output: one short line each


def _invalid(problem: str) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {problem}"]})


def _text_field(chunk: Mapping[str, Any], key: str, *, required: bool, limit: int | None) -> None:
    value = chunk.get(key)
    if value is None:
        if required:
            raise _invalid(f"{chunk.get('type')} chunk: missing required field: {key}")
        return
    if not isinstance(value, str) or (required and not value.strip()):
        raise _invalid(f"{chunk.get('type')} chunk: {key} must be a non-empty string")
    if limit is not None and len(value) > limit:
        raise _invalid(f"{chunk.get('type')} chunk: {key} is longer than {limit} characters")


def validate_chunk(chunk: Mapping[str, Any]) -> dict[str, Any]:
    """One chunk as Slack would accept it; raises SlackError otherwise."""
    kind = chunk.get("type")
    if kind not in CHUNK_TYPES:
        raise _invalid(f"unknown chunk type: {kind!r}")
    if kind == "markdown_text":
        if not isinstance(chunk.get("text"), str):
            raise _invalid("markdown_text chunk: text must be a string")
    elif kind == "task_update":
        _text_field(chunk, "id", required=True, limit=None)
        _text_field(chunk, "title", required=True, limit=None)
        if chunk.get("status") not in TASK_STATUSES:
            raise _invalid(f"task_update chunk: status must be one of {sorted(TASK_STATUSES)}")
        _text_field(chunk, "details", required=False, limit=TASK_TEXT_MAX)
        _text_field(chunk, "output", required=False, limit=TASK_TEXT_MAX)
        sources = chunk.get("sources")
        if sources is not None and not isinstance(sources, list):
            raise _invalid("task_update chunk: sources must be an array")
    elif kind == "plan_update":
        _text_field(chunk, "title", required=True, limit=None)
    else:
        parse_blocks(chunk.get("blocks"))
    return dict(chunk)


def stream_chunks(args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The call's `chunks`, each checked (an empty list is no chunks)."""
    return [validate_chunk(c) for c in parse_chunks(args.get("chunks"))]


def shown_chunks(args: Mapping[str, Any], chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What one accepted call adds to the message, in order (`markdown_text` as a chunk)."""
    text = args.get("markdown_text")
    leading = [{"type": "markdown_text", "text": text}] if isinstance(text, str) and text else []
    return leading + chunks


def tasks_of(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The task steps a user sees: each id once (where it first appeared), its latest state."""
    tasks: dict[str, dict[str, Any]] = {}
    for chunk in chunks:
        if chunk["type"] == "task_update":
            tasks[chunk["id"]] = {**tasks.get(chunk["id"], {}), **chunk}
    return list(tasks.values())
