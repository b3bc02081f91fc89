"""Cutting long replies into Slack-sized messages at paragraph or line boundaries."""

from __future__ import annotations

# Slack rejects chat.update text near 4,000 characters (msg_too_long) and markdown_text over
# 12,000 per call; keeping every message under this keeps every call of every path valid.
DEFAULT_MESSAGE_CHARS = 3_500


def cut_point(text: str, limit: int, *, keep: int = 0) -> int:
    """Where to end a message holding `text` so it has at most `limit` characters.

    Prefers the last paragraph break, then line break, then space, within
    text[keep:limit]; `keep` is text already shown, which can no longer move.
    """
    if len(text) <= limit:
        return len(text)
    window = text[:limit]
    for separator in ("\n\n", "\n", " "):
        index = window.rfind(separator, keep)
        if index > keep:
            return index
    return limit


def split_message(text: str, limit: int = DEFAULT_MESSAGE_CHARS) -> list[str]:
    """Split `text` into parts of at most `limit` characters; joined they give back the text.

    Boundaries (the whitespace at a cut) stay at the start of the next part, so nothing is
    lost; Slack trims leading whitespace when it renders.
    """
    parts: list[str] = []
    while len(text) > limit:
        cut = cut_point(text, limit)
        parts.append(text[:cut])
        text = text[cut:]
    parts.append(text)
    return parts
