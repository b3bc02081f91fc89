"""Item 8: Socket Mode under faults. Each of Bolt's Socket Mode handlers (and ShopMate's
choice) runs in its own process against the fake Socket Mode server; the fake drops the
connection abruptly (TCP closed with no close frame; a silent partition) and hands over with
`disconnect`/`refresh_requested`. Measured: time until a new connection, CPU of the
handler's process meanwhile, time until an event sent after the drop is acked, and the ack
latency of the first event on the connection that replaced a refreshed one.

Run a handler alone: `python -m bench.socket_mode --child NAME --api-url URL`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.simulators.slack import FakeSlack
from bot.simulators.slack_events import mention_event, next_ts
from bot.simulators.socket_mode import FakeSocketMode

HANDLERS = ("builtin", "websocket_client", "aiohttp", "websockets", "shopmate")
DROPS = ("eof", "silent")
APP_TOKEN = "xapp-bench"
TEAM = "T0001"


@dataclass
class DropResult:
    mode: str
    reconnect_s: float | None  # drop → hello on a new connection; None: not within the cap
    cpu_pct: float | None  # the handler process's CPU between the drop and the reconnection
    answered_s: float | None  # drop → an event sent right after the drop is acked


@dataclass
class HandlerResult:
    handler: str
    first_ack_ms: float | None = None
    drops: list[DropResult] = field(default_factory=list)
    handover_ack_ms: float | None = None  # first event on the replacing connection
    handover_resent: bool | None = None  # was that event re-sent (not acked within 3 s)?
    error: str | None = None


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _event(text: str) -> dict:
    return mention_event(team=TEAM, channel="C0001", user="U0USER", text=text, ts=next_ts())


def measure(handler: str, *, cap_s: float = 75.0, drops: tuple[str, ...] = DROPS) -> HandlerResult:
    """One handler through: first event, each abrupt drop, a refresh hand-over."""
    result = HandlerResult(handler)
    with FakeSlack(team_id=TEAM) as slack, FakeSocketMode() as socket_mode:
        slack.socket_mode = socket_mode
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        command = [sys.executable, "-m", "bench.socket_mode", "--child", handler]
        child = subprocess.Popen(
            [*command, "--api-url", slack.api_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if not socket_mode.wait_for(lambda: bool(socket_mode.open_connections()), 30):
                result.error = "never connected"
                return result
            first = socket_mode.send_event(_event("first"))
            if socket_mode.wait_for(lambda: socket_mode.acked(first), 15):
                result.first_ack_ms = socket_mode.acks_for(first)[0].latency * 1000
            for mode in drops:
                result.drops.append(_drop(socket_mode, child.pid, mode, cap_s))
                if result.drops[-1].reconnect_s is None:
                    return result
            result.handover_ack_ms, result.handover_resent = _handover(socket_mode)
        finally:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)
    return result


def _drop(socket_mode: FakeSocketMode, pid: int, mode: str, cap_s: float) -> DropResult:
    cpu0, t0 = _cpu_s(pid), time.monotonic()
    socket_mode.drop(mode)
    reconnected = socket_mode.wait_for(lambda: socket_mode.connected_since(t0) is not None, cap_s)
    cpu1, t1 = _cpu_s(pid), time.monotonic()
    if not reconnected:
        return DropResult(mode, None, 100 * (cpu1 - cpu0) / (t1 - t0), None)
    conn = socket_mode.connected_since(t0)
    assert conn is not None and conn.hello_sent is not None
    after = socket_mode.send_event(_event(f"after {mode}"))
    acked = socket_mode.wait_for(lambda: socket_mode.acked(after), cap_s)
    answered = socket_mode.acks_for(after)[0].time - t0 if acked else None
    return DropResult(mode, conn.hello_sent - t0, 100 * (cpu1 - cpu0) / (t1 - t0), answered)


def _handover(socket_mode: FakeSocketMode) -> tuple[float | None, bool | None]:
    t0 = time.monotonic()
    socket_mode.disconnect("refresh_requested")
    if not socket_mode.wait_for(lambda: socket_mode.connected_since(t0) is not None, 30):
        return None, None
    envelope = socket_mode.send_event(_event("after refresh"))
    if not socket_mode.wait_for(lambda: socket_mode.acked(envelope), 20):
        return None, True
    ack = socket_mode.acks_for(envelope)[0]
    resent = len(socket_mode.deliveries_of(envelope)) > 1
    first = socket_mode.deliveries_of(envelope)[0]
    return (ack.time - first.time) * 1000, resent


def run(handlers: tuple[str, ...] = HANDLERS, *, cap_s: float = 75.0) -> list[HandlerResult]:
    return [measure(name, cap_s=cap_s) for name in handlers]


def format_table(results: list[HandlerResult]) -> str:
    def s(value: float | None, unit: str = "s") -> str:
        if value is None:
            return "never"
        return f"{value:.0f} ms" if unit == "ms" else f"{value:.1f} s"

    lines = [
        "| handler | first ack | "
        + " | ".join(f"{m}: reconnect / CPU / answered" for m in DROPS)
        + " | refresh: ack on new connection |",
        "|---|---|" + "---|" * len(DROPS) + "---|",
    ]
    for r in results:
        cells = [r.handler, s(r.first_ack_ms, "ms")]
        for mode in DROPS:
            d = next((d for d in r.drops if d.mode == mode), None)
            if d is None:
                cells.append("not reached")
            else:
                cpu = "?" if d.cpu_pct is None else f"{d.cpu_pct:.0f}%"
                cells.append(f"{s(d.reconnect_s)} / {cpu} / {s(d.answered_s)}")
        ack = s(r.handover_ack_ms, "ms") + (" (re-sent)" if r.handover_resent else "")
        cells.append(ack if r.drops and r.drops[-1].reconnect_s is not None else "not reached")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the child


def _child(handler: str, api_url: str) -> None:
    logging.basicConfig(level=logging.WARNING)
    if handler in ("aiohttp", "websockets"):
        asyncio.run(_async_child(handler, api_url))
        return
    from slack_bolt import App
    from slack_sdk import WebClient

    app = App(client=WebClient(token="xoxb-bench", base_url=api_url))

    @app.event("app_mention")
    def on_mention(event: dict) -> None:
        """Acked by Bolt before this runs; nothing to do."""

    if handler == "builtin":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(app, APP_TOKEN).start()
    elif handler == "websocket_client":
        from slack_bolt.adapter.socket_mode.websocket_client import (
            SocketModeHandler as WebSocketClientHandler,
        )

        WebSocketClientHandler(app, APP_TOKEN).start()
    elif handler == "shopmate":
        from bot.slack.socket_mode import ShopMateSocketModeHandler

        ShopMateSocketModeHandler(app, APP_TOKEN).start()
    else:
        raise SystemExit(f"unknown handler {handler}")


async def _async_child(handler: str, api_url: str) -> None:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(client=AsyncWebClient(token="xoxb-bench", base_url=api_url))

    @app.event("app_mention")
    async def on_mention(event: dict) -> None:
        """Acked by Bolt before this runs; nothing to do."""

    if handler == "aiohttp":
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
    else:
        from slack_bolt.adapter.socket_mode.websockets import AsyncSocketModeHandler
    await AsyncSocketModeHandler(app, APP_TOKEN).start_async()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.socket_mode")
    parser.add_argument("--child", choices=HANDLERS)
    parser.add_argument("--api-url")
    parser.add_argument("--handler", action="append", choices=HANDLERS)
    parser.add_argument("--cap", type=float, default=75.0)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.api_url)
        return 0
    logging.basicConfig(level=logging.WARNING)
    results = run(tuple(args.handler or HANDLERS), cap_s=args.cap)
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
