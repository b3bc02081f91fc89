"""ThreadCo's house rules for product copy, checked on every description before it is kept.

The model is asked to follow these rules; this module is what makes sure it did. Each problem
comes back as a short phrase that is both shown to the operator and quoted to the model in the
one retry ("contains the forbidden word 'vibrant'").
"""

from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

FORBIDDEN_WORDS = ("vibrant", "perfect", "stylish", "must-have", "luxurious")
MIN_CHARS = 40
MAX_CHARS = 320  # the seed's examples are ~150 characters; twice that is no longer "two lines"
SENTENCES = 2

# Word forms too, so "perfectly" or "must have" do not slip past "perfect" / "must-have".
_FORBIDDEN_RE = re.compile(
    r"\b(vibrant(?:ly)?|perfect(?:ly|ion)?|stylish(?:ly)?|must[-\s]?haves?|luxurious(?:ly)?)\b",
    re.IGNORECASE,
)
# A sentence ends at . ? or ! followed by whitespace or the end: "£29.99" is not two sentences.
_SENTENCE_END_RE = re.compile(r"(?<=[.?!])[\"'”’)]*\s+")
_QUOTES = "\"'“”‘’"


def clean(text: str) -> str:
    """The description as it will be shown: trimmed, without quotes wrapped round it all."""
    text = " ".join(text.split())
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def sentences(text: str) -> list[str]:
    """Split into sentences; a trailing fragment without a full stop counts as one."""
    return [s for s in _SENTENCE_END_RE.split(text.strip()) if s.strip()]


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[-‐–—_/]", " ", text.lower()).split())


def check(text: str, *, material: str, stop_reason: str | None = None) -> list[str]:
    """Every way `text` breaks the house style, as phrases; an empty list means it is kept."""
    problems: list[str] = []
    if stop_reason == "max_tokens":
        problems.append("it was cut off at the length limit")
    if not text:
        return [*problems, "it is empty"]
    found = sorted({m.group(0).lower() for m in _FORBIDDEN_RE.finditer(text)})
    for word in found:
        problems.append(f"contains the forbidden word '{word}'")
    if "!" in text:
        problems.append("uses an exclamation mark")
    if _normalise(material) not in _normalise(text):
        problems.append(f"does not name the material '{material}'")
    count = len(sentences(text))
    if count != SENTENCES:
        problems.append(f"has {count} sentence{'s' if count != 1 else ''}, not {SENTENCES}")
    if len(text) > MAX_CHARS:
        problems.append(f"is {len(text)} characters long, over {MAX_CHARS}")
    elif len(text) < MIN_CHARS:
        problems.append(f"is {len(text)} characters long, under {MIN_CHARS}")
    return problems
