"""A deterministic stand-in for Claude as ThreadCo's copywriter, for the fake Claude server.

It answers requests that look like `shopmate describe`'s (a copywriter system prompt, a product
as `Name:` / `Material:` ... lines) with a two-sentence description built from the product's
fields, and hands every other request to `fallback` (the support bot's scripted model), so one
fake serves both. Tests can tell it to break the voice for a product (`violate`) or to fail
(`fail`), and it counts the calls per product name (`calls`).
"""

from __future__ import annotations

import collections
import logging
import re
import threading
from typing import Any

from fakes.claude import reading
from fakes.claude.replies import Reply
from fakes.claude.scripted_model import ScriptedModel

logger = logging.getLogger(__name__)

VIOLATIONS = ("forbidden_word", "exclamation", "no_material", "three_sentences", "too_long")
_FIELD_RE = re.compile(r"^(Name|Material|Price|Colours|Key feature):\s*(.*)$", re.MULTILINE)


def is_copywriter_request(request: dict[str, Any]) -> bool:
    """A describe request: the copywriter system prompt and a product in the first message."""
    system = request.get("system")
    text = system if isinstance(system, str) else reading.text_of(system)
    messages = request.get("messages") or []
    first = reading.text_of(messages[0].get("content")) if messages else ""
    return "copywriter" in text.lower() and "Name:" in first and "Material:" in first


def product_fields(request: dict[str, Any]) -> dict[str, str]:
    """The product's fields from the first user message (keys: name, material, ...)."""
    first = reading.text_of((request.get("messages") or [{}])[0].get("content"))
    return {k.lower().replace(" ", "_"): v.strip() for k, v in _FIELD_RE.findall(first)}


def write(fields: dict[str, str]) -> str:
    """The house-style description for a product: two sentences, the material named."""
    name = fields.get("name") or "This tee"
    material = fields.get("material") or "organic cotton"
    colours = [c.strip() for c in (fields.get("colours") or "").split(",") if c.strip()]
    if len(colours) > 1:
        colour_text = ", ".join(colours[:-1]) + " or " + colours[-1]
    else:
        colour_text = colours[0] if colours else "a few quiet colours"
    feature = (fields.get("key_feature") or "").rstrip(".")
    opener = f"{feature[:1].upper()}{feature[1:]}" if feature else "An easy everyday tee"
    price = fields.get("price") or "fairly priced"
    return (
        f"{opener}, cut from {material} in {colour_text}. "
        f"The {name} is {price} and made to be worn on repeat for years."
    )


def break_voice(text: str, kind: str, material: str) -> str:
    """Spoil a good description in one chosen way."""
    if kind == "forbidden_word":
        return "A vibrant pick. " + text.split(". ", 1)[1] if ". " in text else "Vibrant " + text
    if kind == "exclamation":
        return text[:-1] + "!"
    if kind == "no_material":
        return re.sub(re.escape(material), "fabric", text, flags=re.IGNORECASE)
    if kind == "three_sentences":
        return text + " You will wear it all week."
    if kind == "too_long":
        return text[:-1] + ", " + "and it washes well and keeps its shape " * 8 + "for years."
    raise ValueError(f"unknown violation {kind!r}; expected one of {VIOLATIONS}")


class ScriptedCopywriter:
    """A `Responder`: copywriter requests answered here, the rest by `fallback`."""

    def __init__(self, fallback: Any | None = None) -> None:
        self.fallback = fallback if fallback is not None else ScriptedModel()
        self.calls: collections.Counter[str] = collections.Counter()
        self._violations: dict[str, tuple[str, int]] = {}
        self._failures: dict[str, collections.deque[Any]] = {}
        self._gates: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def violate(self, name: str, kind: str = "forbidden_word", *, times: int = 1) -> None:
        """Break the voice for product `name` on its first `times` attempts (the first call
        is attempt 1, the retry that names the problem attempt 2)."""
        if kind not in VIOLATIONS:
            raise ValueError(f"unknown violation {kind!r}; expected one of {VIOLATIONS}")
        with self._lock:
            self._violations[name] = (kind, times)

    def fail(self, name: str, *responses: Any) -> None:
        """Answer the next calls for product `name` with these responses (e.g. http_error)."""
        with self._lock:
            self._failures.setdefault(name, collections.deque()).extend(responses)

    def gate(self, name: str) -> threading.Event:
        """Hold every answer for product `name` until the returned event is set."""
        with self._lock:
            return self._gates.setdefault(name, threading.Event())

    def respond(self, request: dict[str, Any]) -> Any:
        if not is_copywriter_request(request):
            return self.fallback.respond(request)
        fields = product_fields(request)
        name = fields.get("name", "")
        attempt = sum(1 for m in request.get("messages") or [] if m.get("role") == "user")
        with self._lock:
            self.calls[name] += 1
            queued = self._failures.get(name)
            failure = queued.popleft() if queued else None
            violation = self._violations.get(name)
            gate = self._gates.get(name)
        if gate is not None:
            gate.wait(60)
        if failure is not None:
            return failure
        text = write(fields)
        if violation is not None and attempt <= violation[1]:
            text = break_voice(text, violation[0], fields.get("material", ""))
        return Reply(text=text)
