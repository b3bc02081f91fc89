"""The copywriter prompt: ThreadCo's voice, the few-shot file, request params, the input hash.

The system prompt is two blocks: the voice rules, then the few-shot examples with a
`cache_control` breakpoint, so every product (and every retry) re-reads the same cached prefix;
only the product itself is new per request. (Caching needs a prefix of at least the model's
minimum, 4,096 tokens for Haiku 4.5; below that the API caches nothing and says nothing, so
the usage we store shows whether it happened.)

The hash of everything that shapes the answer (model, max_tokens, both system blocks, the user
template version, the product's fields) keys stored descriptions: change any of it and the
product is described again; change nothing and it is never paid for twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.describe.catalogue import Product
from bot.describe.voice import FORBIDDEN_WORDS, MAX_CHARS

logger = logging.getLogger(__name__)

DEFAULT_EXAMPLES_FILE = Path(__file__).resolve().parents[1] / "data" / "describe_examples.txt"
# Bump when the user-message template or the retry wording changes: stored results go stale.
TEMPLATE_VERSION = "describe-v1"
MAX_TOKENS = 150  # the seed's bound; two sentences need ~60

VOICE = (
    "You are a copywriter for ThreadCo, a sustainable UK T-shirt brand.\n"
    "Voice: friendly, direct, never corporate. Always name the product's sustainable material, "
    "as given.\n"
    f"Forbidden words: {', '.join(FORBIDDEN_WORDS)}.\n"
    "No exclamation marks.\n"
    f"Write exactly two sentences, at most {MAX_CHARS} characters in all, and nothing else: "
    "no title, no quotation marks, no preamble."
)


class ExamplesError(ValueError):
    """The few-shot file is missing or malformed; the message names the file and the line."""


@dataclass(frozen=True)
class Example:
    name: str
    material: str
    text: str


def read_examples(path: Path) -> tuple[Example, ...]:
    """Parse the few-shot file: blocks after `---` lines with `name:` / `material:` then text."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ExamplesError(f"few-shot examples {path}: {exc.strerror or exc}") from None
    blocks: list[tuple[int, list[str]]] = []
    for number, line in enumerate(lines, start=1):
        if line.startswith("#"):
            continue
        if line.strip() == "---":
            blocks.append((number, []))
        elif blocks:
            blocks[-1][1].append(line)
        elif line.strip():
            raise ExamplesError(f"{path}: line {number}: text before the first '---'")
    examples = []
    for number, body in blocks:
        fields: dict[str, str] = {}
        text: list[str] = []
        for line in body:
            key, sep, value = line.partition(":")
            if not text and sep and key.strip().lower() in ("name", "material"):
                fields[key.strip().lower()] = value.strip()
            elif line.strip():
                text.append(line.strip())
        if "name" not in fields or "material" not in fields or not text:
            raise ExamplesError(
                f"{path}: the example starting on line {number} needs name:, material: "
                "and a description"
            )
        examples.append(Example(fields["name"], fields["material"], " ".join(text)))
    if not examples:
        raise ExamplesError(f"{path}: no examples (each starts with a '---' line)")
    return tuple(examples)


def user_message(product: Product) -> str:
    """The per-product part of the prompt, the only part that differs between products."""
    lines = [
        "Write a description for this product.",
        f"Name: {product.name}",
        f"Material: {product.material}",
        f"Price: £{product.price}",
        f"Colours: {', '.join(product.colours)}",
    ]
    if product.key_feature:
        lines.append(f"Key feature: {product.key_feature}")
    return "\n".join(lines)


def retry_message(product: Product, problems: list[str]) -> str:
    """The follow-up that names what was wrong with the draft, for the one retry allowed."""
    return (
        "That draft breaks ThreadCo's house style: "
        + "; ".join(problems)
        + f". Rewrite it: exactly two sentences, name the material ({product.material}), "
        "no exclamation marks, none of the forbidden words. Reply with the description only."
    )


@dataclass(frozen=True)
class Prompt:
    """Everything that shapes a description except the product; build it with `load_prompt`."""

    model: str
    examples: tuple[Example, ...]
    max_tokens: int = MAX_TOKENS

    def system(self) -> list[dict[str, Any]]:
        rendered = "\n\n".join(
            f"EXAMPLE {i} — {e.name} ({e.material}):\n{e.text}"
            for i, e in enumerate(self.examples, start=1)
        )
        return [
            {"type": "text", "text": VOICE},
            {
                "type": "text",
                "text": "Descriptions that worked well; match their structure and tone:\n\n"
                + rendered,
                "cache_control": {"type": "ephemeral"},
            },
        ]

    def params(
        self, product: Product, *, draft: str | None = None, problems: list[str] | None = None
    ) -> dict[str, Any]:
        """Messages API params for one product; with `draft` and `problems`, the retry."""
        messages: list[dict[str, Any]] = [{"role": "user", "content": user_message(product)}]
        if draft is not None:
            messages += [
                {"role": "assistant", "content": draft or "(empty)"},
                {"role": "user", "content": retry_message(product, problems or [])},
            ]
        return {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": self.system(),
            "messages": messages,
        }

    @property
    def fingerprint(self) -> str:
        """A hash of the prompt without the product (model, limits, voice, examples)."""
        return _sha256(
            {
                "template": TEMPLATE_VERSION,
                "model": self.model,
                "max_tokens": self.max_tokens,
                "system": self.system(),
            }
        )

    def input_hash(self, product: Product) -> str:
        """What a stored description is keyed by, with the product id: inputs + prompt."""
        fields = product.as_dict()
        fields.pop("id")
        return _sha256({"prompt": self.fingerprint, "product": fields})


def _sha256(value: Any) -> str:
    data = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def load_prompt(model: str, examples_file: Path | None = None) -> Prompt:
    """The prompt for `model` with the few-shot examples from `examples_file` (or the default)."""
    return Prompt(model=model, examples=read_examples(examples_file or DEFAULT_EXAMPLES_FILE))
