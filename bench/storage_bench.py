"""Item 5: storage. Load and append for threads of 10, 100 and 1,000 messages, the dedupe
check, and database bytes per 1,000 messages, on a fresh SQLite file (WAL, as the bot runs)."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import Summary
from storage import open_storage

# One realistic exchange: question, tool call, tool result, answer (4 messages).
_QUESTION = "Hi, where is my order ORD-1001? It was meant to arrive on Tuesday."
_TOOL_USE: list[dict[str, Any]] = [
    {"type": "text", "text": "Let me look that up for you."},
    {
        "type": "tool_use",
        "id": "toolu_01ABCDEFGHIJKLMNOPQRSTUV",
        "name": "get_order",
        "input": {"order_id": "ORD-1001"},
    },
]
_TOOL_RESULT = [
    {
        "type": "tool_result",
        "tool_use_id": "toolu_01ABCDEFGHIJKLMNOPQRSTUV",
        "content": json.dumps(
            {
                "order_id": "ORD-1001",
                "status": "shipped",
                "item": "Sunset Gradient Tee (M, Orange)",
                "estimated_delivery": "2 Apr",
                "tracking_number": "RM493827651GB",
                "track_url": "https://track.royalmail.com/tracking/RM493827651GB",
            }
        ),
    }
]
_ANSWER = (
    "Good news — your **Sunset Gradient Tee (M, Orange)** has been shipped and is estimated to "
    "arrive by 2 Apr. Your Royal Mail tracking number is RM493827651GB: you can follow it at "
    "https://track.royalmail.com/tracking/RM493827651GB.\n\nTracking can take a few hours to "
    "update after dispatch, so don't worry if it looks quiet at first. Is there anything else I "
    "can help you with?"
)
_TURN = [
    {"role": "assistant", "content": _TOOL_USE},
    {"role": "user", "content": _TOOL_RESULT},
    {"role": "assistant", "content": [{"type": "text", "text": _ANSWER}]},
]
_USAGE = {"input_tokens": 900, "output_tokens": 120, "model_calls": 2}


@dataclass
class StorageResult:
    sizes: tuple[int, ...]
    load_ms: dict[int, Summary] = field(default_factory=dict)
    append_user_ms: dict[int, Summary] = field(default_factory=dict)
    append_turn_ms: dict[int, Summary] = field(default_factory=dict)
    claim_new_ms: Summary | None = None
    claim_dup_ms: Summary | None = None
    bytes_per_1000: float = 0.0
    journal: str = ""


def _fill(storage: Any, key: str, messages: int) -> None:
    """Append whole exchanges (4 messages each), then single questions, up to `messages`."""
    count = 0
    while count + 4 <= messages:
        storage.conversations.add_user_message(key, _QUESTION, user="U1", team="T1")
        storage.conversations.add_turn(key, _TURN, usage=_USAGE, user="U1", team="T1")
        count += 4
    while count < messages:
        storage.conversations.add_user_message(key, _QUESTION, user="U1", team="T1")
        count += 1


def _timed_ms(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _file_bytes(path: Path) -> int:
    """Main database file size after folding the WAL back in (what the data costs at rest)."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def run(sizes: tuple[int, ...] = (10, 100, 1000), reps: int = 200) -> StorageResult:
    result = StorageResult(sizes=sizes)
    with tempfile.TemporaryDirectory(prefix="shopmate-bench-storage-") as tmp:
        path = Path(tmp) / "shopmate.db"
        storage = open_storage(path)
        try:
            with sqlite3.connect(path) as other:
                result.journal = str(other.execute("PRAGMA journal_mode").fetchone()[0])
            for size in sizes:
                key = f"slack:T1:C1:{size}.000100"
                _fill(storage, key, size)
                assert len(storage.conversations.history(key)) == size
                storage.conversations.history(key)  # warm the page cache, as a live bot has
                result.load_ms[size] = Summary.of(
                    _timed_ms(lambda k=key: storage.conversations.history(k)) for _ in range(reps)
                )
                # Appends go to a copy thread of the same size, so every load above saw `size`.
                append_key = f"slack:T1:C2:{size}.000100"
                _fill(storage, append_key, size)
                user_ms, turn_ms = [], []
                for _ in range(max(1, reps // 4)):
                    user_ms.append(
                        _timed_ms(
                            lambda k=append_key: storage.conversations.add_user_message(
                                k, _QUESTION, user="U1", team="T1"
                            )
                        )
                    )
                    turn_ms.append(
                        _timed_ms(
                            lambda k=append_key: storage.conversations.add_turn(
                                k, _TURN, usage=_USAGE, user="U1", team="T1"
                            )
                        )
                    )
                result.append_user_ms[size] = Summary.of(user_ms)
                result.append_turn_ms[size] = Summary.of(turn_ms)

            # The dedupe check every incoming event makes: a new key, then a re-delivery.
            new_ms, dup_ms = [], []
            for i in range(reps):
                event_key = f"slack:T1:C1:1700000000.{i:06d}"
                new_ms.append(
                    _timed_ms(
                        lambda k=event_key: storage.claims.claim(
                            k, owner="bench", thread_key=k, lease_seconds=30
                        )
                    )
                )
                dup_ms.append(
                    _timed_ms(
                        lambda k=event_key: storage.claims.claim(
                            k, owner="bench", thread_key=k, lease_seconds=30
                        )
                    )
                )
            result.claim_new_ms = Summary.of(new_ms)
            result.claim_dup_ms = Summary.of(dup_ms)

            # Bytes per 1,000 messages: grow a fresh thread by 1,000 realistic messages.
            before = _file_bytes(path)
            _fill(storage, "slack:T1:C3:1.000100", 1000)
            after = _file_bytes(path)
            result.bytes_per_1000 = float(after - before)
        finally:
            storage.close()
    return result
