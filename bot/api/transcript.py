"""A stored conversation as plain JSON for API clients: who said what, and which tools ran.

Storage keeps the exact content blocks Claude takes (tool_use, tool_result); a client wants
turns it can show. Tool results are folded into the assistant entry that asked for them, and
the assistant messages of one answer (before and after its tool calls) become one entry.
"""

from __future__ import annotations

from typing import Any


def _text(blocks: list[dict[str, Any]]) -> str:
    return "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")


def transcript(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`[{"role", "text", "tool_calls": [{"name", "input", "is_error"}]}]` from stored history."""
    entries: list[dict[str, Any]] = []
    calls_by_id: dict[str, dict[str, Any]] = {}
    for message in history:
        blocks = message["content"]
        if isinstance(blocks, str):
            blocks = [{"type": "text", "text": blocks}]
        results = [b for b in blocks if b.get("type") == "tool_result"]
        for result in results:
            call = calls_by_id.get(str(result.get("tool_use_id")))
            if call is not None:
                call["is_error"] = bool(result.get("is_error", False))
        text = _text(blocks)
        uses = [b for b in blocks if b.get("type") == "tool_use"]
        if message["role"] == "user":
            if text or not results:
                entries.append({"role": "user", "text": text, "tool_calls": []})
            continue
        if not entries or entries[-1]["role"] != "assistant":
            entries.append({"role": "assistant", "text": "", "tool_calls": []})
        entry = entries[-1]
        if text:
            entry["text"] = f"{entry['text']}\n\n{text}" if entry["text"] else text
        for use in uses:
            call = {"name": use.get("name"), "input": use.get("input"), "is_error": False}
            calls_by_id[str(use.get("id"))] = call
            entry["tool_calls"].append(call)
    return entries
