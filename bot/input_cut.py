"""The input cut: text made safe to store, log and send on, and cut to the longest a turn takes.

Front-agnostic: every front cleans what people type with `clean_text`; the lifecycle cuts a
message longer than SHOPMATE_MAX_INPUT_CHARS with `cut_input` (and says so).
"""

from __future__ import annotations

import re
import unicodedata

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# C0/C1 control characters other than tab and newlines: invisible, and NUL upsets C libraries.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """Text safe to store, log and send on: valid UTF-8, no control characters.

    A lone surrogate (JSON allows "\\ud800") cannot be encoded as UTF-8, so SQLite, the SDK
    and Slack would all refuse it: it becomes U+FFFD. Text with nothing visible in it (only
    spaces, zero-width or control characters) becomes "", so it is treated as empty.
    Emoji, right-to-left text and zero-width joiners inside real text are kept as written.
    """
    text = _CONTROL.sub("", _LONE_SURROGATE.sub("\ufffd", text))
    if not any(unicodedata.category(ch)[0] not in "ZC" for ch in text):
        return ""
    return text


def cut_input(text: str, limit: int) -> tuple[str, bool]:
    """The first `limit` characters of `text`, and whether anything was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit].rstrip(), True
