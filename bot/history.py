"""Conversation history as the Messages API wants it: valid, within budget, cache-marked."""

from __future__ import annotations

import base64
import copy
import json
import logging
from typing import Any

logger = logging.getLogger(__name__)

Message = dict[str, Any]
EPHEMERAL = {"type": "ephemeral"}
_MISSING_RESULT = "This tool call was interrupted before it returned a result."


def blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Content as a list of blocks; a plain string becomes one text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content)


def is_tool_result_message(message: Message) -> bool:
    return message["role"] == "user" and any(
        b.get("type") == "tool_result" for b in blocks(message["content"])
    )


def repair(history: list[Message]) -> list[Message]:
    """Make stored history a valid request whatever happened before.

    A turn that failed leaves the user's message without an answer, so the next user
    message follows it directly: we merge such neighbours into one user turn. A `tool_use`
    without its `tool_result` (which storage never writes, but a hand-edited database might
    hold) gets an error result so the API accepts the history. A `tool_result` that answers
    no `tool_use` in the assistant message just before it (its question was dropped, e.g. with
    a leading assistant message) is dropped: the API refuses it. Leading assistant messages
    and empty messages are dropped.
    """
    out = _normalise(history)
    # Dropping an orphan result can empty a message, which can make a leading assistant
    # message whose own results then become orphans: repeat until nothing changes (each
    # round removes at least one block, so this ends).
    while True:
        pruned = _drop_orphan_tool_results(out)
        if pruned == out:
            break
        out = _normalise(pruned)
    return _answer_dangling_tool_uses(out)


def _normalise(history: list[Message]) -> list[Message]:
    """Block lists without empty text, starting with the user, roles alternating."""
    out: list[Message] = []
    for message in history:
        content = [b for b in blocks(message["content"]) if not _is_empty_text(b)]
        if not content:
            continue
        role = message["role"]
        if not out and role != "user":
            continue
        if out and out[-1]["role"] == role:
            out[-1] = {"role": role, "content": _merge(out[-1]["content"], content)}
        else:
            out.append({"role": role, "content": content})
    return out


def _drop_orphan_tool_results(history: list[Message]) -> list[Message]:
    """History without tool_result blocks that answer no tool_use in the message before."""
    out: list[Message] = []
    for index, message in enumerate(history):
        if message["role"] != "user":
            out.append(message)
            continue
        previous = history[index - 1] if index else None
        asked = set()
        if previous is not None and previous["role"] == "assistant":
            asked = {b.get("id") for b in previous["content"] if b.get("type") == "tool_use"}
        kept = [
            b
            for b in message["content"]
            if b.get("type") != "tool_result" or b.get("tool_use_id") in asked
        ]
        if len(kept) != len(message["content"]):
            logger.warning(
                "Repairing history: dropped %d tool_result block(s) answering no tool_use",
                len(message["content"]) - len(kept),
            )
        out.append({"role": "user", "content": kept})
    return out


def _merge(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # tool_result blocks must open a user turn; keep them ahead of any text.
    merged = first + second
    results = [b for b in merged if b.get("type") == "tool_result"]
    others = [b for b in merged if b.get("type") != "tool_result"]
    return results + others


def _answer_dangling_tool_uses(history: list[Message]) -> list[Message]:
    out: list[Message] = []
    for index, message in enumerate(history):
        out.append(message)
        if message["role"] != "assistant":
            continue
        wanted = [b["id"] for b in message["content"] if b.get("type") == "tool_use"]
        if not wanted:
            continue
        following = history[index + 1] if index + 1 < len(history) else None
        answered = set()
        if following is not None and following["role"] == "user":
            answered = {
                b.get("tool_use_id") for b in following["content"] if b.get("type") == "tool_result"
            }
        missing = [
            {"type": "tool_result", "tool_use_id": i, "content": _MISSING_RESULT, "is_error": True}
            for i in wanted
            if i not in answered
        ]
        if not missing:
            continue
        logger.warning("Repairing %d unanswered tool_use block(s) in history", len(missing))
        if following is not None and following["role"] == "user":
            history[index + 1] = {"role": "user", "content": missing + following["content"]}
        else:
            out.append({"role": "user", "content": missing})
    return out


def _is_empty_text(block: dict[str, Any]) -> bool:
    return block.get("type") == "text" and not block.get("text", "").strip()


def estimate_tokens(value: Any) -> int:
    """A cheap, deliberately generous token estimate (about 3.5 characters a token).

    Counting exactly would need a network call per request (`count_tokens`); the budget only
    has to keep requests well inside the context window, so over-estimating is the safe side.
    """
    if isinstance(value, list) and any(_is_media(block) for block in value):
        return sum(
            _media_tokens(block) if _is_media(block) else estimate_tokens([block])
            for block in value
        )
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return len(text) * 2 // 7 + 4


# Anthropic's guides: an image costs about width × height / 750 tokens, at most about 1,600
# once the API has fitted it to 1.15 megapixels; a PDF page 1,500-3,000 (its text and its
# picture). Counting base64 characters instead would make one screenshot look like 100,000
# tokens and push the whole thread out of the budget.
IMAGE_TOKENS = 1_600
PDF_PAGE_TOKENS = 3_000


def _is_media(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") in ("image", "document")


def _media_tokens(block: dict[str, Any]) -> int:
    if block.get("type") == "image":
        return IMAGE_TOKENS
    source = block.get("source") or {}
    if source.get("type") == "base64" and isinstance(source.get("data"), str):
        try:
            return PDF_PAGE_TOKENS * _pdf_pages(source["data"])
        except ValueError:
            pass
    return PDF_PAGE_TOKENS


# Pages of the PDFs seen lately, by (length, hash) of their base64: the budget is checked
# before every model call, and decoding a 10 MB PDF each time would redo the same work.
_PDF_PAGES: dict[tuple[int, int], int] = {}
_PDF_PAGES_KEPT = 256


def _pdf_pages(data: str) -> int:
    """The estimated page count of a base64 PDF; ValueError if it is not valid base64."""
    key = (len(data), hash(data))
    pages = _PDF_PAGES.get(key)
    if pages is None:
        from bot.attachments.pdf import estimate_pages

        pages = estimate_pages(base64.b64decode(data))
        if len(_PDF_PAGES) >= _PDF_PAGES_KEPT:
            _PDF_PAGES.clear()
        _PDF_PAGES[key] = pages
    return pages


def exchanges(history: list[Message]) -> list[list[Message]]:
    """Split history into exchanges, each opening with a user message that is not tool results.

    Dropping whole exchanges can never separate a tool_use from its tool_result, since both
    sit inside the exchange whose question caused them.
    """
    groups: list[list[Message]] = []
    for message in history:
        if message["role"] == "user" and not is_tool_result_message(message):
            groups.append([message])
        elif groups:
            groups[-1].append(message)
    return groups


def trim_to_budget(history: list[Message], budget_tokens: int) -> list[Message]:
    """Drop the oldest exchanges until the history fits; the newest one always stays.

    Exchanges are dropped in chunks of about a quarter of the budget, counted from the
    thread's first exchange. The chunk edges depend only on the old exchanges, which never
    change, so the cut stays at the same place turn after turn and the prompt cache keeps
    serving the prefix behind it; the cut moves (one cache miss) only after the thread has
    grown by another quarter of the budget. Dropping one exchange at a time would move the
    cut, and lose the cache, on every turn once a thread is over budget.
    """
    groups = exchanges(history)
    sizes = [sum(estimate_tokens(m["content"]) for m in group) for group in groups]
    start = _cut(sizes, budget_tokens)
    if start:
        logger.info("History over budget: dropped %d oldest exchange(s)", start)
    return [message for group in groups[start:] for message in group]


def _cut(sizes: list[int], budget_tokens: int) -> int:
    """Index of the first exchange to keep: the earliest chunk edge whose tail fits the budget.

    If even the newest chunk alone is over budget, fall back to whole exchanges inside it,
    and never past the newest exchange.
    """
    if sum(sizes) <= budget_tokens:
        return 0
    step = max(1, budget_tokens // 4)
    edges = [0]
    chunk = 0
    for index, size in enumerate(sizes[:-1]):
        chunk += size
        if chunk >= step:
            edges.append(index + 1)
            chunk = 0
    tails = [sum(sizes[edge:]) for edge in edges]
    for edge, tail in zip(edges, tails, strict=True):
        if tail <= budget_tokens:
            return edge
    start, total = edges[-1], tails[-1]
    while total > budget_tokens and start < len(sizes) - 1:
        total -= sizes[start]
        start += 1
    return start


def with_cache_breakpoint(history: list[Message]) -> list[Message]:
    """A copy of `history` whose newest message ends with a prompt-cache breakpoint.

    The next request (a tool round, or the thread's next question) starts with this same
    prefix, so it is read from the cache at a tenth of the input price.
    """
    if not history:
        return history
    last = copy.deepcopy(history[-1])
    content = blocks(last["content"])
    if content:
        content[-1] = {**content[-1], "cache_control": EPHEMERAL}
        last["content"] = content
    return [*history[:-1], last]
