"""A fake Slack Socket Mode server on 127.0.0.1 that the real Socket Mode clients connect to.

Slack's wire format, as slack_sdk reads it: on connect the server sends `hello`; events come
as `events_api` envelopes (`envelope_id`, `payload`, `accepts_response_payload`,
`retry_attempt`, `retry_reason`); the app acks with `{"envelope_id": ...}` within 3 s or the
envelope is sent again (on the newest connection, up to 3 retries). A routine refresh is a
`disconnect` message (`reason: refresh_requested`; also `warning`, `link_disabled`) and,
after a grace period, a close frame. Tests can also drop a connection abruptly: no close
frame, the TCP connection closed (`eof`), reset (`reset`), or left open but silent (`silent`:
no pongs, nothing read or sent), which is how a network partition looks to the client.

Built on the `websockets` library (a dev dependency): the framing, handshake and pings are
the well-tested part; what this module adds is Slack's protocol and the faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from fakes.serving import StartStop, wait_polling

logger = logging.getLogger(__name__)

ACK_TIMEOUT_S = 3.0  # Slack re-sends an envelope not acknowledged within 3 seconds
MAX_RETRIES = 3
DROP_MODES = ("eof", "reset", "silent")


@dataclass
class Connection:
    """One WebSocket connection from the app; times are time.monotonic()."""

    id: int
    opened: float
    ws: ServerConnection = field(repr=False)
    hello_sent: float | None = None
    closed: float | None = None
    # "client" (close frame from the app), "client-eof", "close", "eof", "reset", "silent",
    # "refresh" (closed by the server after a `disconnect`).
    how_closed: str | None = None
    disconnect_sent: float | None = None
    messages_in: int = 0

    @property
    def open(self) -> bool:
        return self.closed is None and self.how_closed != "silent"


@dataclass(frozen=True)
class Delivery:
    """One envelope sent (a retry is a new delivery of the same envelope_id)."""

    envelope_id: str
    connection: int
    time: float
    retry_attempt: int


@dataclass(frozen=True)
class Ack:
    """An acknowledgement; `latency` is from the delivery it answered to the ack."""

    envelope_id: str
    connection: int
    time: float
    latency: float
    payload: dict[str, Any] | None


@dataclass
class _Envelope:
    envelope_id: str
    payload: dict[str, Any]
    # "events_api" for Events API bodies, "interactive" for block_actions and other clicks.
    kind: str = "events_api"
    retry_attempt: int = 0
    last_sent: float | None = None
    acked: bool = False
    gave_up: bool = False


class FakeSocketMode(StartStop):
    """Slack's Socket Mode endpoint. `new_url()` is what apps.connections.open hands out.

    `ack_timeout_s` is Slack's 3 s; `refresh_grace_s` is how long a connection that was told
    `refresh_requested` stays open before the server closes it (Slack: about 10 s).
    """

    def __init__(
        self,
        *,
        app_id: str = "A0SHOPMATE",
        ack_timeout_s: float = ACK_TIMEOUT_S,
        max_retries: int = MAX_RETRIES,
        refresh_grace_s: float = 10.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.app_id = app_id
        self.ack_timeout_s = ack_timeout_s
        self.max_retries = max_retries
        self.refresh_grace_s = refresh_grace_s
        self._host, self._port = host, port
        self._cond = threading.Condition(threading.RLock())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._ids = itertools.count(1)
        self._tickets: set[str] = set()
        self.connections: list[Connection] = []
        self.deliveries: list[Delivery] = []
        self.acks: list[Ack] = []
        self.unknown_acks: list[str] = []
        self._envelopes: dict[str, _Envelope] = {}
        self._pending: list[str] = []  # envelopes waiting for an open connection
        self._tasks: set[asyncio.Future[Any]] = set()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeSocketMode:
        if self._thread is not None:
            return self
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-socket-mode", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Socket Mode server did not start")
        return self

    async def _serve(self) -> Server:
        # No server-side keepalive: the client's own pings are what the tests exercise.
        return await serve(
            self._handle,
            self._host,
            self._port,
            ping_interval=None,
            process_request=self._check_ticket,
        )

    def _check_ticket(self, ws: ServerConnection, request: Request) -> Response | None:
        """A URL from apps.connections.open works once; anything else is refused (HTTP 401)."""
        ticket = parse_qs(urlsplit(request.path).query).get("ticket")
        with self._cond:
            if ticket and ticket[0] in self._tickets:
                self._tickets.discard(ticket[0])
                return None
        return ws.respond(HTTPStatus.UNAUTHORIZED, "invalid ticket\n")

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            for conn in self.connections:
                conn.ws.transport.abort()
            if self._server is not None:
                self._server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server.wait_closed(), 5)
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSocketMode is not started")
        return int(self._server.sockets[0].getsockname()[1])

    def new_url(self) -> str:
        """A fresh single-use URL, as apps.connections.open returns (Slack's are wss://)."""
        ticket = uuid.uuid4().hex
        with self._cond:
            self._tickets.add(ticket)
        return f"ws://{self._host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # ----------------------------------------------------------------- server side

    async def _handle(self, ws: ServerConnection) -> None:
        now = time.monotonic()
        with self._cond:
            conn = Connection(next(self._ids), now, ws)
            self.connections.append(conn)
            open_count = sum(1 for c in self.connections if c.open)
        hello = {
            "type": "hello",
            "num_connections": open_count,
            "debug_info": {
                "host": f"applink-fake-{conn.id}",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        # Marked before the send: the app may read `hello` (and a test act on it) before this
        # coroutine runs again. Nothing else is sent in between, this loop runs one at a time.
        with self._cond:
            conn.hello_sent = time.monotonic()
            pending, self._pending = self._pending, []
            self._cond.notify_all()
        await ws.send(json.dumps(hello))
        for envelope_id in pending:
            await self._send_envelope(envelope_id)
        try:
            async for raw in ws:
                self._on_message(conn, raw)
        except ConnectionClosed:
            pass
        finally:
            # "client": the app closed with a close frame; "client-eof": it just went away.
            how = "client" if ws.protocol.close_rcvd is not None else "client-eof"
            with self._cond:
                if conn.closed is None:
                    conn.closed = time.monotonic()
                    conn.how_closed = conn.how_closed or how
                self._cond.notify_all()

    def _on_message(self, conn: Connection, raw: str | bytes) -> None:
        now = time.monotonic()
        try:
            message = json.loads(raw)
        except ValueError:
            logger.warning("fake socket mode: not JSON from the app: %r", raw[:200])
            return
        with self._cond:
            conn.messages_in += 1
            envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
            envelope = self._envelopes.get(envelope_id) if isinstance(envelope_id, str) else None
            if envelope is None:
                self.unknown_acks.append(str(envelope_id))
            elif not envelope.acked:
                envelope.acked = True
                sent = envelope.last_sent if envelope.last_sent is not None else now
                ack = Ack(envelope.envelope_id, conn.id, now, now - sent, message.get("payload"))
                self.acks.append(ack)
            self._cond.notify_all()

    def _newest_open(self) -> Connection | None:
        live = [
            c for c in self.connections if c.open and c.hello_sent and c.disconnect_sent is None
        ]
        return live[-1] if live else None

    async def _send_envelope(self, envelope_id: str) -> None:
        with self._cond:
            envelope = self._envelopes[envelope_id]
            if envelope.acked:
                return
            conn = self._newest_open()
            if conn is None:
                self._pending.append(envelope_id)
                return
            # A silent (partitioned) connection still looks open to Slack until it times out:
            # envelopes sent to it are lost, and the ack timer re-sends them.
            silent = [c for c in self.connections if c.how_closed == "silent" and c.closed is None]
            target = silent[-1] if silent and silent[-1].id > conn.id else conn
            now = time.monotonic()
            envelope.last_sent = now
            self.deliveries.append(Delivery(envelope_id, target.id, now, envelope.retry_attempt))
            body = {
                "envelope_id": envelope_id,
                "payload": envelope.payload,
                "type": envelope.kind,
                "accepts_response_payload": False,
                "retry_attempt": envelope.retry_attempt,
                "retry_reason": "timeout" if envelope.retry_attempt else "",
            }
            self._cond.notify_all()
        if target.how_closed != "silent":
            with contextlib.suppress(ConnectionClosed):
                await target.ws.send(json.dumps(body))
        assert self._loop is not None
        self._loop.call_later(self.ack_timeout_s, self._ack_deadline, envelope_id, now)

    def _ack_deadline(self, envelope_id: str, sent_at: float) -> None:
        with self._cond:
            envelope = self._envelopes[envelope_id]
            if envelope.acked or envelope.last_sent != sent_at:
                return
            if envelope.retry_attempt >= self.max_retries:
                envelope.gave_up = True
                self._cond.notify_all()
                return
            envelope.retry_attempt += 1
        self._spawn(self._send_envelope(envelope_id))

    def _spawn(self, coro: Any) -> None:
        """Run `coro` on the loop, keeping a reference until it is done (asyncio's advice)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----------------------------------------------------------------- test controls

    def _run(self, coro_factory: Callable[[], Any], timeout: float = 10.0) -> Any:
        if self._loop is None:
            raise RuntimeError("FakeSocketMode is not started")
        return asyncio.run_coroutine_threadsafe(coro_factory(), self._loop).result(timeout)

    def send_event(self, payload: dict[str, Any]) -> str:
        """Deliver an Events API body (`event_callback`) as an envelope; returns its id.

        With no open connection it waits for the next one, as Slack queues it.
        """
        return self._send_new(payload, "events_api")

    def send_interaction(self, payload: dict[str, Any]) -> str:
        """Deliver an interaction (e.g. `block_actions`) as an `interactive` envelope."""
        return self._send_new(payload, "interactive")

    def _send_new(self, payload: dict[str, Any], kind: str) -> str:
        envelope_id = str(uuid.uuid4())
        with self._cond:
            self._envelopes[envelope_id] = _Envelope(envelope_id, payload, kind)

        async def go() -> None:
            await self._send_envelope(envelope_id)

        self._run(go)
        return envelope_id

    def _current(self) -> Connection:
        with self._cond:
            conn = self._newest_open()
        if conn is None:
            raise RuntimeError("no open Socket Mode connection")
        return conn

    def disconnect(self, reason: str = "refresh_requested") -> int:
        """Send `disconnect` to the current connection and close it `refresh_grace_s` later.

        `refresh_requested` and `warning` are Slack's routine hand-over; `link_disabled`
        means Socket Mode was turned off. Returns the connection's id.
        """
        conn = self._current()
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}

        async def go() -> None:
            with self._cond:
                conn.disconnect_sent = time.monotonic()
            with contextlib.suppress(ConnectionClosed):
                await conn.ws.send(json.dumps(message))
            assert self._loop is not None
            self._loop.call_later(
                self.refresh_grace_s, lambda: self._spawn(self._close(conn, "refresh"))
            )

        self._run(go)
        return conn.id

    async def _close(self, conn: Connection, how: str) -> None:
        if conn.closed is not None:
            return
        with self._cond:
            conn.how_closed = conn.how_closed or how
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.close(code=1000, reason=""), 5)

    def close(self) -> int:
        """Close the current connection cleanly (close frame). Returns its id."""
        conn = self._current()
        self._run(lambda: self._close(conn, "close"))
        return conn.id

    def drop(self, mode: str = "eof") -> int:
        """Drop the current connection abruptly, with no close frame. Returns its id.

        `eof`: the TCP connection is closed (FIN); `reset`: reset (RST); `silent`: left open
        but nothing is read or sent any more, so pings go unanswered.
        """
        if mode not in DROP_MODES:
            raise ValueError(f"mode must be one of {DROP_MODES}")
        conn = self._current()

        async def go() -> None:
            transport = conn.ws.transport
            now = time.monotonic()
            with self._cond:
                conn.how_closed = mode
                if mode != "silent":
                    conn.closed = now
                self._cond.notify_all()
            if mode == "silent":
                transport.pause_reading()
                return
            if mode == "reset":
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()

        self._run(go)
        return conn.id

    # ----------------------------------------------------------------- inspection

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait (bounded) until `predicate()` holds, re-checked on every change and every 50 ms."""
        return wait_polling(self._cond, predicate, timeout)

    def open_connections(self) -> list[Connection]:
        with self._cond:
            return [c for c in self.connections if c.open and c.hello_sent]

    def connected_since(self, after: float) -> Connection | None:
        """The first connection greeted with `hello` at or after `after` (monotonic)."""
        with self._cond:
            for conn in self.connections:
                if conn.hello_sent is not None and conn.hello_sent >= after:
                    return conn
            return None

    def acks_for(self, envelope_id: str) -> list[Ack]:
        with self._cond:
            return [a for a in self.acks if a.envelope_id == envelope_id]

    def deliveries_of(self, envelope_id: str) -> list[Delivery]:
        with self._cond:
            return [d for d in self.deliveries if d.envelope_id == envelope_id]

    def acked(self, envelope_id: str) -> bool:
        with self._cond:
            envelope = self._envelopes.get(envelope_id)
            return bool(envelope and envelope.acked)
