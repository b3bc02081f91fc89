"""A fake Slack Web API on 127.0.0.1 that the real slack_sdk WebClient and Bolt can talk to."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType, TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

logger = logging.getLogger(__name__)

# Slack's limits per method per workspace, modelled as token buckets: `SLACK_LIMITS` calls a
# minute refill the bucket, which holds at most `SLACK_BURSTS` calls. Slack counts per minute
# but does not promise to absorb a minute's calls in one burst; a bucket is the honest model,
# and deliberately not the bot's own pacing algorithm, so agreement with it proves nothing.
# Tiers (PLATFORM-NOTES): Tier 2 ~20/min, Tier 3 ~50/min, Tier 4 ~100/min. chat.postMessage is
# "special": about 1 per second per channel (see CHANNEL_POST_LIMIT), several hundred a minute
# per workspace.
SLACK_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "auth.test": 100,
        "chat.postMessage": 300,
        "chat.update": 50,  # Tier 3
        "chat.delete": 50,  # Tier 3
        "chat.startStream": 20,  # Tier 2
        "chat.appendStream": 100,  # Tier 4
        "chat.stopStream": 20,  # Tier 2
        "assistant.threads.setStatus": 50,  # Tier 3 assumed
        "conversations.replies": 50,  # Tier 3 (internal apps; non-Marketplace apps get far less)
        "users.info": 100,  # Tier 4
        "team.info": 50,  # Tier 3
    }
)
# The most calls a full bucket lets through at once; methods not listed get a fifth of a minute.
SLACK_BURSTS: Mapping[str, int] = MappingProxyType(
    {
        "chat.postMessage": 20,
        "chat.update": 10,
        "chat.delete": 10,
        "chat.startStream": 4,
        "chat.appendStream": 20,
        "chat.stopStream": 4,
        "assistant.threads.setStatus": 10,
    }
)
# chat.postMessage per channel: (burst, seconds per call) — 1/s sustained, two at once at most.
CHANNEL_POST_LIMIT: tuple[int, float] = (2, 1.0)

POST_TEXT_MAX = 40_000
UPDATE_TEXT_MAX = 4_000
MARKDOWN_TEXT_MAX = 12_000
SECTION_TEXT_MAX = 3_000
MARKDOWN_BLOCKS_MAX = 12_000
BLOCKS_MAX = 50

STREAM_METHODS = frozenset({"chat.startStream", "chat.appendStream", "chat.stopStream"})
# Arguments that arrive as JSON strings when a client form-encodes its request.
_JSON_ARGS = frozenset({"blocks", "chunks", "attachments", "metadata", "loading_messages"})


@dataclass(frozen=True)
class Call:
    """One request the fake received; tests assert on what the bot actually sent."""

    method: str
    args: dict[str, Any]
    time: float
    token_present: bool
    ok: bool
    error: str | None
    status: int
    team_id: str | None = None
    content_type: str = ""


@dataclass(frozen=True)
class Visible:
    """One state of a message as a user would have seen it, stamped with time.monotonic()."""

    time: float
    text: str


class StatusUpdate(NamedTuple):
    """One assistant.threads.setStatus call; unpacks as (time, channel, thread_ts, status)."""

    time: float
    channel: str
    thread_ts: str
    status: str


@dataclass
class Message:
    """A message in the fake workspace; `text` is what a user currently sees.

    `format` is "markdown" when everything visible is rendered as standard Markdown (markdown_text,
    streams, `markdown` blocks) and "mrkdwn" when any of it is Slack's own markup (plain `text`,
    section/context/header blocks, rich_text), where a literal `**bold**` shows its asterisks.
    """

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    format: str
    user: str
    bot_id: str | None
    created: float
    raw_text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    streaming: bool = False
    stream_started: float | None = None
    stream_mode: str | None = None
    stopped_by_user: bool = False
    deleted: bool = False
    history: list[Visible] = field(default_factory=list)

    @property
    def from_bot(self) -> bool:
        """True for messages the app posted (as opposed to seeded user messages)."""
        return self.bot_id is not None


class SlackError(Exception):
    """Raised inside a method handler to answer `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Injection:
    error: str
    status: int
    retry_after: int | None
    remaining: int


class _Response(NamedTuple):
    status: int
    headers: dict[str, str]
    payload: dict[str, Any]


class _Buckets:
    """Token buckets per key: `rate` tokens a second up to `burst`; a call takes one token.

    Never emptied by `FakeSlack.reset()`: Slack does not forget the calls of a minute ago
    because a test moved on to its next phase.
    """

    def __init__(self) -> None:
        self._state: dict[tuple[str, ...], tuple[float, float]] = {}  # key -> (tokens, at)

    def _tokens(self, key: tuple[str, ...], rate: float, burst: int, now: float) -> float:
        tokens, at = self._state.get(key, (float(burst), now))
        return min(float(burst), tokens + max(0.0, now - at) * rate)

    def wait_needed(self, key: tuple[str, ...], rate: float, burst: int, now: float) -> float:
        """Seconds until the bucket holds a whole token (0 when a call may go now)."""
        tokens = self._tokens(key, rate, burst, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate

    def take(self, key: tuple[str, ...], rate: float, burst: int, now: float) -> None:
        self._state[key] = (self._tokens(key, rate, burst, now) - 1.0, now)


def _ts_key(ts: str) -> tuple[int, int]:
    """Sort key for Slack timestamps ("1700000000.000100"), exact where float would round."""
    sec, _, frac = ts.partition(".")
    try:
        return int(sec or 0), int((frac or "0").ljust(6, "0")[:6])
    except ValueError:
        return 0, 0


def _block_parts(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(format, text) for every piece of visible text in `blocks`."""
    parts: list[tuple[str, str]] = []

    def text_obj(obj: Any) -> None:
        if isinstance(obj, Mapping) and isinstance(obj.get("text"), str):
            fmt = "mrkdwn" if obj.get("type") == "mrkdwn" else "plain_text"
            parts.append((fmt, obj["text"]))

    def rich(node: Any, out: list[str]) -> None:
        if isinstance(node, Mapping):
            if node.get("type") in ("text", "link") and isinstance(node.get("text"), str):
                out.append(node["text"])
            elif node.get("type") == "link" and isinstance(node.get("url"), str):
                out.append(node["url"])
            for child in node.get("elements", ()) or ():
                rich(child, out)

    for block in blocks:
        kind = block.get("type")
        if kind == "markdown" and isinstance(block.get("text"), str):
            parts.append(("markdown", block["text"]))
        elif kind in ("section", "header"):
            text_obj(block.get("text"))
            for f in block.get("fields", ()) or ():
                text_obj(f)
        elif kind == "context":
            for element in block.get("elements", ()) or ():
                if isinstance(element, Mapping) and element.get("type") in ("mrkdwn", "plain_text"):
                    text_obj(element)
        elif kind == "rich_text":
            out: list[str] = []
            rich(block, out)
            if out:
                parts.append(("rich_text", "".join(out)))
    return parts


def _render(msg: Message) -> tuple[str, str]:
    """(visible text, format) of a message: blocks win over the `text` fallback, as in Slack."""
    if msg.blocks:
        parts = _block_parts(msg.blocks)
        if parts:
            fmt = "markdown" if all(p[0] == "markdown" for p in parts) else "mrkdwn"
            return "\n".join(p[1] for p in parts), fmt
    return msg.raw_text, "mrkdwn"


def _set_visible(msg: Message, now: float) -> None:
    """Re-render and append to history when what the user sees changed."""
    text, fmt = _render(msg)
    msg.text, msg.format = text, fmt
    last = msg.history[-1].text if msg.history else ""
    if text != last:
        msg.history.append(Visible(now, text))


def _present(args: Mapping[str, Any], key: str) -> bool:
    value = args.get(key)
    return value is not None and value != ""


def _parse_blocks(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise SlackError("invalid_blocks_format") from exc
    if not isinstance(raw, list):
        raise SlackError("invalid_blocks_format")
    if len(raw) > BLOCKS_MAX:
        raise SlackError("invalid_blocks")
    markdown_total = 0
    for block in raw:
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise SlackError("invalid_blocks")
        if block["type"] == "markdown":
            text = block.get("text")
            if not isinstance(text, str):
                raise SlackError("invalid_blocks")
            markdown_total += len(text)
        elif block["type"] == "section":
            text = block.get("text")
            if isinstance(text, Mapping) and len(str(text.get("text", ""))) > SECTION_TEXT_MAX:
                raise SlackError("invalid_blocks")
    if markdown_total > MARKDOWN_BLOCKS_MAX:
        raise SlackError("invalid_blocks")
    return [dict(b) for b in raw]


def _parse_chunks(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise SlackError("invalid_arguments") from exc
    if not isinstance(raw, list) or not all(isinstance(c, Mapping) for c in raw):
        raise SlackError("invalid_arguments")
    return [dict(c) for c in raw]


def _stream_text(args: Mapping[str, Any], chunks: list[dict[str, Any]]) -> str:
    """The Markdown one stream call adds: markdown_text, then markdown_text chunks in order."""
    pieces = [args["markdown_text"]] if isinstance(args.get("markdown_text"), str) else []
    pieces += [
        str(c.get("text", "")) for c in chunks if c.get("type") == "markdown_text"
    ]  # other chunk types (plan_update, task_update, blocks) carry no message text here
    text = "".join(pieces)
    if len(text) > MARKDOWN_TEXT_MAX:
        raise SlackError("msg_too_long")
    return text


def _require(args: Mapping[str, Any], *keys: str) -> None:
    for key in keys:
        if not _present(args, key):
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] missing required field: {key}"]},
            )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops SYNs under bursts (1 s client retransmits).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeSlack) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-request (timeouts, retries) are normal; stay quiet."""
        logger.debug("fake slack: connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeSlack/1.0"

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            response = self.server.fake._handle(self.path, dict(self.headers.items()), body)
            data = json.dumps(response.payload).encode("utf-8")
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (ConnectionError, TimeoutError):
            logger.debug("fake slack: client went away", exc_info=True)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake slack: " + format, *args)


class FakeSlack:
    """Slack's Web API, in-process, with Slack's request/response shapes, limits and errors.

    Exists so tests, benchmarks and the offline demo exercise the real slack_sdk and Bolt code
    paths (HTTP, JSON vs form bodies, 429 + Retry-After, streaming state) instead of mocks, and
    can then assert on what a user would have seen and when.
    """

    def __init__(
        self,
        *,
        team_id: str = "T0001",
        team_name: str = "ShopMate Test",
        team_domain: str = "shopmate-test",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A0SHOPMATE",
        limits: Mapping[str, int] = SLACK_LIMITS,
        bursts: Mapping[str, int] = SLACK_BURSTS,
        window_s: float = 60.0,
        channel_post_limit: tuple[int, float] = CHANNEL_POST_LIMIT,
        no_stream_channels: Iterable[str] = (),
        stream_ttl_s: float = 300.0,
        enforce_limits: bool = True,
        streaming_supported: bool = True,
        tokens: Mapping[str, str] | None = None,
        latency_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.team_id = team_id
        # What calls, messages and buckets are stamped with; tests of the buckets pass a clock
        # they move by hand.
        self._clock = clock
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.limits = dict(limits)
        self.bursts = dict(bursts)
        # The length of Slack's "minute": 60 s, shorter to compress a test (every limit,
        # the per-channel second included, scales with it; the bot must be scaled alike).
        self.window_s = window_s
        self.channel_post_limit = channel_post_limit
        # Channels whose type has no native streaming (method_not_supported_for_channel_type).
        self.no_stream_channels = frozenset(no_stream_channels)
        self.stream_ttl_s = stream_ttl_s
        self.enforce_limits = enforce_limits
        self.streaming_supported = streaming_supported
        # token -> team_id; None accepts any "xoxb-" token as belonging to `team_id`.
        self.tokens = dict(tokens) if tokens is not None else None
        self.latency_s = latency_s
        self._host, self._port = host, port
        self._cond = threading.Condition(threading.RLock())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, Callable[[dict[str, Any], float, str], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
            "assistant.threads.setStatus": self._set_status,
            "conversations.replies": self._replies,
            "users.info": self._users_info,
            "team.info": self._team_info,
            "apps.connections.open": self._connections_open,
        }
        self._buckets = _Buckets()
        # A FakeSocketMode (bot/simulators/socket_mode.py) whose URLs apps.connections.open
        # hands out; None answers `not_allowed`, as for an app without Socket Mode.
        self.socket_mode: Any = None
        self._init_state()

    def _init_state(self) -> None:
        self._calls: list[Call] = []
        self._messages: dict[tuple[str, str], Message] = {}
        self._statuses: list[StatusUpdate] = []
        self._current_status: dict[tuple[str, str], str] = {}
        self._injections: dict[str, deque[_Injection]] = {}
        self._count_429 = 0
        self._last_ts_us = 0

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeSlack:
        """Bind (port 0 picks a free port) and serve on a daemon thread."""
        if self._server is not None:
            return self
        self._server = _Server((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-slack",
            daemon=True,
        )
        self._thread.start()
        logger.debug("fake slack listening on %s", self.api_url)
        return self

    def stop(self) -> None:
        """Shut the server down and join its thread; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5.0)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}/"

    @property
    def api_url(self) -> str:
        """Base URL for WebClient(base_url=...); the trailing /api/ matters (urljoin)."""
        return f"{self.url}api/"

    def reset(self) -> None:
        """Forget calls, messages, statuses and injections; keep serving.

        Rate-limit buckets are kept: what the bot spent before a reset still counts.
        """
        with self._cond:
            self._init_state()
            self._cond.notify_all()

    # ----------------------------------------------------------------- test controls

    def fail_next(
        self,
        method: str,
        *,
        error: str = "ratelimited",
        status: int | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls to `method` fail with `error`.

        `status` defaults to 429 when `retry_after` is given (sent as a Retry-After header) and to
        200 otherwise, which is how Slack reports ordinary errors. Injected 429s are not counted
        in `count_429`, which measures only the limits the bot itself provoked.
        """
        code = status if status is not None else (429 if retry_after is not None else 200)
        with self._cond:
            self._injections.setdefault(method, deque()).append(
                _Injection(error, code, retry_after, times)
            )

    def pending_failures(self) -> dict[str, int]:
        """Failures set up by `fail_next` that no call has met yet, by method (tests check 0)."""
        with self._cond:
            return {
                method: sum(i.remaining for i in queue)
                for method, queue in self._injections.items()
                if queue
            }

    def stop_stream_by_user(self, channel: str, ts: str) -> None:
        """Simulate the user pressing Stop: further appends/stops answer `stopped_by_user`."""
        with self._cond:
            msg = self._messages[(channel, ts)]
            msg.streaming = False
            msg.stopped_by_user = True
            self._cond.notify_all()

    def expire_stream(self, channel: str, ts: str) -> None:
        """Age a stream past `stream_ttl_s` now, without waiting for it."""
        with self._cond:
            msg = self._messages[(channel, ts)]
            msg.stream_started = self._clock() - self.stream_ttl_s - 1.0
            self._cond.notify_all()

    def add_user_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U0USER",
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Seed a human message so conversations.replies can return it; returns its ts."""
        now = self._clock()
        with self._cond:
            ts = ts or self._next_ts()
            msg = Message(channel, ts, thread_ts, "", "mrkdwn", user, None, now, raw_text=text)
            _set_visible(msg, now)
            self._messages[(channel, ts)] = msg
            self._cond.notify_all()
        return ts

    # ----------------------------------------------------------------- inspection

    @property
    def calls(self) -> list[Call]:
        with self._cond:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self._calls if c.method == method]

    @property
    def count_429(self) -> int:
        """429s the fake's limits provoked (injected ones excluded)."""
        with self._cond:
            return self._count_429

    @property
    def statuses(self) -> list[StatusUpdate]:
        with self._cond:
            return list(self._statuses)

    def current_status(self, channel: str, thread_ts: str) -> str:
        """The status line shown now; Slack clears it when the app replies in the thread."""
        with self._cond:
            return self._current_status.get((channel, thread_ts), "")

    def messages(
        self,
        channel: str,
        thread_ts: str | None = None,
        *,
        include_deleted: bool = False,
        include_users: bool = False,
    ) -> list[Message]:
        """Copies of the bot's messages in `channel` (only replies in `thread_ts` if given)."""
        now = self._clock()
        with self._cond:
            found = [
                m
                for m in self._messages.values()
                if m.channel == channel
                and (thread_ts is None or m.thread_ts == thread_ts)
                and (include_deleted or not m.deleted)
                and (include_users or m.from_bot)
            ]
            for m in found:
                self._expire(m, now)
            return [copy.deepcopy(m) for m in sorted(found, key=lambda m: _ts_key(m.ts))]

    def message(self, channel: str, ts: str) -> Message:
        """A copy of one message (KeyError if unknown), deleted ones included."""
        with self._cond:
            msg = self._messages[(channel, ts)]
            self._expire(msg, self._clock())
            return copy.deepcopy(msg)

    def first_visible_time(self, channel: str, thread_ts: str | None) -> float | None:
        """Earliest monotonic time the thread showed the user anything: status, post or stream."""
        with self._cond:
            times = [
                s.time
                for s in self._statuses
                if s.channel == channel and s.thread_ts == thread_ts and s.status
            ]
            times += [
                m.created
                for m in self._messages.values()
                if m.from_bot and m.channel == channel and m.thread_ts == thread_ts
            ]
            return min(times, default=None)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait (bounded) until `predicate()` holds; re-checked on every request and every 50 ms.

        The predicate runs under the fake's lock, so it may call the inspection methods but must
        not make HTTP calls to the fake itself (that would wait on the same lock).
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    # ----------------------------------------------------------------- request handling

    def _handle(self, path: str, headers: Mapping[str, str], body: bytes) -> _Response:
        now = self._clock()
        parts = urlsplit(path)
        if not parts.path.startswith("/api/"):
            return _Response(404, {}, {"ok": False, "error": "not_found"})
        method = parts.path[len("/api/") :].strip("/")
        lower = {k.lower(): v for k, v in headers.items()}
        args: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        bad_body: str | None = None
        content_type = lower.get("content-type", "").lower()
        if body:
            if "json" in content_type:
                try:
                    parsed = json.loads(body.decode("utf-8"))
                    if not isinstance(parsed, dict):
                        raise ValueError("not an object")
                    args.update(parsed)
                except ValueError:
                    bad_body = "invalid_json"
            elif "x-www-form-urlencoded" in content_type:
                args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            else:
                bad_body = "invalid_form_data"
        for key in _JSON_ARGS & args.keys():
            if isinstance(args[key], str) and args[key][:1] in ("[", "{"):
                with contextlib.suppress(ValueError):  # else left as a string for the handler
                    args[key] = json.loads(args[key])
        token = None
        auth = lower.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip() or None
        body_token = args.pop("token", None)
        token = token or body_token

        with self._cond:
            team: str | None = None
            try:
                if bad_body:
                    raise SlackError(bad_body)
                response = self._injected(method)
                if response is None:
                    team = self._authorize(method, token)
                    response = self._limit(method, args, team, now)
                if response is None:
                    assert team is not None
                    payload = self._handlers[method](args, now, team)
                    response = _Response(200, {}, {"ok": True, **payload})
            except SlackError as exc:
                response = _Response(200, {}, {"ok": False, "error": exc.error, **exc.extra})
            except Exception:
                logger.exception("fake slack: handler for %s crashed", method)
                response = _Response(500, {}, {"ok": False, "error": "internal_error"})
            self._calls.append(
                Call(
                    method=method,
                    args=args,
                    time=now,
                    token_present=token is not None,
                    ok=bool(response.payload.get("ok")),
                    error=response.payload.get("error"),
                    status=response.status,
                    team_id=team,
                    content_type=content_type.split(";")[0].strip(),
                )
            )
            self._cond.notify_all()
        if self.latency_s > 0:
            time.sleep(self.latency_s)
        return response

    def _injected(self, method: str) -> _Response | None:
        queue = self._injections.get(method)
        if not queue:
            return None
        inj = queue[0]
        inj.remaining -= 1
        if inj.remaining <= 0:
            queue.popleft()
        headers = {"Retry-After": str(inj.retry_after)} if inj.retry_after is not None else {}
        return _Response(inj.status, headers, {"ok": False, "error": inj.error})

    def _authorize(self, method: str, token: str | None) -> str:
        if method not in self._handlers or (
            method in STREAM_METHODS and not self.streaming_supported
        ):
            raise SlackError("unknown_method")
        if token is None:
            raise SlackError("not_authed")
        if method == "apps.connections.open":
            # The one method that takes the app-level token, and only that one.
            if not token.startswith("xapp-"):
                raise SlackError("invalid_auth")
            return self.team_id
        if self.tokens is not None:
            if token not in self.tokens:
                raise SlackError("invalid_auth")
            return self.tokens[token]
        if not token.startswith("xoxb-"):
            raise SlackError("invalid_auth")
        return self.team_id

    def _limit(
        self, method: str, args: Mapping[str, Any], team: str, now: float
    ) -> _Response | None:
        if not self.enforce_limits:
            return None
        scale = self.window_s / 60.0
        checks: list[tuple[tuple[str, ...], float, int]] = []  # (key, tokens per s, burst)
        if method in self.limits:
            per_minute = self.limits[method]
            burst = self.bursts.get(method, max(1, per_minute // 5))
            checks.append(((team, method), per_minute / self.window_s, burst))
        if method == "chat.postMessage" and isinstance(args.get("channel"), str):
            burst, seconds = self.channel_post_limit
            checks.append(((team, method, args["channel"]), 1.0 / (seconds * scale), burst))
        wait = max(
            (self._buckets.wait_needed(key, rate, burst, now) for key, rate, burst in checks),
            default=0.0,
        )
        if wait > 0:
            self._count_429 += 1
            retry_after = max(1, math.ceil(wait))
            logger.debug("fake slack: %s rate limited, Retry-After %s", method, retry_after)
            return _Response(
                429, {"Retry-After": str(retry_after)}, {"ok": False, "error": "ratelimited"}
            )
        for key, rate, burst in checks:
            self._buckets.take(key, rate, burst, now)
        return None

    # ----------------------------------------------------------------- helpers

    def _next_ts(self) -> str:
        """Unique, increasing, wall-clock based, like Slack's own message timestamps."""
        us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _expire(self, msg: Message, now: float) -> None:
        if (
            msg.streaming
            and msg.stream_started is not None
            and now - msg.stream_started > self.stream_ttl_s
        ):
            msg.streaming = False

    def _clear_status(self, channel: str, thread_ts: str | None) -> None:
        if thread_ts is not None:
            self._current_status.pop((channel, thread_ts), None)

    def _channel(self, args: Mapping[str, Any], key: str = "channel") -> str:
        channel = args.get(key)
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        return channel

    def _find(self, args: Mapping[str, Any]) -> Message:
        channel = self._channel(args)
        _require(args, "ts")
        msg = self._messages.get((channel, str(args["ts"])))
        if msg is None or msg.deleted:
            raise SlackError("message_not_found")
        return msg

    def _stream_channel(self, channel: str) -> None:
        if channel in self.no_stream_channels:
            raise SlackError("method_not_supported_for_channel_type")

    def _streaming(self, args: Mapping[str, Any], now: float) -> Message:
        self._stream_channel(self._channel(args))
        msg = self._find(args)
        if not msg.from_bot:
            raise SlackError("message_not_owned_by_app")
        self._expire(msg, now)
        if msg.stopped_by_user:
            raise SlackError("stopped_by_user")
        if not msg.streaming:
            raise SlackError("message_not_in_streaming_state")
        return msg

    def _message_dict(self, msg: Message, team: str) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "user": msg.user, "text": msg.raw_text}
        if msg.from_bot:
            out.update(bot_id=msg.bot_id, app_id=self.app_id)
        out["ts"] = msg.ts
        out["team"] = team
        if msg.thread_ts is not None:
            out["thread_ts"] = msg.thread_ts
        if msg.blocks:
            out["blocks"] = copy.deepcopy(msg.blocks)
        return out

    @staticmethod
    def _content(args: Mapping[str, Any], text_max: int) -> tuple[str | None, list | None]:
        """Validate text/blocks/markdown_text; returns (text, blocks) to apply (None = absent)."""
        has_md = _present(args, "markdown_text")
        if has_md and (_present(args, "text") or args.get("blocks")):
            raise SlackError("markdown_text_conflict")
        text = args.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        if text is not None and len(text) > text_max:
            raise SlackError("msg_too_long")
        blocks = _parse_blocks(args["blocks"]) if args.get("blocks") is not None else None
        if has_md:
            markdown = str(args["markdown_text"])
            # chat.update refuses text near 4,000 characters, whichever field carries it.
            if len(markdown) > min(text_max, MARKDOWN_TEXT_MAX):
                raise SlackError("msg_too_long")
            # Slack turns markdown_text into a `markdown` block; the text fallback is the same.
            return markdown, [{"type": "markdown", "text": markdown}]
        return text, blocks

    # ----------------------------------------------------------------- methods

    def _auth_test(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "shopmate",
            "team_id": team,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args)
        text, blocks = self._content(args, POST_TEXT_MAX)
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        thread_ts = str(args["thread_ts"]) if _present(args, "thread_ts") else None
        msg = Message(
            channel=channel,
            ts=self._next_ts(),
            thread_ts=thread_ts,
            text="",
            format="mrkdwn",
            user=self.bot_user_id,
            bot_id=self.bot_id,
            created=now,
            raw_text=text or "",
            blocks=blocks or [],
        )
        _set_visible(msg, now)
        self._messages[(channel, msg.ts)] = msg
        self._clear_status(channel, thread_ts)
        return {"channel": channel, "ts": msg.ts, "message": self._message_dict(msg, team)}

    def _update(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        msg = self._find(args)
        if not msg.from_bot:
            raise SlackError("cant_update_message")
        self._expire(msg, now)
        if msg.streaming:
            # Reported from live use: an edit to a live stream is refused; stop it first.
            raise SlackError("streaming_state_conflict")
        text, blocks = self._content(args, UPDATE_TEXT_MAX)
        if text is None and blocks is None and not args.get("attachments"):
            raise SlackError("no_text")
        if text is not None:
            msg.raw_text = text
        if blocks is not None:
            # Omitting `blocks` keeps the old ones (documented); `[]` removes them.
            msg.blocks = blocks
        _set_visible(msg, now)
        return {
            "channel": msg.channel,
            "ts": msg.ts,
            "text": msg.raw_text,
            "message": self._message_dict(msg, team),
        }

    def _delete(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        msg = self._find(args)
        if not msg.from_bot:
            raise SlackError("cant_delete_message")
        msg.deleted = True
        msg.streaming = False
        msg.history.append(Visible(now, ""))
        return {"channel": msg.channel, "ts": msg.ts}

    def _start_stream(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args)
        self._stream_channel(channel)
        _require(args, "thread_ts")
        if not channel.startswith("D"):
            if not _present(args, "recipient_team_id"):
                raise SlackError("missing_recipient_team_id")
            if not _present(args, "recipient_user_id"):
                raise SlackError("missing_recipient_user_id")
        chunks = _parse_chunks(args.get("chunks"))
        text = _stream_text(args, chunks)
        thread_ts = str(args["thread_ts"])
        msg = Message(
            channel=channel,
            ts=self._next_ts(),
            thread_ts=thread_ts,
            text="",
            format="markdown",
            user=self.bot_user_id,
            bot_id=self.bot_id,
            created=now,
            blocks=[{"type": "markdown", "text": text}],
            streaming=True,
            stream_started=now,
            stream_mode="chunks" if chunks else "text",
        )
        msg.raw_text = text
        _set_visible(msg, now)
        self._messages[(channel, msg.ts)] = msg
        self._clear_status(channel, thread_ts)
        return {"channel": channel, "ts": msg.ts}

    def _append_to_stream(self, msg: Message, args: Mapping[str, Any], *, required: bool) -> None:
        chunks = _parse_chunks(args.get("chunks"))
        if required and not chunks and not _present(args, "markdown_text"):
            raise SlackError("invalid_arguments")
        if chunks and msg.stream_mode == "text":
            # Reported from live use: a stream opened with markdown_text takes no chunks.
            raise SlackError("streaming_mode_mismatch")
        text = _stream_text(args, chunks)
        if text:
            msg.blocks[0]["text"] += text
            msg.raw_text += text

    def _append_stream(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        msg = self._streaming(args, now)
        self._append_to_stream(msg, args, required=True)
        _set_visible(msg, now)
        return {"channel": msg.channel, "ts": msg.ts}

    def _stop_stream(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        msg = self._streaming(args, now)
        blocks = _parse_blocks(args["blocks"]) if args.get("blocks") else []
        self._append_to_stream(msg, args, required=False)
        msg.blocks.extend(blocks)
        msg.streaming = False
        _set_visible(msg, now)
        return {"channel": msg.channel, "ts": msg.ts, "message": self._message_dict(msg, team)}

    def _set_status(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args, "channel_id")
        _require(args, "thread_ts")
        if "status" not in args:
            _require(args, "status")
        status = str(args.get("status") or "")
        thread_ts = str(args["thread_ts"])
        self._statuses.append(StatusUpdate(now, channel, thread_ts, status))
        if status:
            self._current_status[(channel, thread_ts)] = status
        else:
            self._current_status.pop((channel, thread_ts), None)
        return {}

    def _replies(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        channel = self._channel(args)
        _require(args, "ts")
        ts = str(args["ts"])
        found = sorted(
            (
                m
                for m in self._messages.values()
                if m.channel == channel and not m.deleted and (m.ts == ts or m.thread_ts == ts)
            ),
            key=lambda m: _ts_key(m.ts),
        )
        # An unknown thread answers ok with no messages (the fake never saw the user's post),
        # so bots work without seeding; seed with add_user_message() for realistic history.
        try:
            limit = max(1, min(int(args.get("limit") or 1000), 1000))
            start = int(args.get("cursor") or 0)
        except ValueError as exc:
            raise SlackError("invalid_cursor") from exc
        page = found[start : start + limit]
        more = start + limit < len(found)
        out = [self._message_dict(m, team) for m in page]
        for item in out:
            item.setdefault("thread_ts", ts)
        return {
            "messages": out,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _users_info(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        user = args.get("user")
        if not isinstance(user, str) or not user:
            raise SlackError("user_not_found")
        is_bot = user == self.bot_user_id
        name = "shopmate" if is_bot else user.lower()
        return {
            "user": {
                "id": user,
                "team_id": team,
                "name": name,
                "real_name": "ShopMate" if is_bot else f"User {user}",
                "tz": "America/New_York",
                "tz_offset": -18000,
                "is_bot": is_bot,
                "deleted": False,
                "profile": {
                    "display_name": name,
                    "real_name": "ShopMate" if is_bot else f"User {user}",
                    "team": team,
                },
            }
        }

    def _connections_open(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        if self.socket_mode is None:
            raise SlackError("not_allowed")
        return {"url": self.socket_mode.new_url()}

    def _team_info(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        return {
            "team": {
                "id": team,
                "name": self.team_name,
                "domain": self.team_domain,
                "email_domain": "",
                "icon": {},
            }
        }
