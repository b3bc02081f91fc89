"""Socket Mode that survives the network: slack_sdk's websocket-client client, with a pong
watchdog and a make-before-break hand-over.

Measured against the fake Socket Mode server (bench/socket_mode.py), Bolt's handlers fall
short in two ways:
- slack_sdk's built-in client (Bolt's default) reads EOF as "no data yet" after a TCP drop
  with no close frame: it spins on recv() at full CPU and is deaf until its stale-check gives
  up (about a minute); on `disconnect` its reader thread holds the old socket for up to its
  3 s receive timeout, so the first event on the new connection is acked after ~3 s.
- The websocket-client handler notices a closed TCP connection at once, but it never sets a
  pong timeout: a silent drop (a partition, a NAT that forgot us) leaves it deaf for good.
  On `disconnect` it closes the old connection before the new one is open, and an ack sent
  in that gap fails.
This client keeps slack_sdk's websocket-client implementation (its message queue, workers
and Bolt adapter) and changes just those two things: every connection runs with a ping
timeout, so a silent connection is dropped and replaced within `ping_interval +
2 * ping_timeout`; and a replacement connection is opened, greeted and made current before
the old one is closed. It works with the sync Bolt `App` that ShopMate's listeners need.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode.base_handler import BaseSocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk import WebClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.websocket_client import SocketModeClient
from websocket import WebSocketApp

from bot.settings import Settings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0


class ResilientSocketModeClient(SocketModeClient):
    """websocket-client Socket Mode with a pong watchdog and make-before-break reconnects."""

    def __init__(
        self,
        app_token: str,
        *,
        web_client: WebClient | None = None,
        ping_interval: float = Settings.socket_ping_interval,
        concurrency: int = 10,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        super().__init__(
            app_token,
            logger=logger,
            web_client=web_client,
            ping_interval=ping_interval,
            concurrency=concurrency,
        )
        # websocket-client requires ping_timeout < ping_interval.
        self.ping_timeout = ping_interval / 2
        self.connect_timeout = connect_timeout
        self.connections_opened = 0

    def connect(self) -> None:
        """Open a new connection and make it current once Slack has accepted it.

        Called for the first connection, after a drop, and on `disconnect` (refresh): the old
        connection stays up until the new one is open, so there is no gap without one.
        """
        url = self.wss_uri or self.issue_new_wss_url()
        self.wss_uri = None  # Slack's URLs are single-use: the next connect asks for a new one
        opened = threading.Event()
        session = WebSocketApp(
            url,
            on_open=lambda ws: opened.set(),
            on_message=self._on_message,
            on_error=self._on_error,
            on_close=self._on_close,
        )
        thread = threading.Thread(
            target=session.run_forever,
            kwargs={"ping_interval": self.ping_interval, "ping_timeout": self.ping_timeout},
            name="socket-mode-session",
            daemon=True,
        )
        thread.start()
        if not opened.wait(self.connect_timeout):
            session.close()
            raise ConnectionError("Socket Mode connection did not open in time")
        old, self.current_session = self.current_session, session
        self.auto_reconnect_enabled = self.default_auto_reconnect_enabled
        self.connections_opened += 1
        if not self.current_app_monitor_started:
            self.current_app_monitor_started = True
            self.current_app_monitor.start()
        if old is not None:
            old.close()
        logger.info("Socket Mode connection open (%d so far)", self.connections_opened)

    def _run_current_session(self) -> None:
        """Each connection runs in its own thread (see connect); nothing to do here."""

    def _on_message(self, ws: WebSocketApp, message: str) -> None:
        self.enqueue_message(message)

    def _on_error(self, ws: WebSocketApp, error: Exception) -> None:
        logger.warning("Socket Mode connection error: %s: %s", type(error).__name__, error)

    def _on_close(self, ws: WebSocketApp, code: Any = None, reason: Any = None) -> None:
        # Only losing the current connection calls for a new one; an old one closes on
        # purpose after a hand-over. If reconnecting fails here, the monitor (every
        # ping_interval) tries again: a pause, never a busy loop.
        if ws is not self.current_session or not self.auto_reconnect_enabled or self.closed:
            return
        logger.warning("Socket Mode connection lost (code %s); reconnecting", code)
        try:
            self.connect_to_new_endpoint()
        except Exception as error:
            logger.warning("Socket Mode reconnect failed (%s); retrying shortly", error)

    def _monitor_current_session(self) -> None:
        if not self.current_app_monitor_started or self.closed:
            return
        session = self.current_session
        if self.auto_reconnect_enabled and (session is None or session.sock is None):
            logger.info("Socket Mode has no live connection; reconnecting")
            try:
                self.connect_to_new_endpoint()
            except Exception as error:
                logger.warning("Socket Mode reconnect failed (%s); retrying shortly", error)

    def close(self) -> None:
        """Close the connection (a close frame, so Slack sends new events elsewhere)."""
        self.closed = True
        self.auto_reconnect_enabled = False
        self.disconnect()
        self.current_session_runner.shutdown()
        self.current_app_monitor.shutdown()
        self.message_queue.put(None)  # wakes the processor's 1 s wait on the queue
        self.message_processor.shutdown()
        self.message_workers.shutdown()


class ShopMateSocketModeHandler(BaseSocketModeHandler):
    """Bolt's Socket Mode adapter for the sync `App`, on `ResilientSocketModeClient`."""

    def __init__(
        self,
        app: App,
        app_token: str,
        *,
        ping_interval: float = Settings.socket_ping_interval,
        concurrency: int = 10,
    ) -> None:
        self.app = app
        self.client = ResilientSocketModeClient(
            app_token, web_client=app.client, ping_interval=ping_interval, concurrency=concurrency
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    def handle(self, client: ResilientSocketModeClient, req: SocketModeRequest) -> None:
        start = time.time()
        send_response(client, req, run_bolt_app(self.app, req), start)

    def connect(self) -> None:
        self.client.connect_to_new_endpoint(force=True)
