"""What the fake Claude can be told to answer (a reply, an HTTP error, a mid-stream error, a
cut stream) and what it records of each request."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from fakes.claude.replies import Reply

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- response specs


@dataclass(frozen=True)
class Pace:
    """How fast the fake "generates": a wait before the first token, then a token rate.

    `tokens_per_s=None` means as fast as the socket allows. Benchmarks use `Pace(0.4, 60)`, close
    to a real model, so that streaming vs. non-streaming differences show up in wall time.
    """

    first_token_s: float = 0.0
    tokens_per_s: float | None = None
    # Time before the first token that grows with the input, for benchmarks of what is sent
    # (both off by default): reading the request's bytes, and the API's own downscaling of
    # an image larger than it reads (Anthropic: it "will increase latency of time-to-first-
    # token"), per megapixel of such images.
    input_bytes_per_s: float | None = None
    resize_s_per_megapixel: float = 0.0

    def __post_init__(self) -> None:
        if self.first_token_s < 0:
            raise ValueError("first_token_s must be >= 0")
        if self.tokens_per_s is not None and self.tokens_per_s <= 0:
            raise ValueError("tokens_per_s must be > 0 or None")


@dataclass(frozen=True)
class HttpError:
    """A plain HTTP error answer, as the API sends before any streaming starts."""

    status: int
    error_type: str
    message: str
    retry_after: float | None = None
    should_retry: bool | None = None


@dataclass(frozen=True)
class StreamError:
    """A 200 SSE stream that sends some text, then an `error` event (e.g. overloaded mid-answer)."""

    after_text: str = ""
    error_type: str = "overloaded_error"
    message: str = "Overloaded"


@dataclass(frozen=True)
class CutStream:
    """A 200 SSE stream that ends before `message_delta`/`message_stop`.

    `abort=False` ends the HTTP body cleanly and closes the connection (the SDK sees a short
    stream); `abort=True` drops the socket mid-body (the HTTP layer sees a broken transfer).
    """

    after_text: str = ""
    abort: bool = False


Response = Reply | HttpError | StreamError | CutStream


def http_error(
    status: int,
    error_type: str,
    message: str,
    retry_after: float | None = None,
    *,
    should_retry: bool | None = None,
) -> HttpError:
    """An HTTP error answer; `retry_after` (seconds) sets `retry-after` and `retry-after-ms`."""
    return HttpError(status, error_type, message, retry_after, should_retry)


def stream_error(
    after_text: str = "", error_type: str = "overloaded_error", message: str = "Overloaded"
) -> StreamError:
    """A stream that fails after `after_text` with an SSE `error` event."""
    return StreamError(after_text, error_type, message)


def cut_stream(after_text: str = "", *, abort: bool = False) -> CutStream:
    """A stream that stops after `after_text`, before the message is finished."""
    return CutStream(after_text, abort)


class Responder(Protocol):
    """Whatever answers requests when the queue is empty (e.g. `ScriptedModel`)."""

    def respond(self, request: dict[str, Any]) -> Response:
        """Return the response spec for one Messages API request body."""
        ...


@dataclass
class ResponseTiming:
    """When the fake wrote its answer (time.monotonic()), filled in while it is written.

    Benchmarks use it to time what happens after Claude's first and last token without
    guessing from the Pace. Every field stays None until that part of the answer is sent.
    """

    streamed: bool = False
    first_delta: float | None = None  # first content_block_delta of any kind
    first_text: float | None = None  # first text_delta
    last_text: float | None = None
    last_delta: float | None = None
    finished: float | None = None  # message_stop (or the whole JSON body) written
    output_tokens: int | None = None
    # SSE events written whole; when a write failed because the client hung up (closed its
    # stream early), and the answer went no further: a test sees a stream cut by its client.
    events_written: int = 0
    client_gone: float | None = None

    def delta(self, now: float, *, text: bool) -> None:
        if self.first_delta is None:
            self.first_delta = now
        self.last_delta = now
        if text:
            if self.first_text is None:
                self.first_text = now
            self.last_text = now


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake saw it, recorded before it was answered.

    `timing` is filled in as the answer is written (see ResponseTiming).
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes
    time: float
    client: tuple[str, int]
    timing: ResponseTiming = field(default_factory=ResponseTiming, compare=False)
