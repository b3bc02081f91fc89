"""The scripted model's hand-off rules: when ShopMate offers the hand-off tools, use them.

A size change after shipping becomes `request_size_exchange` (after the exchange policy), a
refund `request_refund`, an angry customer or a complaint `escalate_to_human`; the answer that
follows relays the tool's `tell_the_customer`. Only when the request offers those tools: a
request with `get_order` alone (the seed's) still gets the old refusal with the email line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fakes.claude import reading
from fakes.claude.policy_rules import best_section, quote, sections_in_system
from fakes.claude.replies import ESCALATION_LINE, ToolCall, make_id

HANDOFF_TOOLS = frozenset({"escalate_to_human", "request_size_exchange", "request_refund"})

_SIZE_RE = re.compile(
    r"\b(extra[- ]small|extra[- ]large|x-large|xx-large|2xl|xxl|xl|xs|small|medium|large|"
    r"size (s|m|l))\b",
    re.IGNORECASE,
)
_SIZE_CODES = {
    "extra small": "XS",
    "extra-small": "XS",
    "xs": "XS",
    "small": "S",
    "size s": "S",
    "medium": "M",
    "size m": "M",
    "large": "L",
    "size l": "L",
    "xl": "XL",
    "x-large": "XL",
    "extra large": "XL",
    "extra-large": "XL",
    "xxl": "XXL",
    "2xl": "XXL",
    "xx-large": "XXL",
}
_SIZE_ASK_RE = re.compile(r"\b(chang|swap|exchang|instead|size)\w*", re.IGNORECASE)
_REFUND_RE = re.compile(r"\b(refund\w*|money back)\b", re.IGNORECASE)
_ANGRY_RE = re.compile(
    r"\b(angry|furious|unacceptable|ridiculous|disgusted|outraged|worst|awful|terrible|"
    r"complain\w*|fed up)\b",
    re.IGNORECASE,
)

EXCHANGE_POLICY_TEXT = (
    "Once an order has shipped we can't change it in transit, but our exchange policy covers "
    "this: unworn items can be exchanged for another size within 30 days, with a free returns "
    "label."
)


def plan(
    request: dict[str, Any], messages: list[dict[str, Any]], text: str
) -> tuple[str, ToolCall] | None:
    """(preface, tool call) for a message that needs a person, or None."""
    tools = reading.tool_names(request)
    if not (tools & HANDOFF_TOOLS) or not reading.tools_allowed(request):
        return None
    order_id = (reading.order_ids(text) or [None])[0] or last_order_id(messages)
    seed = f"{len(messages)}|{text}"
    size = _SIZE_RE.search(text)
    if size and _SIZE_ASK_RE.search(text) and order_id and "request_size_exchange" in tools:
        new_size = _SIZE_CODES.get(size.group(0).lower(), size.group(0).upper())
        call = ToolCall(
            "request_size_exchange",
            {"order_id": order_id, "new_size": new_size, "reason": text[:500]},
            make_id("toolu_", "exchange|" + seed),
        )
        return f"{policy_sentence(request)} I'll ask our team to approve the exchange.", call
    if _REFUND_RE.search(text) and order_id and "request_refund" in tools:
        call = ToolCall(
            "request_refund",
            {"order_id": order_id, "reason": text[:500]},
            make_id("toolu_", "refund|" + seed),
        )
        return "I can't issue refunds myself, so I'll ask our team to approve one.", call
    if _ANGRY_RE.search(text) and "escalate_to_human" in tools:
        tool_input: dict[str, Any] = {
            "reason": "complaint" if re.search(r"complain", text, re.I) else "angry_customer",
            "summary": f"Customer says: {text[:400]}",
        }
        if order_id:
            tool_input["order_id"] = order_id
        call = ToolCall("escalate_to_human", tool_input, make_id("toolu_", "escalate|" + seed))
        return "I'm really sorry about this — let me get a person on our team involved.", call
    return None


def policy_sentence(request: dict[str, Any]) -> str:
    """The exchange policy as the system prompt states it (a knowledge section), or the default."""
    sections = sections_in_system(request)
    section = best_section("exchange a size after it has shipped", sections)
    return quote(section) if section is not None else EXCHANGE_POLICY_TEXT


def relay(outcomes: list[Any]) -> str | None:
    """The answer after hand-off tool results (parsed `_ToolOutcome`s): what each one says to
    tell the customer, or the email line if it failed without saying; None if there were none."""
    said = [
        str((outcome.data or {}).get("tell_the_customer") or ESCALATION_LINE)
        for outcome in outcomes
        if outcome.tool_name in HANDOFF_TOOLS
    ]
    return " ".join(dict.fromkeys(said)) or None


def last_order_id(messages: list[dict[str, Any]]) -> str | None:
    """The order most recently looked up in the conversation (what "it" refers to)."""
    for message in reversed(messages):
        for block in reversed(reading.content_blocks(message.get("content"))):
            if block.get("type") != "tool_result":
                continue
            content = block.get("content")
            text = content if isinstance(content, str) else reading.text_of(content)
            try:
                data = json.loads(text)
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("order_id") and "error" not in data:
                return str(data["order_id"])
    return None
