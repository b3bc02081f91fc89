"""The Claude models ShopMate knows: list prices and prompt-cache minimums, in one table.

`shopmate stats` prices usage from it and `shopmate doctor` compares the cached prefix with a
model's minimum. A model that is not here has no price (`None`), so its cost is shown as
unknown rather than as another model's number.

Source: Anthropic's model pages and pricing, read on 2026-12-05 (CHECKED):
  https://platform.claude.com/docs/en/about-claude/models/overview
  https://platform.claude.com/docs/en/models/sonnet-5-5/overview
  https://platform.claude.com/docs/en/models/sonnet-5-5/migration-guide
  https://platform.claude.com/docs/en/models/haiku-5-5/overview
  https://platform.claude.com/docs/en/about-claude/pricing
  https://platform.claude.com/docs/en/build-with-claude/prompt-caching
Prices are US dollars per million tokens. Claude Haiku 5.5 is priced in two bands; the table
holds the band for prompts up to 100,000 tokens, which ShopMate's history budget
(SHOPMATE_HISTORY_TOKENS, 20,000 by default) keeps every request in. Minimums marked
`unconfirmed` below could not be read from Anthropic's own pages on that date: the value is
the best-supported one found (see the comment on each), to be checked again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SOURCE_URLS = (
    "https://platform.claude.com/docs/en/about-claude/models/overview",
    "https://platform.claude.com/docs/en/about-claude/pricing",
    "https://platform.claude.com/docs/en/build-with-claude/prompt-caching",
)
CHECKED = "2026-12-05"

CURRENT_SONNET = "claude-sonnet-5-5"
CURRENT_HAIKU = "claude-haiku-5-5"


@dataclass(frozen=True)
class ModelInfo:
    """One model's list prices (USD per million tokens) and prompt-cache minimum (tokens)."""

    id: str
    name: str
    input: float
    output: float
    cache_write: float  # five-minute cache writes
    cache_read: float  # cache hits and refreshes
    cache_minimum: int | None  # the shortest prefix the API caches; None: not known
    # What a request to this model must say about thinking, if anything. Sonnet 5.5 thinks
    # up front by default and returns the text it writes between tool calls as thinking
    # blocks ("display": "omitted"); "between_tools" is its lowest setting ("disabled" is
    # refused with a 400): no thinking before the first word, and progress notes between
    # tools still come back. Source: its migration guide and "What's new in Sonnet 5.5".
    thinking: dict[str, str] | None = None


MODELS: dict[str, ModelInfo] = {
    m.id: m
    for m in (
        # The current generation.
        # Sonnet 5.5: $2 in, $10 out, 5m cache write $2.50 (its model page); cache reads
        # $0.10, "half the Claude Sonnet 5 rate" (its migration guide, which is newer than the
        # model page's $0.20). Cache minimum unconfirmed: 1,024 as for Sonnet 5.
        ModelInfo(
            "claude-sonnet-5-5",
            "Claude Sonnet 5.5",
            2.0,
            10.0,
            2.5,
            0.1,
            1024,
            thinking={"type": "between_tools"},
        ),
        # Haiku 5.5 page (prompts up to 100K tokens): $0.10 in, $0.50 out, 5m cache write
        # $0.125, cache read $0.01. Cache minimum unconfirmed: 512 as reported for this
        # generation (Opus 5 and later list 512).
        ModelInfo("claude-haiku-5-5", "Claude Haiku 5.5", 0.10, 0.50, 0.125, 0.01, 512),
        ModelInfo("claude-sonnet-5", "Claude Sonnet 5", 2.0, 10.0, 2.5, 0.2, 1024),
        # The previous generation (ShopMate's defaults until 2026-12).
        ModelInfo("claude-sonnet-4-6", "Claude Sonnet 4.6", 3.0, 15.0, 3.75, 0.3, 1024),
        ModelInfo("claude-haiku-4-5", "Claude Haiku 4.5", 1.0, 5.0, 1.25, 0.1, 4096),
        ModelInfo("claude-opus-4-6", "Claude Opus 4.6", 5.0, 25.0, 6.25, 0.5, 4096),
    )
}

# A dated snapshot id ("claude-haiku-4-5-20251001") is the model of its undated id.
_DATE_SUFFIX = re.compile(r"-\d{8}$")


def model_info(model: str | None) -> ModelInfo | None:
    """The table's entry for a model id (dated snapshots included), or None if unknown."""
    if not model:
        return None
    return MODELS.get(model) or MODELS.get(_DATE_SUFFIX.sub("", model))


def request_settings(model: str | None) -> dict[str, object]:
    """Parameters a Messages API request to `model` must carry (e.g. its thinking setting)."""
    info = model_info(model)
    if info is None or info.thinking is None:
        return {}
    return {"thinking": dict(info.thinking)}
