"""Serving the Bolt app: HTTP (waitress, for production) or Socket Mode (for a laptop)."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress.server import create_server

from bot.drain import Drain
from bot.process import Process
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.responder import SlackResponder
from bot.wiring import Services, build_services

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
StartResponse = Callable[..., Any]


def make_wsgi_app(
    app: App,
    *,
    max_body_bytes: int = Settings.max_body_bytes,
    signing_secret: str | None = None,
    drain: Drain | None = None,
) -> Callable[..., Iterable[bytes]]:
    """Routes: POST /slack/events to Bolt, GET /healthz for load balancers; bodies are capped.

    /slack/events takes both the Events API (JSON) and interactivity (button clicks: a
    form-encoded `payload=` field holding JSON), signed alike; the manifest gives Slack
    this one URL for both.

    Bolt verifies the signature (bad or stale → 401) and acks before its listeners run,
    so Slack's 3-second deadline is met however long Claude takes. A body Bolt could not
    parse (not UTF-8, not a JSON object, fields of the wrong type) never reaches it: Bolt
    would answer 500, and Slack would send it again. Unsigned requests get 401, signed
    malformed ones 400.
    `signing_secret` defaults to the app's own.
    Once `drain` is stopping (SIGTERM), events get 503 instead of an ack, so Slack sends them
    again (to the next process), and /healthz answers 503 so load balancers move on. An
    event acked before that is counted as work in flight until Bolt has handed it over.
    Button clicks are still taken until the grace is over: Slack never sends a click again.
    """
    bolt = SlackRequestHandler(app)
    # slack_bolt keeps the secret it verifies with privately and offers no accessor.
    secret = signing_secret if signing_secret is not None else app._signing_secret

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz" and method in ("GET", "HEAD"):
            if drain is not None and drain.stopping.is_set():
                return _json(start_response, "503 Service Unavailable", {"ok": False})
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
        raw = environ["wsgi.input"].read(length) if length else b""
        # Checked here, before Bolt, because Bolt's own check raises (500, and Slack sends
        # it again) on headers it cannot compare, such as a non-ASCII signature.
        if not _signed(
            secret or "",
            raw,
            environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or "",
            environ.get("HTTP_X_SLACK_SIGNATURE") or "",
        ):
            return _json(start_response, "401 Unauthorized", {"error": "invalid_request"})
        problem = payload_problem(raw, environ.get("CONTENT_TYPE"))
        if problem is not None:
            logger.warning("Refused a signed Slack request: %s", problem)
            return _json(
                start_response, "400 Bad Request", {"ok": False, "error": "invalid_payload"}
            )
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        if drain is None:
            return bolt(environ, start_response)
        with drain.working():
            # A click is never sent again (the person sees an error instead), and it is quick
            # work: it is still taken during the grace. Events are left for the next process.
            click = is_interaction(raw, environ.get("CONTENT_TYPE"))
            if drain.stopping.is_set() and (drain.expired.is_set() or not click):
                # Never ack-and-ignore: unacked, Slack sends the event again.
                return _json(
                    start_response, "503 Service Unavailable", {"ok": False, "error": "restarting"}
                )
            return bolt(environ, start_response)

    return wsgi


# Fields Bolt and ShopMate read as ids or text, at any level of the envelope they look in.
_TEXT_FIELDS = (
    "type",
    "subtype",
    "team_id",
    "enterprise_id",
    "user_id",
    "channel_id",
    "context_team_id",
    "context_enterprise_id",
    "api_app_id",
    "app_installed_team_id",
    "user_team",
    "source_team",
    "channel_type",
    "ts",
    "thread_ts",
    "event_ts",
    "text",
    "bot_id",
)
# Fields that are an id or an object carrying one (`"team": "T1"` or `"team": {"id": "T1"}`).
_ENTITY_FIELDS = ("enterprise", "team", "user", "channel")
_NESTED = (
    "event",
    "message",
    "previous_message",
    "item",
    "assistant_thread",
    "view",
    "container",
)
# Fields of each action in an interactivity payload's `actions` list that Bolt matches on.
_ACTION_FIELDS = ("type", "action_id", "block_id", "value", "action_ts")


def payload_problem(raw: bytes, content_type: str | None = None) -> str | None:
    """Why `raw` is not a body Bolt can take, or None if it is one.

    An Events API body is JSON; an interactivity body (a button click) is a form whose
    `payload` field holds the JSON. Told apart as Bolt tells them (the Content-Type, or a
    body starting with "{"), so a body passed here never makes Bolt fail. Checks shapes only (UTF-8
    JSON object; ids and text strings; nested parts objects; actions a list of objects),
    never meaning: an unknown event type is well-formed and Bolt answers it.
    """
    try:
        text = raw.decode("utf-8")
        if is_interaction(raw, content_type):
            form = dict(parse_qsl(text, keep_blank_values=True))
            if "payload" not in form:
                return "a form body without a payload field"
            text = form["payload"]
        body = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "not UTF-8 JSON"
    if not isinstance(body, dict):
        return "not a JSON object"
    if body.get("type") == "event_callback" and not isinstance(body.get("event"), dict):
        return "event_callback without an event object"
    authorizations = body.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        return "authorizations is not a list of objects"
    if "response_urls" in body and not (
        isinstance(body["response_urls"], list)
        and all(isinstance(u, dict) for u in body["response_urls"])
    ):
        return "response_urls is not a list of objects"
    actions = body.get("actions")
    if actions is not None:
        if not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
            return "actions is not a list of objects"
        for action in actions:
            for name in _ACTION_FIELDS:
                if action.get(name) is not None and not isinstance(action[name], str):
                    return f"actions: {name} is not a string"
    for part in [body, *(authorizations or [])]:
        problem = _part_problem(part, depth=0)
        if problem:
            return problem
    return None


def is_interaction(raw: bytes, content_type: str | None) -> bool:
    """A form body with a `payload` field (a click), as Bolt tells it from an event's JSON."""
    media_type = (content_type or "").split(";")[0]
    return media_type != "application/json" and not raw.startswith(b"{") and b"payload" in raw


def _part_problem(part: dict[str, Any], *, depth: int) -> str | None:
    for name in _TEXT_FIELDS:
        if part.get(name) is not None and not isinstance(part[name], str):
            return f"{name} is not a string"
    for name in _ENTITY_FIELDS:
        value = part.get(name)
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, dict):
            return f"{name} is neither an id nor an object"
        for inner in ("id", "team_id", "enterprise_id"):
            if value.get(inner) is not None and not isinstance(value[inner], str):
                return f"{name}.{inner} is not a string"
    for name in ("function_data", *_NESTED):
        value = part.get(name)
        if name in part and not isinstance(value, dict):
            return f"{name} is not an object"
        if isinstance(value, dict) and depth < 3:
            problem = _part_problem(value, depth=depth + 1)
            if problem:
                return f"{name}: {problem}"
    return None


def _signed(secret: str, raw: bytes, timestamp: str, signature: str) -> bool:
    """Slack's v0 signature over the raw bytes, within five minutes, as Bolt checks it.

    Here the body may not even be UTF-8 (slack_sdk's verifier decodes it first).
    """
    # Headers are hostile input too: int() accepts non-ASCII digits, and compare_digest
    # refuses non-ASCII strings, so anything but plain ASCII is simply not a valid signature.
    if not (timestamp.isascii() and timestamp.isdigit() and signature.isascii()):
        return False
    if abs(time.time() - int(timestamp)) > 300:
        return False
    base = b"v0:" + timestamp.encode("ascii") + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


class HttpServer:
    """A threaded waitress server for the app, startable and stoppable from tests and the demo."""

    def __init__(
        self,
        wsgi: Callable[..., Any],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 8,
        max_body_bytes: int = Settings.max_body_bytes,
    ) -> None:
        # Waitress buffers a chunked body whole before the app sees it: cap it there too.
        self._server = create_server(
            wsgi,
            host=host,
            port=port,
            threads=threads,
            ident="shopmate",
            channel_timeout=60,
            max_request_body_size=max_body_bytes,
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
        from waitress import wasyncore

        server, server_map = self._server, self._server._map

        def close() -> None:
            server.close()  # the listening socket and the loop's wake-up trigger
            wasyncore.close_all(server_map)

        server.task_dispatcher.shutdown(timeout=5)
        if self._thread is not None and self._thread.is_alive():
            # Close from the server's own loop, woken now: closed from here, the loop would
            # sleep on in select() for up to a second before noticing.
            try:
                server.trigger.pull_trigger(close)
            except OSError as error:
                # The wake-up pipe is gone (seen once in a test run: EBADF): the loop cannot be
                # woken, so close from here below; it notices within its select timeout.
                logger.warning("Could not wake the HTTP server's loop (%s); closing it here", error)
            else:
                self._thread.join(timeout=5)
        if server_map:
            close()


def start_up(
    services: Services,
    responder: SlackResponder,
    client: WebClient,
    process: Process | None = None,
) -> Process:
    """Chores before taking events: apply retention (then daily), settle earlier runs' work.

    The process (its drain shared with the responder) applies retention; the responder starts
    answering what dead processes left, then keeps its leases alive and sweeps for more until
    `responder.stop()`. Returns the running process; stop it when the server stops.
    """
    process = (process or Process(services, drain=responder.drain)).start()
    responder.start(client)
    return process


class ShutdownRequest(threading.Event):
    """Set by SIGTERM or SIGINT; remembers which signal, so the main thread can say so."""

    signum: int | None = None


def stop_on_signals() -> ShutdownRequest:
    """An event set by SIGTERM or SIGINT; a second signal exits at once (status 1).

    The handler only sets the event: Python runs it on the main thread between bytecodes,
    possibly in the middle of a log write, and logging from there raises "reentrant call"
    on the same stream (the process then hangs instead of stopping). The main thread logs.
    """
    stop = ShutdownRequest()

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            # os.write is safe here where a logging call is not.
            name = signal.Signals(signum).name
            os.write(2, f"Second {name}: exiting without waiting\n".encode())
            os._exit(1)
        stop.signum = signum
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def _wait(stop: ShutdownRequest) -> None:
    # A timed wait keeps the main thread where Python runs signal handlers.
    while not stop.wait(0.5):
        pass
    name = signal.Signals(stop.signum).name if stop.signum is not None else "stop"
    logger.info("%s: shutting down gracefully", name)


def _drain(settings: Settings, process: Process) -> None:
    """Let answers in flight finish within the grace; leave at once if one is stuck past it.

    A stuck answer (blocked past the grace and its notice window) keeps its claim unfinished
    for the next process. Exiting normally would wait for the listener threads (the
    interpreter joins them), possibly for minutes.
    """
    if not process.finish(settings.shutdown_grace):
        logging.shutdown()
        os._exit(0)


def _close(services: Services, responder: SlackResponder, process: Process) -> None:
    """With nothing left running, the claims still held (cut short by the grace) are handed
    on now rather than when their leases run out; then retention stops and storage closes."""
    responder.stop(release=process.drain.busy() == 0)
    process.stop()
    services.close()


def serve(settings: Settings, *, host: str, port: int) -> int:
    """`shopmate serve`: the Events API over HTTP until SIGTERM/SIGINT, then drain and exit 0."""
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "ANTHROPIC_API_KEY")
    services = build_services(settings)
    process = Process(services)
    app, responder = build_app(services, drain=process.drain)
    start_up(services, responder, app.client, process)
    server = HttpServer(
        make_wsgi_app(
            app,
            max_body_bytes=settings.max_body_bytes,
            signing_secret=settings.slack_signing_secret,
            drain=process.drain,
        ),
        host=host,
        port=port,
        threads=max(8, settings.slack_workers // 2),
        max_body_bytes=settings.max_body_bytes,
    )
    stop = stop_on_signals()
    server.start()
    logger.info(
        "ShopMate listening on %s%s (health: %s/healthz)", server.url, EVENTS_PATH, server.url
    )
    try:
        _wait(stop)
        # New events get 503 from here on (Slack re-sends them); answers in flight go on.
        _drain(settings, process)
        server.stop()
    finally:
        _close(services, responder, process)
    logger.info("ShopMate stopped")
    return 0


def run_socket_mode(settings: Settings) -> int:
    """`shopmate run`: Socket Mode until SIGTERM/SIGINT, then drain and exit 0.

    Uses ShopMateSocketModeHandler (bot/slack/socket_mode.py): Bolt's default handler
    spins and stays deaf for about a minute after a network drop.
    """
    from bot.slack.socket_mode import ShopMateSocketModeHandler

    settings.require("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "ANTHROPIC_API_KEY")
    services: Services = build_services(settings)
    process = Process(services)
    app, responder = build_app(services, socket_mode=True, drain=process.drain)
    start_up(services, responder, app.client, process)
    assert settings.slack_app_token is not None
    handler = ShopMateSocketModeHandler(
        app, settings.slack_app_token, ping_interval=settings.socket_ping_interval
    )
    stop = stop_on_signals()
    try:
        logger.info("ShopMate connecting to Slack with Socket Mode")
        try:
            handler.connect()
        except Exception as error:
            # Once connected, drops are retried for ever; failing at start is a setup
            # problem (a wrong SLACK_APP_TOKEN, no route to Slack) the operator must see.
            logger.error("Could not connect to Slack with Socket Mode: %s", error)
            handler.close()
            return 1
        logger.info("ShopMate connected to Slack with Socket Mode")
        _wait(stop)
        # Closing the connection first makes Slack send new events to other connections;
        # events already acked are counted in the drain and answered.
        handler.close()
        _drain(settings, process)
    finally:
        _close(services, responder, process)
    logger.info("ShopMate stopped")
    return 0
