"""Product descriptions in ThreadCo's voice: one product, a live catalogue run, or a Message Batch.

The pieces, one concern each:
- `prompt`: the voice, the few-shot file, request params, and the hash that keys stored results;
- `voice`: checks every description against the house rules;
- `catalogue`: reads products.csv (bad rows by line number) and writes descriptions.csv;
- `service`: `Copywriter`, one product end to end (stored result, call, check, one retry, store);
  every front (CLI, batch collect, the HTTP API's `POST /describe`) goes through it;
- `live`: many products at once, bounded concurrency, resumable;
- `batch`: submit / status / collect with the Message Batches API.

Its names load on first use (PEP 562): `shopmate --help`, `orders`, `stats` and the other commands
that never call Claude import `bot.cli.describe` only to define their options, and the anthropic
SDK alone takes about a second to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.describe.catalogue import Product
    from bot.describe.prompt import Prompt, load_prompt
    from bot.describe.service import Copywriter, Outcome

__all__ = ["Copywriter", "Outcome", "Product", "Prompt", "load_prompt"]

_HOMES = {
    "Copywriter": "bot.describe.service",
    "Outcome": "bot.describe.service",
    "Product": "bot.describe.catalogue",
    "Prompt": "bot.describe.prompt",
    "load_prompt": "bot.describe.prompt",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
