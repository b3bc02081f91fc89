"""Token counts and prompt caching as the Messages API reports them (usage, cache hits)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from fakes.claude.media import Media, inspect, is_media

logger = logging.getLogger(__name__)

_CACHE_LOOKBACK_BLOCKS = 20  # the API looks this many blocks back from a breakpoint for a hit


# --------------------------------------------------------------------------- token accounting


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def tokens_of(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True)
class _Segment:
    """One cacheable unit of the prompt (a tool, a system block, a message block)."""

    text: str
    tokens: int
    cache_control: dict[str, Any] | None


def _segments(body: dict[str, Any]) -> list[_Segment]:
    """The prompt in the API's cache order: tools, then system, then messages."""
    out: list[_Segment] = []

    def add(kind: str, block: Any) -> None:
        cc = block.get("cache_control") if isinstance(block, dict) else None
        text = kind + _canonical(_strip_cache_control(block))
        tokens = tokens_of(text)
        if is_media(block):
            # An image or PDF costs by its pixels and pages (Anthropic's estimate), not by
            # the length of its base64.
            media = inspect(block, "media")
            tokens = media.tokens if isinstance(media, Media) else tokens
        out.append(_Segment(text, tokens, cc if isinstance(cc, dict) else None))

    for tool in body.get("tools") or []:
        add("tool:", tool)
    system = body.get("system")
    if isinstance(system, str) and system:
        add("system:", {"type": "text", "text": system})
    elif isinstance(system, list):
        for block in system:
            add("system:", block)
    for index, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for position, block in enumerate(blocks or []):
            marker = f"{message.get('role')}#{index}:" if position == 0 else "+:"
            add(marker, block)
    return out


def count_input_tokens(body: dict[str, Any]) -> int:
    """Approximate input tokens: about four characters of JSON prompt per token."""
    return max(1, sum(s.tokens for s in _segments(body)))


@dataclass(frozen=True)
class _Usage:
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    one_hour: bool

    def as_dict(self, output_tokens: int) -> dict[str, Any]:
        creation = self.cache_creation_input_tokens
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": creation,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 0 if self.one_hour else creation,
                "ephemeral_1h_input_tokens": creation if self.one_hour else 0,
            },
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }


class PromptCache:
    """Prefix-hash -> expiry, emulating prompt caching closely enough for cost benchmarks."""

    def __init__(self, min_tokens: int, ttl_s: float) -> None:
        self._min_tokens = min_tokens
        self._ttl_s = ttl_s
        self._entries: dict[str, float] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def account(self, body: dict[str, Any]) -> _Usage:
        """Split the prompt into read / written / uncached tokens and remember what was written."""
        segments = _segments(body)
        total = max(1, sum(s.tokens for s in segments))
        breakpoints = [i for i, s in enumerate(segments) if s.cache_control is not None]
        if not breakpoints:
            return _Usage(total, 0, 0, one_hour=False)
        hashes: list[str] = []
        cumulative: list[int] = []
        running = hashlib.sha256(str(body.get("model", "")).encode())
        tokens = 0
        for segment in segments:
            running.update(segment.text.encode("utf-8"))
            hashes.append(running.hexdigest())
            tokens += segment.tokens
            cumulative.append(tokens)

        now = time.monotonic()
        with self._lock:
            read = 0
            hit_hashes: list[str] = []
            for bp in breakpoints:
                for j in range(bp, max(-1, bp - _CACHE_LOOKBACK_BLOCKS), -1):
                    if self._entries.get(hashes[j], 0.0) > now:
                        hit_hashes.append(hashes[j])
                        read = max(read, cumulative[j])
                        break
            last = breakpoints[-1]
            written = 0
            if cumulative[last] >= self._min_tokens:
                written = max(0, cumulative[last] - read)
            for bp in breakpoints:
                if cumulative[bp] >= self._min_tokens:
                    ttl = self._ttl_s
                    if (segments[bp].cache_control or {}).get("ttl") == "1h":
                        ttl = max(ttl, 3600.0)
                    self._entries[hashes[bp]] = now + ttl
            for h in hit_hashes:  # a hit refreshes the entry, as the API does
                self._entries[h] = max(self._entries[h], now + self._ttl_s)
        one_hour = (segments[last].cache_control or {}).get("ttl") == "1h"
        return _Usage(total - read - written, written, read, one_hour)
