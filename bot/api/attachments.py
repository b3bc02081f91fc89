"""Files in an API request: JSON attachments with base64 `data`, decoded and checked like Slack's.

The request carries `attachments: [{"name", "media_type", "data"}]` (standard base64, as the
Messages API takes it). Count and size are checked here, before the turn is queued; type,
content (magic numbers), PDF pages and image downscaling are the lifecycle's, shared with
every front.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Sequence

from bot.api.schemas import AttachmentIn
from bot.attachments import Attachment, AttachmentLimits
from bot.settings import Settings


def max_body_bytes(settings: Settings) -> int:
    """The body limit: the text's, plus room for the most and largest files allowed."""
    per_file = 4 * math.ceil(settings.max_file_bytes / 3) + 1_024  # base64 and its JSON
    return settings.api_max_body_bytes + settings.max_files * per_file


def decode(items: Sequence[AttachmentIn], limits: AttachmentLimits) -> tuple[Attachment, ...] | str:
    """The attachments ready for the lifecycle, or the 422 message saying what is wrong."""
    if len(items) > limits.max_files:
        return f"attachments: at most {limits.max_files} files in one message"
    decoded = []
    for index, item in enumerate(items):
        try:
            data = base64.b64decode(item.data, validate=True)
        except (binascii.Error, ValueError):
            return f"attachments[{index}].data: must be standard base64"
        if len(data) > limits.max_file_bytes:
            return f"attachments[{index}]: larger than {limits.max_file_bytes} bytes"
        decoded.append(
            Attachment(
                name=item.name, media_type=item.media_type, size=len(data), fetch=_given(data)
            )
        )
    return tuple(decoded)


def fingerprint(items: Sequence[AttachmentIn]) -> list[str]:
    """What makes two requests the same, for Idempotency-Key: each file's name and bytes."""
    return [f"{item.name}:{hashlib.sha256(item.data.encode()).hexdigest()}" for item in items]


def _given(data: bytes):
    return lambda: data
