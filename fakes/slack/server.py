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
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from fakes.serving import FakeHTTPServer, StartStop, wait_polling
from fakes.slack.access import AccessMethods
from fakes.slack.assistant import AssistantMethods
from fakes.slack.chat import ChatMethods
from fakes.slack.directory import DirectoryMethods
from fakes.slack.ephemeral import Ephemeral, EphemeralMethods
from fakes.slack.files import FileMethods
from fakes.slack.limits import CHANNEL_POST_LIMIT, SLACK_BURSTS, SLACK_LIMITS, Buckets
from fakes.slack.messages import STREAM_METHODS, Call, Message, StatusUpdate, set_visible, ts_key
from fakes.slack.reactions import ReactionMethods, ReactionUpdate
from fakes.slack.usergroups import UsergroupMethods
from fakes.slack.views import ViewMethods
from fakes.slack.wire import JSON_ARGS, SlackError, require

logger = logging.getLogger(__name__)


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


class _Server(FakeHTTPServer):
    fake: FakeSlack


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
            raw = self.server.fake._serve_raw(self.path, dict(self.headers.items()))
            if raw is not None:  # a file download (fakes/slack/files.py), not the Web API
                self._send_raw(*raw)
                return
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

    def _send_raw(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake slack: " + format, *args)


class FakeSlack(
    ChatMethods,
    DirectoryMethods,
    EphemeralMethods,
    UsergroupMethods,
    AssistantMethods,
    FileMethods,
    ViewMethods,
    AccessMethods,
    ReactionMethods,
    StartStop,
):
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
        # Each mixin declares the Web API methods it serves (METHODS: name -> attribute), so a
        # new group of methods is a new mixin, not an edit here.
        self._handlers: dict[str, Callable[[dict[str, Any], float, str], dict[str, Any]]] = {
            method: getattr(self, attribute)
            for klass in reversed(type(self).__mro__)
            for method, attribute in vars(klass).get("METHODS", {}).items()
        }
        self._buckets = Buckets()
        # A FakeSocketMode (fakes/slack/socket_mode.py) whose URLs apps.connections.open
        # hands out; None answers `not_allowed`, as for an app without Socket Mode.
        self.socket_mode: Any = None
        self._usergroups: dict[str, list[str]] = {}  # user group id -> member ids (configuration)
        self._init_access()  # granted scopes, missing channels (configuration)
        self._init_state()

    def _init_state(self) -> None:
        self._calls: list[Call] = []
        self._holds: dict[str, threading.Event] = {}
        self._ephemerals: list[Ephemeral] = []
        self._messages: dict[tuple[str, str], Message] = {}
        self._statuses: list[StatusUpdate] = []
        self._current_status: dict[tuple[str, str], str] = {}
        # (channel, thread_ts or None) -> (heading, prompts); (channel, thread_ts) -> title.
        self._prompts: dict[tuple[str, str | None], tuple[str | None, list[dict[str, str]]]] = {}
        self._titles: dict[tuple[str, str], str] = {}
        # user -> the Home view they see; every publish as (user, time).
        self._views: dict[str, dict[str, Any]] = {}
        self._published: list[tuple[str, float]] = []
        self._reactions: dict[tuple[str, str], set[str]] = {}  # (channel, ts) -> names
        self._reaction_log: list[ReactionUpdate] = []
        self._injections: dict[str, deque[_Injection]] = {}
        self._count_429 = 0
        self._last_ts_us = 0

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeSlack:
        """Bind (port 0 picks a free port) and serve on a daemon thread."""
        if self._server is not None:
            return self
        self._server = _Server((self._host, self._port), self, _Handler)
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

    def hold(self, method: str) -> threading.Event:
        """Answer `method`'s calls only when the returned event is set (a slow Slack for one
        method): the call is done and recorded at once, its response waits (at most 60 s)."""
        with self._cond:
            gate = self._holds.setdefault(method, threading.Event())
        return gate

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
            set_visible(msg, now)
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
            return [copy.deepcopy(m) for m in sorted(found, key=lambda m: ts_key(m.ts))]

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
        return wait_polling(self._cond, predicate, timeout)

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
        for key in JSON_ARGS & args.keys():
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
                    self._check_access(method, args)
                    payload = self._handlers[method](args, now, team)
                    response = _Response(200, {}, {"ok": True, **payload})
            except SlackError as exc:
                response = _Response(200, {}, {"ok": False, "error": exc.error, **exc.extra})
            except Exception:
                logger.exception("fake slack: handler for %s crashed", method)
                response = _Response(500, {}, {"ok": False, "error": "internal_error"})
            if team is not None:  # Slack names a known token's scopes on every answer
                response = response._replace(
                    headers={**response.headers, **self._scopes_header(token)}
                )
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
        held = self._holds.get(method)
        if held is not None:
            held.wait(60.0)  # bounded: a test that forgets to release still ends
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
        require(args, "ts")
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
