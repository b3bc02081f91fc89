"""`shopmate api`: the HTTP API under uvicorn, with our logging and a clean shutdown."""

from __future__ import annotations

import logging
import socket

import uvicorn

from bot.api.app import create_app
from bot.leases import new_owner_id
from bot.process import Process
from bot.settings import Settings
from bot.wiring import build_services

logger = logging.getLogger(__name__)


def serve_api(settings: Settings, *, host: str, port: int) -> int:
    """Serve until SIGINT/SIGTERM; running turns finish and are stored before exit."""
    services = build_services(settings)
    # Retention and the drain are the process's, whichever front it serves.
    process = Process(services).start()
    try:
        app = create_app(services, owner=new_owner_id(), drain=process.drain)
        # Bind first, so `--port 0` works and the log says the real port.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # listening before we say so: an early client waits, not refused
        bound = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_config=None,  # keep ShopMate's handler (it masks secrets)
            access_log=False,  # request lines carry no key names; we log turns ourselves
            # Streams in flight get the process's grace; their turns are then still
            # finished and stored (the lifespan waits for the drain's work).
            timeout_graceful_shutdown=settings.shutdown_grace,
        )
        server = uvicorn.Server(config)
        shown = f"[{host}]" if ":" in host else host
        logger.info("ShopMate API listening on http://%s:%d (docs at /docs)", shown, bound)
        server.run(sockets=[sock])
    finally:
        process.stop()
        services.close()
    return 0
