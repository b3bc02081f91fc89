"""How a Web API call's arguments arrive and how the fake refuses them: the bottom of fakes/slack.

`SlackError` is what a method handler raises to answer `{"ok": false, "error": ...}`;
`present`/`require` read form or JSON arguments the way Slack does (an empty string is absent);
`parse_chunks` reads a JSON-or-list argument. Every other module of the fake builds on this one
and it imports none of them, so the fake's modules import one another as a tree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Arguments a form-encoded call carries as JSON text (Slack decodes them before checking).
JSON_ARGS = frozenset({"blocks", "chunks", "attachments", "metadata", "loading_messages", "view"})


class SlackError(Exception):
    """Raised inside a method handler to answer `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def present(args: Mapping[str, Any], key: str) -> bool:
    """True when the call carries `key` with a value (Slack treats "" as missing)."""
    value = args.get(key)
    return value is not None and value != ""


def require(args: Mapping[str, Any], *keys: str) -> None:
    """Refuse the call as Slack does when a required argument is missing."""
    for key in keys:
        if not present(args, key):
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] missing required field: {key}"]},
            )


def parse_chunks(raw: Any) -> list[dict[str, Any]]:
    """A list of objects from a JSON string or a list (None is no chunks)."""
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise SlackError("invalid_arguments") from exc
    if not isinstance(raw, list) or not all(isinstance(c, Mapping) for c in raw):
        raise SlackError("invalid_arguments")
    return [dict(c) for c in raw]
