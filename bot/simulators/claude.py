"""A fake Anthropic Messages API on 127.0.0.1 that the real `anthropic` SDK can talk to."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import itertools
import json
import logging
import math
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from bot.simulators.scripted_model import (
    SCRIPTED_MODEL_NAME,
    Reply,
    ScriptedModel,
    ToolCall,
    make_id,
    reply,
    tool_call,
)

__all__ = [
    "CutStream",
    "FakeClaude",
    "HttpError",
    "Pace",
    "RecordedRequest",
    "Reply",
    "Responder",
    "Response",
    "ResponseTiming",
    "ScriptedModel",
    "StreamError",
    "ToolCall",
    "count_input_tokens",
    "cut_stream",
    "http_error",
    "reply",
    "stream_error",
    "tool_call",
]

logger = logging.getLogger(__name__)

_TOOL_USE_OVERHEAD_TOKENS = 8  # a tool_use costs a few tokens beyond its JSON input
_CACHE_LOOKBACK_BLOCKS = 20  # the API looks this many blocks back from a breakpoint for a hit
_MAX_CACHE_BREAKPOINTS = 4
_WORD_RE = re.compile(r"\s*\S+\s*|\s+")
_TOOL_USE_ID_RE = re.compile(r"[a-zA-Z0-9_-]+")
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


# --------------------------------------------------------------------------- response specs


@dataclass(frozen=True)
class Pace:
    """How fast the fake "generates": a wait before the first token, then a token rate.

    `tokens_per_s=None` means as fast as the socket allows. Benchmarks use `Pace(0.4, 60)`, close
    to a real model, so that streaming vs. non-streaming differences show up in wall time.
    """

    first_token_s: float = 0.0
    tokens_per_s: float | None = None

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


# --------------------------------------------------------------------------- token accounting


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _tokens_of(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True)
class _Segment:
    """One cacheable unit of the prompt (a tool, a system block, a message block)."""

    text: str
    tokens: int
    cache_control: dict[str, Any] | None


def _segments(body: dict[str, Any]) -> list[_Segment]:
    """The prompt in the API's cache order: tools, then system, then messages."""
    out: list[_Segment] = []

    def add(kind: str, block: Any) -> None:
        cc = block.get("cache_control") if isinstance(block, dict) else None
        text = kind + _canonical(_strip_cache_control(block))
        out.append(_Segment(text, _tokens_of(text), cc if isinstance(cc, dict) else None))

    for tool in body.get("tools") or []:
        add("tool:", tool)
    system = body.get("system")
    if isinstance(system, str) and system:
        add("system:", {"type": "text", "text": system})
    elif isinstance(system, list):
        for block in system:
            add("system:", block)
    for index, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for position, block in enumerate(blocks or []):
            marker = f"{message.get('role')}#{index}:" if position == 0 else "+:"
            add(marker, block)
    return out


def count_input_tokens(body: dict[str, Any]) -> int:
    """Approximate input tokens: about four characters of JSON prompt per token."""
    return max(1, sum(s.tokens for s in _segments(body)))


@dataclass(frozen=True)
class _Usage:
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    one_hour: bool

    def as_dict(self, output_tokens: int) -> dict[str, Any]:
        creation = self.cache_creation_input_tokens
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": creation,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 0 if self.one_hour else creation,
                "ephemeral_1h_input_tokens": creation if self.one_hour else 0,
            },
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }


class _PromptCache:
    """Prefix-hash -> expiry, emulating prompt caching closely enough for cost benchmarks."""

    def __init__(self, min_tokens: int, ttl_s: float) -> None:
        self._min_tokens = min_tokens
        self._ttl_s = ttl_s
        self._entries: dict[str, float] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def account(self, body: dict[str, Any]) -> _Usage:
        """Split the prompt into read / written / uncached tokens and remember what was written."""
        segments = _segments(body)
        total = max(1, sum(s.tokens for s in segments))
        breakpoints = [i for i, s in enumerate(segments) if s.cache_control is not None]
        if not breakpoints:
            return _Usage(total, 0, 0, one_hour=False)
        hashes: list[str] = []
        cumulative: list[int] = []
        running = hashlib.sha256(str(body.get("model", "")).encode())
        tokens = 0
        for segment in segments:
            running.update(segment.text.encode("utf-8"))
            hashes.append(running.hexdigest())
            tokens += segment.tokens
            cumulative.append(tokens)

        now = time.monotonic()
        with self._lock:
            read = 0
            hit_hashes: list[str] = []
            for bp in breakpoints:
                for j in range(bp, max(-1, bp - _CACHE_LOOKBACK_BLOCKS), -1):
                    if self._entries.get(hashes[j], 0.0) > now:
                        hit_hashes.append(hashes[j])
                        read = max(read, cumulative[j])
                        break
            last = breakpoints[-1]
            written = 0
            if cumulative[last] >= self._min_tokens:
                written = max(0, cumulative[last] - read)
            for bp in breakpoints:
                if cumulative[bp] >= self._min_tokens:
                    ttl = self._ttl_s
                    if (segments[bp].cache_control or {}).get("ttl") == "1h":
                        ttl = max(ttl, 3600.0)
                    self._entries[hashes[bp]] = now + ttl
            for h in hit_hashes:  # a hit refreshes the entry, as the API does
                self._entries[h] = max(self._entries[h], now + self._ttl_s)
        one_hour = (segments[last].cache_control or {}).get("ttl") == "1h"
        return _Usage(total - read - written, written, read, one_hour)


# --------------------------------------------------------------------------- request checks


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def _validate(body: Any) -> str | None:
    """The `invalid_request_error` message the real API would give, or None if acceptable.

    Only rules the real API is known to enforce, so the fake catches the seed's bugs (tool blocks
    without `tools`, unanswered `tool_use`) without rejecting anything the API accepts.
    """
    if not isinstance(body, dict):
        return "Request body must be a JSON object"
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return f"{name}: Field required"
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return "max_tokens: Input should be a positive integer"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    uses_tool_blocks = False
    seen_tool_use_ids: set[str] = set()
    breakpoints = sum(
        1
        for block in [*(body.get("tools") or []), *_content_blocks(body.get("system"))]
        if isinstance(block, dict) and "cache_control" in block
    )
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        is_final_assistant = index == len(messages) - 1 and message["role"] == "assistant"
        if isinstance(content, str):
            if not content and not is_final_assistant:
                return (
                    f"messages.{index}: all messages must have non-empty content except for "
                    "the optional final assistant message"
                )
            continue
        if not isinstance(content, list):
            return f"messages.{index}.content: Input should be a valid list or string"
        if not content and not is_final_assistant:
            return (
                f"messages.{index}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        seen_other = False
        for position, block in enumerate(content):
            if not isinstance(block, dict):
                return f"messages.{index}.content.{position}: Input should be an object"
            kind = block.get("type")
            if "cache_control" in block:
                breakpoints += 1
            if kind == "text" and not block.get("text") and not is_final_assistant:
                return (
                    f"messages.{index}.content.{position}.text: "
                    "text content blocks must be non-empty"
                )
            if kind in ("tool_use", "tool_result"):
                uses_tool_blocks = True
            if kind == "tool_use":
                tool_use_id = block.get("id")
                if not isinstance(tool_use_id, str) or not _TOOL_USE_ID_RE.fullmatch(tool_use_id):
                    return (
                        f"messages.{index}.content.{position}.tool_use.id: String should match "
                        "pattern '^[a-zA-Z0-9_-]+$'"
                    )
                if tool_use_id in seen_tool_use_ids:
                    return f"messages.{index}.content.{position}: `tool_use` ids must be unique"
                seen_tool_use_ids.add(tool_use_id)
            if kind == "tool_result":
                if message["role"] != "user":
                    return f"messages.{index}: tool_result blocks are only allowed in user messages"
                if seen_other:
                    return (
                        f"messages.{index}: tool_result blocks must come first in the content, "
                        "before any other blocks"
                    )
            else:
                seen_other = True
    if breakpoints > _MAX_CACHE_BREAKPOINTS:
        return (
            f"A maximum of {_MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {breakpoints}."
        )
    if uses_tool_blocks and not body.get("tools"):
        return "Requests which include `tool_use` or `tool_result` blocks must define tools."
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        use_ids = [
            b.get("id") for b in _content_blocks(message["content"]) if b.get("type") == "tool_use"
        ]
        following = messages[index + 1] if index + 1 < len(messages) else None
        result_ids = {
            b.get("tool_use_id")
            for b in _content_blocks((following or {}).get("content"))
            if b.get("type") == "tool_result"
        }
        if use_ids and following is not None:
            missing = [i for i in use_ids if i not in result_ids]
            if missing:
                return (
                    f"messages.{index + 1}: `tool_use` ids were found without `tool_result` "
                    f"blocks immediately after: {', '.join(map(str, missing))}. Each `tool_use` "
                    "block must have a corresponding `tool_result` block in the next message."
                )
    for index, message in enumerate(messages):
        if message["role"] != "user":
            continue
        result_ids = [
            b.get("tool_use_id")
            for b in _content_blocks(message["content"])
            if b.get("type") == "tool_result"
        ]
        if not result_ids:
            continue
        previous = messages[index - 1] if index > 0 else {}
        use_ids = {
            b.get("id")
            for b in _content_blocks(previous.get("content"))
            if b.get("type") == "tool_use"
        }
        unexpected = [i for i in result_ids if i not in use_ids]
        if unexpected:
            return (
                f"messages.{index}.content: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {', '.join(map(str, unexpected))}. Each `tool_result` block must have "
                "a corresponding `tool_use` block in the previous message."
            )
    return None


# --------------------------------------------------------------------------- wire helpers


class _Stopping(Exception):
    """Raised inside a handler when the server is shutting down mid-response."""


def _split_words(text: str) -> list[str]:
    """Word-sized "tokens": each word with its surrounding whitespace; they join back exactly."""
    return _WORD_RE.findall(text)


def _split_json(text: str) -> list[str]:
    """A tool input's JSON in 2-3 `partial_json` fragments, as the API streams it."""
    if len(text) < 2:
        return [text]
    pieces = 3 if len(text) >= 12 else 2
    size = math.ceil(len(text) / pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@dataclass
class _Plan:
    """A reply laid out as blocks of chunks, after the request's max_tokens is applied."""

    text_chunks: list[str]
    tools: list[tuple[ToolCall, str, list[str]]]  # (call with id, json, fragments)
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int
    model: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its FakeClaude and can close live connections on stop."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops SYNs when many clients connect at once, and
    # each drop costs the client a 1 s (then 3 s) retransmit: seen as 1-2 s stalls in bench.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeClaude) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.handler_threads: set[threading.Thread] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log instead of printing a traceback: disconnects are routine for a test server."""
        logger.debug("fake claude: error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small SSE writes must not wait for delayed ACKs
    server: _Server
    server_version = "FakeClaude/1.0"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        with self.server.conn_lock:
            self.server.connections.add(self.connection)
            self.server.handler_threads.add(threading.current_thread())
        if self.server.fake._stopping.is_set():  # accepted just as stop() took its snapshot
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.server.conn_lock:
                self.server.connections.discard(self.connection)
                self.server.handler_threads.discard(threading.current_thread())

    def handle(self) -> None:
        try:
            super().handle()
        except (OSError, _Stopping) as exc:  # client went away, or we are stopping
            logger.debug("fake claude: connection ended: %r", exc)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake claude: " + format, *args)

    def do_POST(self) -> None:
        self.server.fake._serve(self)

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    do_PUT = do_DELETE = do_PATCH = do_GET

    def read_body(self) -> bytes:
        """The request body, by Content-Length or chunked transfer encoding."""
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""


class FakeClaude:
    """A local Messages API: FIFO of scripted responses, falling back to a `Responder` model.

    Runtime code (tests, benchmarks and the offline demo use it), so it is stdlib only and every
    response is what the real API would put on the wire, letting the real SDK do its own parsing,
    retries and stream assembly.
    """

    def __init__(
        self,
        pace: Pace | None = None,
        model: Responder | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        validate: bool = True,
        api_key: str | None = None,
        min_cacheable_tokens: int = 0,
        cache_ttl_s: float = 300.0,
        model_name: str = SCRIPTED_MODEL_NAME,
    ) -> None:
        self.pace = pace or Pace()
        self.model: Responder = model if model is not None else ScriptedModel()
        self.validate = validate
        self.api_key = api_key
        self.model_name = model_name
        self._host = host
        self._port = port
        self._cache = _PromptCache(min_cacheable_tokens, cache_ttl_s)
        self._queue: collections.deque[Response] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        from bot.simulators.claude_batches import FakeBatches  # it builds on this module

        self.batches = FakeBatches(self)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeClaude:
        """Bind (port 0 picks a free port) and serve on a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-claude-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.debug("fake claude listening on %s", self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, drop open connections (ending in-flight streams) and join the threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with server.conn_lock:
            connections = list(server.connections)
            handlers = list(server.handler_threads)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for worker in [*handlers, *([thread] if thread else [])]:
            worker.join(max(0.0, deadline - time.monotonic()))
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeClaude:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeClaude is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL to give the SDK (`base_url=` or `ANTHROPIC_BASE_URL`)."""
        return f"http://{self._host}:{self.port}"

    # ------------------------------------------------------------------ scripting

    def enqueue(self, *responses: Response) -> None:
        """Queue answers for the next Messages requests, first in first out."""
        with self._cond:
            self._queue.extend(responses)

    @property
    def queued(self) -> int:
        """How many enqueued answers are still waiting for a request."""
        with self._cond:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far (all paths), oldest first."""
        with self._cond:
            return list(self._requests)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least `n` requests were recorded; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._requests) >= n, timeout)

    def reset(self) -> None:
        """Forget queued answers, recorded requests and the prompt cache."""
        with self._cond:
            self._queue.clear()
            self._requests.clear()
        self._cache.clear()

    # ------------------------------------------------------------------ serving

    def _serve(self, handler: _Handler) -> None:
        path, _, query = handler.path.partition("?")
        raw = handler.read_body()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = None
        record = RecordedRequest(
            method=handler.command,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=parsed if isinstance(parsed, dict) else {},
            raw=raw,
            time=time.monotonic(),
            client=tuple(handler.client_address[:2]),  # type: ignore[arg-type]
        )
        with self._cond:
            self._requests.append(record)
            self._cond.notify_all()

        if self.api_key is not None and self._presented_key(record.headers) != self.api_key:
            self._send_error(handler, HttpError(401, "authentication_error", "invalid x-api-key"))
            return
        if path == "/v1/messages/batches" or path.startswith("/v1/messages/batches/"):
            body = parsed if isinstance(parsed, dict) else None
            self.batches.serve(handler, handler.command, path, body)
            return
        if handler.command != "POST" or path not in ("/v1/messages", "/v1/messages/count_tokens"):
            self._send_error(handler, HttpError(404, "not_found_error", "Not found"))
            return
        if parsed is None or not isinstance(parsed, dict):
            self._send_error(
                handler, HttpError(400, "invalid_request_error", "Request body is not valid JSON")
            )
            return
        if path == "/v1/messages/count_tokens":
            self._send_json(handler, 200, {"input_tokens": count_input_tokens(parsed)})
            return
        problem = _validate(parsed) if self.validate else None
        if problem is not None:
            self._send_error(handler, HttpError(400, "invalid_request_error", problem))
            return

        spec = self._next_response(parsed)
        if spec is None:
            return
        streaming = bool(parsed.get("stream"))
        if isinstance(spec, HttpError):
            self._send_error(handler, spec)
        elif isinstance(spec, StreamError) and not streaming:
            status = _ERROR_STATUS.get(spec.error_type, 500)
            self._send_error(handler, HttpError(status, spec.error_type, spec.message))
        elif isinstance(spec, CutStream) and not streaming:
            self._send_cut_json(handler, parsed, spec)
        elif streaming:
            self._send_stream(handler, parsed, spec, record.timing)
        else:
            assert isinstance(spec, Reply)
            self._send_message(handler, parsed, spec, record.timing)

    @staticmethod
    def _presented_key(headers: dict[str, str]) -> str | None:
        if "x-api-key" in headers:
            return headers["x-api-key"]
        auth = headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None

    def _next_response(self, body: dict[str, Any]) -> Response | None:
        with self._cond:
            if self._queue:
                return self._queue.popleft()
        try:
            return self.model.respond(body)
        except Exception:
            logger.exception("fake claude: the scripted model failed")
            return HttpError(500, "api_error", "Internal server error (scripted model failed)")

    def _new_id(self, prefix: str) -> str:
        return make_id(prefix, f"{id(self)}|{next(self._ids)}")

    # ------------------------------------------------------------------ plain responses

    def _send_json(
        self,
        handler: _Handler,
        status: int,
        payload: dict[str, Any],
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        handler.send_header("request-id", self._new_id("req_"))
        for name, value in (extra_headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()

    def _send_error(self, handler: _Handler, error: HttpError) -> None:
        headers: dict[str, str] = {}
        if error.retry_after is not None:
            headers["retry-after"] = str(math.ceil(error.retry_after))
            headers["retry-after-ms"] = str(int(error.retry_after * 1000))
        if error.should_retry is not None:
            headers["x-should-retry"] = "true" if error.should_retry else "false"
        payload = {
            "type": "error",
            "error": {"type": error.error_type, "message": error.message},
            "request_id": self._new_id("req_"),
        }
        self._send_json(handler, error.status, payload, headers)

    def _plan(self, body: dict[str, Any], spec: Reply) -> _Plan:
        """Lay out a reply as chunks, cutting it at the request's max_tokens like the API does."""
        budget = int(body.get("max_tokens") or 1 << 30)
        chunks = _split_words(spec.text)
        stop_reason = spec.effective_stop_reason()
        tools: list[tuple[ToolCall, str, list[str]]] = []
        if len(chunks) > budget:
            chunks = chunks[:budget]
            stop_reason = "max_tokens"
        used = len(chunks)
        allow_tools = stop_reason != "max_tokens" or len(chunks) == len(_split_words(spec.text))
        for call in spec.tool_calls if allow_tools else ():
            text = json.dumps(call.input, ensure_ascii=False)
            cost = _TOOL_USE_OVERHEAD_TOKENS + _tokens_of(text)
            if used + cost > budget:
                stop_reason = "max_tokens"
                break
            used += cost
            with_id = call if call.id else ToolCall(call.name, call.input, self._new_id("toolu_"))
            tools.append((with_id, text, _split_json(text)))
        stop_sequence = None
        if stop_reason == "stop_sequence":
            requested = body.get("stop_sequences") or []
            stop_sequence = spec.stop_sequence or (requested[0] if requested else "\n\nHuman:")
        plan = _Plan(
            text_chunks=chunks,
            tools=tools,
            stop_reason=stop_reason,
            stop_sequence=stop_sequence,
            output_tokens=max(1, used),
            model=spec.model or self.model_name,
        )
        if chunks:
            plan.blocks.append({"type": "text", "text": "".join(chunks)})
        for call, _, _ in tools:
            plan.blocks.append(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}
            )
        return plan

    def _send_message(
        self,
        handler: _Handler,
        body: dict[str, Any],
        spec: Reply,
        timing: ResponseTiming | None = None,
    ) -> None:
        timing = timing or ResponseTiming()
        usage = self._cache.account(body)
        plan = self._plan(body, spec)
        pace = self.pace
        delay = pace.first_token_s
        if pace.tokens_per_s:
            delay += plan.output_tokens / pace.tokens_per_s
        self._sleep(delay)
        message = {
            "id": self._new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": plan.model,
            "content": plan.blocks,
            "stop_reason": plan.stop_reason,
            "stop_sequence": plan.stop_sequence,
            "usage": usage.as_dict(plan.output_tokens),
        }
        self._send_json(handler, 200, message)
        now = time.monotonic()
        timing.output_tokens = plan.output_tokens
        timing.delta(now, text=bool(plan.text_chunks))
        timing.finished = now

    def _send_cut_json(self, handler: _Handler, body: dict[str, Any], spec: CutStream) -> None:
        """Non-streaming equivalent of a cut: promise a body, send half of it, hang up."""
        data = json.dumps(
            {
                "id": self._new_id("msg_"),
                "type": "message",
                "content": [{"type": "text", "text": spec.after_text}],
            }
        ).encode()
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[: len(data) // 2])
        handler.wfile.flush()
        handler.close_connection = True
        self._abort(handler)

    # ------------------------------------------------------------------ streaming

    def _send_stream(
        self,
        handler: _Handler,
        body: dict[str, Any],
        spec: Response,
        timing: ResponseTiming | None = None,
    ) -> None:
        timing = timing or ResponseTiming()
        timing.streamed = True
        usage = self._cache.account(body)
        if isinstance(spec, Reply):
            plan = self._plan(body, spec)
        else:
            partial = spec.after_text if isinstance(spec, StreamError | CutStream) else ""
            plan = self._plan(body, Reply(text=partial))
        closing = isinstance(spec, CutStream)

        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream; charset=utf-8")
        handler.send_header("cache-control", "no-cache")
        handler.send_header("transfer-encoding", "chunked")
        handler.send_header("request-id", self._new_id("req_"))
        if closing:
            # Say so up front, so the client never puts this connection back in its pool.
            handler.send_header("connection", "close")
            handler.close_connection = True
        handler.end_headers()

        def send(event: str, data: dict[str, Any]) -> None:
            payload = _sse(event, data)
            handler.wfile.write(b"%X\r\n%s\r\n" % (len(payload), payload))
            handler.wfile.flush()

        message = {
            "id": self._new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": plan.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage.as_dict(1),
        }
        send("message_start", {"type": "message_start", "message": message})
        send("ping", {"type": "ping"})
        ticks = self._ticks()
        index = 0
        if plan.text_chunks:
            send(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            for chunk in plan.text_chunks:
                next(ticks)
                send(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": chunk},
                    },
                )
                timing.delta(time.monotonic(), text=True)
            if isinstance(spec, Reply):
                send("content_block_stop", {"type": "content_block_stop", "index": 0})
            index = 1
        if isinstance(spec, StreamError):
            send(
                "error",
                {"type": "error", "error": {"type": spec.error_type, "message": spec.message}},
            )
            self._end_chunked(handler)
            return
        if isinstance(spec, CutStream):
            if spec.abort:
                self._abort(handler)
            else:
                self._end_chunked(handler)
            return

        for call, _, fragments in plan.tools:
            start = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            send(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
            for fragment in fragments:
                next(ticks)
                send(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": fragment},
                    },
                )
                timing.delta(time.monotonic(), text=False)
            send("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        if not plan.text_chunks and not plan.tools:
            next(ticks)  # an empty answer still takes the time to first token
        final_usage = usage.as_dict(plan.output_tokens)
        final_usage.pop("cache_creation")
        final_usage.pop("service_tier")
        send(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": plan.stop_reason, "stop_sequence": plan.stop_sequence},
                "usage": final_usage,
            },
        )
        send("message_stop", {"type": "message_stop"})
        self._end_chunked(handler)
        timing.output_tokens = plan.output_tokens
        timing.finished = time.monotonic()

    def _ticks(self) -> Iterator[None]:
        """Yields once per token, sleeping so tokens follow the configured Pace.

        Deadline-based (token i is due at start + first_token_s + i / rate) so that time spent
        writing does not accumulate as drift.
        """
        pace = self.pace
        start = time.monotonic() + pace.first_token_s
        for i in itertools.count():
            due = start + (i / pace.tokens_per_s if pace.tokens_per_s else 0.0)
            self._sleep(due - time.monotonic())
            yield

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Stopping()
        if self._stopping.is_set():
            raise _Stopping()

    @staticmethod
    def _end_chunked(handler: _Handler) -> None:
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    @staticmethod
    def _abort(handler: _Handler) -> None:
        """Hang up without finishing the body, as a dropped connection would."""
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)
