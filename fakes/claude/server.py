"""A fake Anthropic Messages API on 127.0.0.1 that the real `anthropic` SDK can talk to."""

from __future__ import annotations

import collections
import contextlib
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
from http.server import BaseHTTPRequestHandler
from typing import Any

from fakes.claude import models as model_catalogue
from fakes.claude.batches import FakeBatches
from fakes.claude.media import MAX_REQUEST_BYTES, input_delay
from fakes.claude.replies import SCRIPTED_MODEL_NAME, Reply, ToolCall, make_id
from fakes.claude.responses import (
    CutStream,
    HttpError,
    Pace,
    RecordedRequest,
    Responder,
    Response,
    ResponseTiming,
    StreamError,
)
from fakes.claude.scripted_model import ScriptedModel
from fakes.claude.tokens import PromptCache, count_input_tokens, tokens_of
from fakes.claude.validation import validate_request
from fakes.serving import FakeHTTPServer, StartStop

logger = logging.getLogger(__name__)

_TOOL_USE_OVERHEAD_TOKENS = 8  # a tool_use costs a few tokens beyond its JSON input
_WORD_RE = re.compile(r"\s*\S+\s*|\s+")
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

    def message(self, message_id: str, usage: dict[str, Any]) -> dict[str, Any]:
        """The whole reply as one Messages API `message` object (non-streamed, or in a batch)."""
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.blocks,
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "usage": usage,
        }


class _Server(FakeHTTPServer):
    """FakeClaude's server, which also knows its live connections, to close them on stop."""

    fake: FakeClaude

    def __init__(self, address: tuple[str, int], fake: FakeClaude) -> None:
        self.connections: set[socket.socket] = set()
        self.handler_threads: set[threading.Thread] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, fake, _Handler)


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


class FakeClaude(StartStop):
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
        self._cache = PromptCache(min_cacheable_tokens, cache_ttl_s)
        # What GET /v1/models lists (newest first); remove_model() takes one away.
        self.models: list[model_catalogue.FakeModel] = list(model_catalogue.DEFAULT_MODELS)
        self._queue: collections.deque[Response] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
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

    def remove_model(self, model_id: str) -> None:
        """Make a model unavailable to this key: the Models API no longer knows it."""
        with self._cond:
            self.models = [m for m in self.models if m.id != model_id]

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
        if handler.command == "GET" and (path == "/v1/models" or path.startswith("/v1/models/")):
            self._serve_models(handler, path, query)
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
        if self.validate and len(raw) > MAX_REQUEST_BYTES:
            self._send_error(
                handler,
                HttpError(413, "request_too_large", "Request exceeds the maximum allowed size."),
            )
            return
        problem = validate_request(parsed) if self.validate else None
        if problem is not None:
            self._send_error(handler, HttpError(400, "invalid_request_error", problem))
            return
        self._sleep(input_delay(self.pace, parsed, len(raw)))

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

    def _serve_models(self, handler: _Handler, path: str, query: str) -> None:
        with self._cond:
            models = list(self.models)
        if path == "/v1/models":
            self._send_json(handler, 200, model_catalogue.list_page(models, query))
            return
        model_id = model_catalogue.model_id_of(path)
        found = model_catalogue.find(models, model_id)
        if found is None:
            self._send_error(handler, HttpError(404, "not_found_error", f"model: {model_id}"))
            return
        self._send_json(handler, 200, found.as_dict())

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
            cost = _TOOL_USE_OVERHEAD_TOKENS + tokens_of(text)
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
        message = plan.message(self._new_id("msg_"), usage.as_dict(plan.output_tokens))
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
            try:
                handler.wfile.write(b"%X\r\n%s\r\n" % (len(payload), payload))
                handler.wfile.flush()
            except OSError:
                timing.client_gone = time.monotonic()
                raise
            timing.events_written += 1

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
