"""Keeps optional libraries a serving process never uses out of it, for memory.

The anthropic SDK imports its optional aiohttp transport whenever aiohttp is installed (here
it comes with the dev extra, for the bench's Socket Mode comparison), and aiohttp with yarl,
multidict, frozenlist and propcache stays resident: about 9 MB of `shopmate serve`'s ~113 MB.
ShopMate uses the SDK's synchronous httpx2 client only (and Socket Mode through slack_sdk's
websocket-client one), so `serve` and `run` mark these modules as
absent before anything imports them (`sys.modules[name] = None`, which makes `import name`
raise ImportError), and the SDK takes its own documented fallback for a missing extra. An
install without the dev extra behaves the same way without this. Checked by
tests/slack/test_serve_memory.py against a running `shopmate serve`, and
tests/slack/test_run.py against a running `shopmate run`.
"""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger(__name__)

# Optional imports of the SDKs that `serve` and `run` (sync clients) never use.
UNUSED_IN_SERVE: tuple[str, ...] = ("aiohttp",)


def leave_out(names: tuple[str, ...] = UNUSED_IN_SERVE) -> list[str]:
    """Make later `import name` fail for modules not imported yet; returns those left out."""
    left_out = []
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # "absent", per importlib
            left_out.append(name)
    if left_out:
        logger.debug("Left out unused optional modules: %s", ", ".join(left_out))
    return left_out
