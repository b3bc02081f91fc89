"""The API's request and response bodies, as pydantic models (they also make the OpenAPI docs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AttachmentIn(BaseModel):
    """A file sent with a message: an image (PNG, JPEG, GIF, WebP) or a PDF, base64-encoded."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(max_length=255, description="The file's name, used in replies.")
    media_type: str = Field(
        max_length=100,
        description="image/png, image/jpeg, image/gif, image/webp or application/pdf.",
    )
    data: str = Field(description="The file's bytes in standard base64.")


class ChatRequest(BaseModel):
    """One user message. History lives on the server: send only the conversation's id."""

    # Strict: `5` is not a message and `{}` not an id; unknown fields (e.g. the seed's
    # client-held `history`) are refused rather than silently ignored.
    model_config = ConfigDict(extra="forbid", strict=True)

    message: str = Field(description="What the user wrote.", examples=["Where is ORD-1001?"])
    conversation_id: str | None = Field(
        default=None, description="Continue this conversation; null starts a new one."
    )
    attachments: list[AttachmentIn] = Field(
        default_factory=list,
        description="Images or PDFs to read with the message (SHOPMATE_MAX_FILES of at most "
        "SHOPMATE_MAX_FILE_BYTES each).",
    )


class ToolCall(BaseModel):
    name: str
    input: dict[str, Any]
    is_error: bool


class Usage(BaseModel):
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    model_calls: int


class ChatResponse(BaseModel):
    conversation_id: str
    reply: str
    tool_calls: list[ToolCall]
    usage: Usage


class TranscriptEntry(BaseModel):
    role: str
    text: str
    tool_calls: list[ToolCall]


class Conversation(BaseModel):
    conversation_id: str
    messages: list[TranscriptEntry]


class ErrorBody(BaseModel):
    """Every error the API returns has this shape."""

    error: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Malformed JSON or a bad Idempotency-Key header",
        401: "No API key, or a revoked or unknown one",
        404: "No such conversation for this key",
        409: "The conversation is answering another message, or the idempotent request runs",
        413: "The body is too large",
        415: "The body is not JSON",
        422: "Wrong field types, an empty or over-long message, a reused Idempotency-Key, "
        "or attachments ShopMate can't read (too many, too large, another type)",
        429: "Over the key's turn or token limit (see Retry-After)",
        503: "Claude could not be reached; the error is the notice Slack users see too",
    }.items()
}
