"""What the fakes' HTTP servers share: a quiet threaded server on loopback, and `with` blocks.

Every fake (Slack, Claude, Shopify, the orders endpoint) serves real SDKs from a
ThreadingHTTPServer that knows its fake, never keeps the process alive, accepts bursts of
connections and stays quiet when a client hangs up; each one is used as `with Fake() as fake:`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

logger = logging.getLogger(__name__)


class FakeHTTPServer(ThreadingHTTPServer):
    """A fake's HTTP server; its handlers reach the fake as `self.server.fake`."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops SYNs when many clients connect at once, and
    # each drop costs the client a 1 s (then 3 s) retransmit: seen as 1-2 s stalls in bench.
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], fake: Any, handler: type[BaseHTTPRequestHandler]
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-request (timeouts, retries) are routine here: no traceback."""
        logger.debug(
            "%s: error serving %s", type(self.fake).__name__, client_address, exc_info=True
        )


class StartStop:
    """`with fake:` starts the fake and stops it, whatever its start() and stop() do."""

    def __enter__(self) -> Self:
        return self.start()  # type: ignore[attr-defined,no-any-return]

    def __exit__(self, *exc_info: object) -> None:
        self.stop()  # type: ignore[attr-defined]


class BoundAtOnce(StartStop):
    """A fake bound to a free loopback port when made (its URL is known before it serves), then
    served on a daemon thread from start() to stop()."""

    def _bind(self, handler: type[BaseHTTPRequestHandler]) -> None:
        # Set when stopping, so that an answer waiting on purpose (a delay) ends at once.
        self._stopping = threading.Event()
        self._server = FakeHTTPServer(("127.0.0.1", 0), self, handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def _origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """Answer the request with `body` as JSON."""
    payload = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def wait_polling(cond: threading.Condition, predicate: Callable[[], bool], timeout: float) -> bool:
    """Wait (bounded) until `predicate()` holds, under `cond`: re-checked whenever `cond` is
    notified and every 50 ms (for what changes without a notification, such as time)."""
    deadline = time.monotonic() + timeout
    with cond:
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            cond.wait(min(remaining, 0.05))
        return True
