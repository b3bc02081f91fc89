"""Stored messages hold a reference to a file; requests get Claude's image/document block.

A user message is stored as `[{"type": "shopmate_file", "sha256", "media_type", "name"}, …,
{"type": "text", …}]`: the file's bytes live once in storage, by content hash. `expand`
turns each reference back into an `image` or `document` block with a base64 source, built
from the same stored bytes every time, so every request of a thread starts with the same
bytes and the prompt cache keeps serving them.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

from bot.attachments.kinds import PDF

logger = logging.getLogger(__name__)

FILE_REF = "shopmate_file"

# sha256 -> (media_type, bytes), or None when the file is gone (purged).
FileLoader = Callable[[str], "tuple[str, bytes] | None"]


def file_ref(sha256: str, media_type: str, name: str) -> dict[str, Any]:
    return {"type": FILE_REF, "sha256": sha256, "media_type": media_type, "name": name}


def refs_in(content: Any) -> list[dict[str, Any]]:
    """The file references in one message's content."""
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == FILE_REF]


def api_block(media_type: str, data: bytes) -> dict[str, Any]:
    """Claude's content block for a file's bytes: `document` for a PDF, `image` otherwise."""
    source = {
        "type": "base64",
        "media_type": media_type,
        "data": base64.standard_b64encode(data).decode("ascii"),
    }
    return {"type": "document" if media_type == PDF else "image", "source": source}


def expand(messages: list[dict[str, Any]], load: FileLoader) -> list[dict[str, Any]]:
    """Messages with every file reference replaced by its block (a note if the file is gone).

    Messages without references are passed through untouched (no copy), so expanding a long
    text-only thread costs nothing.
    """
    out = []
    for message in messages:
        refs = refs_in(message.get("content"))
        if not refs:
            out.append(message)
            continue
        content = []
        for block in message["content"]:
            if isinstance(block, dict) and block.get("type") == FILE_REF:
                content.append(_block_for(block, load))
            else:
                content.append(block)
        out.append({**message, "content": content})
    return out


def _block_for(ref: dict[str, Any], load: FileLoader) -> dict[str, Any]:
    found = load(str(ref.get("sha256")))
    if found is None:
        logger.info("File %s is no longer stored; telling Claude so", ref.get("sha256"))
        return {"type": "text", "text": f"[The attached file {ref.get('name')} is no longer kept.]"}
    media_type, data = found
    return api_block(media_type, data)
