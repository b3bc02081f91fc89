"""How the scripted stand-in for Claude answers policy questions: from the prompt, or by searching.

ShopMate puts ThreadCo's policies into the system prompt (one `<section name="…">` each) while
they fit its budget, and otherwise offers a `search_policies` tool. A real model told to
answer from them and name the section does so; this stand-in does too, deterministically: it
picks the section whose words best match the question (rarer words weigh more, words in its
heading most) and quotes its first sentences, naming it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

SEARCH_TOOL = "search_policies"
SEPARATOR = " › "

#: Questions about what ThreadCo's policies cover (not about one order's status).
POLICY_RE = re.compile(
    r"\b(returns?|returning|refunds?|exchang\w*|swap\w*|siz(e|es|ing)|fits?|fitting|runs? "
    r"(small|large|big)|care|wash\w*|iron\w*|tumble|dry(ing)?|shrink\w*|shipping|postage|"
    r"delivery (cost|options?|times?)|international|abroad|sustainab\w*|organic|gots|"
    r"packaging|faulty|damaged|policy|policies)\b",
    re.IGNORECASE,
)
_SECTION_RE = re.compile(r'<section name="([^"]*)">\n?(.*?)\n?</section>', re.DOTALL)
_WORD_RE = re.compile(r"[a-z0-9]+")
_SENTENCE_END_RE = re.compile(r"(?<=[.?])\s+(?=[A-Z(\"])")
_STOPWORDS = frozenset(
    _WORD_RE.findall(
        """a about am an and any are as at be been but by can could did do does for from get got
        had has have how i if in into is it its just me my no not of on or our please so than
        that the their them then there these they this to up us was we were what when where
        which who why will with would you your tee tees threadco policy policies"""
    )
)


@dataclass(frozen=True)
class PolicySection:
    """One section as the model sees it: its name (to quote) and its text."""

    name: str
    text: str


def is_policy_question(text: str) -> bool:
    return bool(POLICY_RE.search(text))


def sections_in_system(request: dict[str, Any]) -> list[PolicySection]:
    """The policy sections ShopMate put into the system prompt (none in search mode)."""
    system = request.get("system")
    if isinstance(system, list):
        text = "\n".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
    else:
        text = str(system or "")
    return [
        PolicySection(_unescape(name), body.replace("&lt;/section", "</section").strip())
        for name, body in _SECTION_RE.findall(text)
    ]


def best_section(query: str, sections: list[PolicySection]) -> PolicySection | None:
    """The section that best matches the query's words, or None if no word matches.

    Each matching word counts by its rarity across sections, times where it appears: in the
    heading (more in a short one), in the document's title, and up to three times in the
    text. A crude BM25, deterministic.
    """
    wanted = _stems(query)
    if not wanted or not sections:
        return None
    parsed = []
    for section in sections:
        title, _, heading = section.name.rpartition(SEPARATOR)
        parsed.append((_stems(heading), _stems(title), [_stem(w) for w in _words(section.text)]))
    total = len(sections)

    def rarity(stem: str) -> float:
        found = sum(
            1 for heading, title, words in parsed if stem in heading | title or stem in words
        )
        return math.log(1 + total / found) if found else 0.0

    best, best_score = None, 0.0
    for section, (heading, title, words) in zip(sections, parsed, strict=True):
        score = sum(
            rarity(stem)
            * (
                4 * (stem in heading) / math.sqrt(len(heading) or 1)
                + 1.5 * (stem in title)
                + min(words.count(stem), 3)
            )
            for stem in wanted
        )
        if score > best_score:
            best, best_score = section, score
    return best


def search_results(content: str) -> list[PolicySection]:
    """The sections a `search_policies` tool_result returned, best first."""
    try:
        data = json.loads(content)
    except ValueError:
        return []
    results = data.get("results") if isinstance(data, dict) else None
    return [
        PolicySection(str(r.get("section", "")), str(r.get("text", "")))
        for r in results or []
        if isinstance(r, dict) and r.get("section")
    ]


def quote(section: PolicySection, sentences: int = 2) -> str:
    """The section's first sentences (tables and headings left out), then its name in bold."""
    prose = " ".join(
        line.strip()
        for line in section.text.splitlines()
        if line.strip() and not line.lstrip().startswith(("|", "#"))
    )
    first = " ".join(_SENTENCE_END_RE.split(prose)[:sentences])
    return f"{first} (**{section.name}**)"


def _words(text: str) -> list[str]:
    return [w for w in _WORD_RE.findall(text.lower()) if w not in _STOPWORDS]


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in _words(text)}


def _stem(word: str) -> str:
    """A crude stemmer: enough that "returns", "returned" and "returning" meet."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _unescape(value: str) -> str:
    return value.replace("&lt;", "<").replace("&quot;", '"').replace("&amp;", "&")
