"""Item 2: the seed tutorial's `stream_chat`, reproduced to compare against.

Copied from the seed (/work/shared/seed/000_b922beab74f6a954.txt, "Step 2 — The Bot"): it makes
non-streamed calls until Claude wants no tool, throws that answer away, then makes a third,
streamed call for the text the user sees. Only what stops it running is fixed, each marked FIX:
`text_stream` is an attribute, not a method, and the final call must pass `tools` because the
history holds tool blocks (the API, and the fake, reject it otherwise). Everything else, the
wasted call included, is kept: that is what is being measured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic

SYSTEM = """You are ShopMate, the customer support assistant for ThreadCo —
a sustainable UK T-shirt brand. Be concise, warm, and helpful.
When a customer mentions an order number (format: ORD-XXXX), use the
get_order tool to look it up before responding about its status.
Never guess order status — always look it up.
If you cannot resolve an issue, escalate: "I'll pass this to our team
at hello@threadco.com — you'll hear back within 1 business day."
"""

TOOLS = [
    {
        "name": "get_order",
        "description": (
            "Look up a ThreadCo order by order ID. Returns status, item, ETA, and tracking info."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "order_id": {"type": "string", "description": "The order ID, e.g. ORD-1001"}
            },
            "required": ["order_id"],
        },
    }
]

ORDERS = {
    "ORD-1001": {
        "status": "shipped",
        "item": "Sunset Gradient Tee (M, Orange)",
        "eta": "2 Apr",
        "tracking": "RM493827651GB",
    },
    "ORD-1002": {
        "status": "processing",
        "item": "Wave Print Crop Tee (S, Slate)",
        "eta": "4 Apr",
        "tracking": None,
    },
    "ORD-1003": {
        "status": "delivered",
        "item": "Midnight Pocket Tee (L, Black)",
        "eta": None,
        "tracking": "RM381726495GB",
    },
}


def get_order(order_id: str) -> dict[str, Any]:
    order = ORDERS.get(order_id.upper())
    if not order:
        return {
            "error": f"Order {order_id} not found. "
            "Ask the customer to double-check their confirmation email."
        }
    result: dict[str, Any] = {
        "order_id": order_id,
        "status": order["status"],
        "item": order["item"],
    }
    if order["eta"]:
        result["estimated_delivery"] = order["eta"]
    if order["tracking"]:
        result["tracking_number"] = order["tracking"]
        result["track_url"] = f"https://track.royalmail.com/tracking/{order['tracking']}"
    return result


def stream_chat(
    client: anthropic.Anthropic, history: list[dict[str, Any]], user_message: str
) -> Iterator[Any]:
    """The seed's generator: text chunks, then the updated history as the last item."""
    # Handle tool calls without streaming (tool round-trips are fast)
    history = [*history, {"role": "user", "content": user_message}]
    response = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=512,
        system=SYSTEM,
        tools=TOOLS,
        messages=history,
    )
    while response.stop_reason == "tool_use":
        tool_block = next(b for b in response.content if b.type == "tool_use")
        tool_result = get_order(tool_block.input["order_id"])
        history += [
            {"role": "assistant", "content": response.content},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_block.id,
                        "content": json.dumps(tool_result),
                    }
                ],
            },
        ]
        response = client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=512,
            system=SYSTEM,
            tools=TOOLS,
            messages=history,
        )

    # Stream the final text reply
    full = ""
    with client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=512,
        system=SYSTEM,
        tools=TOOLS,  # FIX: history holds tool_use/tool_result blocks, so tools must be passed
        messages=history,
    ) as s:
        for text in s.text_stream:  # FIX: an attribute, not a method
            full += text
            yield text
    history += [{"role": "assistant", "content": full}]
    yield history  # last yield is the updated history list


@dataclass
class SeedRun:
    """One question through the seed's stream_chat, timed from the moment it was asked."""

    started: float
    first_chunk: float | None = None
    finished: float | None = None
    text: str = ""
    request_times: list[float] = field(default_factory=list)

    @property
    def first_text_s(self) -> float | None:
        return None if self.first_chunk is None else self.first_chunk - self.started

    @property
    def total_s(self) -> float | None:
        return None if self.finished is None else self.finished - self.started


def ask(client: anthropic.Anthropic, question: str) -> SeedRun:
    run = SeedRun(started=time.monotonic())
    for item in stream_chat(client, [], question):
        if isinstance(item, str):
            if run.first_chunk is None and item:
                run.first_chunk = time.monotonic()
            run.text += item
    run.finished = time.monotonic()
    return run
