"""Serving the Bolt app: HTTP (waitress, for production) or Socket Mode (for a laptop)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

from bot.settings import Settings
from bot.slack.app import build_app
from bot.wiring import Services, build_services

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
StartResponse = Callable[..., Any]


def make_wsgi_app(app: App, *, max_body_bytes: int = 1_000_000) -> Callable[..., Iterable[bytes]]:
    """Routes: POST /slack/events to Bolt, GET /healthz for load balancers; bodies are capped.

    Bolt verifies the signature (bad or stale → 401) and acks before its listeners run,
    so Slack's 3-second deadline is met however long Claude takes.
    """
    bolt = SlackRequestHandler(app)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz" and method in ("GET", "HEAD"):
            return _json(start_response, "200 OK", {"ok": True})
        if path != EVENTS_PATH:
            return _json(start_response, "404 Not Found", {"ok": False, "error": "not_found"})
        if method != "POST":
            return _json(start_response, "405 Method Not Allowed", {"ok": False})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > max_body_bytes:
            return _json(
                start_response, "413 Content Too Large", {"ok": False, "error": "too_large"}
            )
        return bolt(environ, start_response)

    return wsgi


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


class HttpServer:
    """A threaded waitress server for the app, startable and stoppable from tests and the demo."""

    def __init__(
        self, wsgi: Callable[..., Any], *, host: str = "127.0.0.1", port: int = 0, threads: int = 8
    ) -> None:
        self._server = create_server(
            wsgi, host=host, port=port, threads=threads, ident="shopmate", channel_timeout=60
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self.port}"

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.run()

    def stop(self) -> None:
        self._server.task_dispatcher.shutdown(timeout=5)
        self._server.close()
        from waitress import wasyncore

        wasyncore.close_all(self._server._map)
        if self._thread is not None:
            self._thread.join(timeout=5)


def serve(settings: Settings, *, host: str, port: int) -> int:
    """`shopmate serve`: the Events API over HTTP until interrupted."""
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "ANTHROPIC_API_KEY")
    services = build_services(settings)
    app, _ = build_app(services)
    server = HttpServer(
        make_wsgi_app(app, max_body_bytes=settings.max_body_bytes),
        host=host,
        port=port,
        threads=max(8, settings.slack_workers // 2),
    )
    logger.info(
        "ShopMate listening on %s%s (health: %s/healthz)", server.url, EVENTS_PATH, server.url
    )
    try:
        server.serve_forever()
    finally:
        services.close()
    return 0


def run_socket_mode(settings: Settings) -> int:
    """`shopmate run`: connect out to Slack over Socket Mode; no public URL needed."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    settings.require("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "ANTHROPIC_API_KEY")
    services: Services = build_services(settings)
    app, _ = build_app(services, socket_mode=True)
    logger.info("ShopMate connecting to Slack with Socket Mode")
    try:
        SocketModeHandler(app, settings.slack_app_token).start()
    finally:
        services.close()
    return 0
