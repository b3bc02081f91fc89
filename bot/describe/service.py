"""`Copywriter`: one product, end to end — stored answer, or call, check, one retry, store.

Every front goes through `Copywriter.describe` (the CLI, the live runner, `--collect --retry`)
or `Copywriter.finish` (a batch's answers), so the voice checks, the retry and the storage rules
are the same everywhere. The HTTP API's `POST /describe` (bot/api/routes/describe.py) is a thin
wrapper: it parses the body with `catalogue.make_product`, calls `describe` in a worker thread
(it blocks on the SDK), and returns `Outcome.as_dict()`.

Money rules: an answer that was paid for is stored, accepted (`ok`) or refused by the voice
checks (`rejected`), under (product id, input hash); the same inputs are never sent again unless
`force`. A failed call (rate limit after the SDK's retries, overload, connection) is not stored,
so the next run tries it again; nothing was billed for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anthropic

from bot.describe import voice
from bot.describe.catalogue import Product
from bot.describe.prompt import Prompt
from storage.descriptions import DescriptionStore

logger = logging.getLogger(__name__)

TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


class FatalAPIError(Exception):
    """The API refuses every request alike (bad key, no access, unknown model): stop the run."""


@dataclass
class Usage:
    """Tokens and calls, split by how they are billed: live (full price) and batch (half)."""

    live: dict[str, int] = field(default_factory=dict)
    batch: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, usage: Any) -> None:
        bucket = self.live if kind == "live" else self.batch
        bucket["calls"] = bucket.get("calls", 0) + 1
        for name in TOKEN_FIELDS:
            bucket[name] = bucket.get(name, 0) + int(getattr(usage, name, 0) or 0)

    @property
    def calls(self) -> int:
        return self.live.get("calls", 0) + self.batch.get("calls", 0)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {"live": dict(self.live), "batch": dict(self.batch)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        return cls(live=dict(data.get("live") or {}), batch=dict(data.get("batch") or {}))


@dataclass
class Outcome:
    """What happened to one product.

    status: `ok` (kept), `rejected` (broke the voice twice: reported, not kept), `error` (no
    answer; not stored, so it is tried again next run), `pending` (in a batch still running).
    `stored` says the answer came from the database and cost nothing this time.
    """

    product: Product
    status: str
    text: str = ""
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    stored: bool = False
    usage: Usage = field(default_factory=Usage)
    batch_id: str | None = None
    # Set when the API still said 429 after the SDK's retries: seconds it asked us to wait.
    retry_after: float | None = None

    @property
    def description(self) -> str:
        """The text to publish: only an accepted description."""
        return self.text if self.status == "ok" else ""

    def as_row(self) -> dict[str, str]:
        """A descriptions.csv row."""
        notes = list(self.problems)
        if self.status == "rejected" and self.text:
            notes.append(f"draft: {self.text}")
        if self.error:
            notes.append(self.error)
        if self.status == "pending" and self.batch_id:
            notes.append(f"in batch {self.batch_id}")
        return {
            "id": self.product.id,
            "name": self.product.name,
            "status": self.status,
            "description": self.description,
            "problems": "; ".join(notes),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the HTTP API."""
        return {
            "id": self.product.id,
            "status": self.status,
            "description": self.description,
            "problems": list(self.problems),
            "error": self.error,
            "stored": self.stored,
        }


def _text_of(message: Any) -> str:
    return "".join(
        getattr(block, "text", "") for block in message.content if block.type == "text"
    ).strip()


def describe_error(exc: anthropic.APIError) -> str:
    """One line for an API failure: the SDK's error class and the API's message."""
    status = getattr(exc, "status_code", None)
    message = getattr(exc, "message", None) or str(exc)
    where = f" ({status})" if status else ""
    return f"{type(exc).__name__}{where}: {message}"[:300]


class Copywriter:
    """Writes, checks and stores one product's description; safe to use from many threads."""

    def __init__(self, client: anthropic.Anthropic, store: DescriptionStore, prompt: Prompt):
        self.client = client
        self.store = store
        self.prompt = prompt

    def key(self, product: Product) -> tuple[str, str]:
        return (product.id, self.prompt.input_hash(product))

    def stored(self, products: list[Product]) -> dict[str, Outcome]:
        """Products whose answer for these exact inputs is already paid for, by product id.

        Either stored (ok or rejected) or sent in a batch that has not been collected yet.
        """
        keys = {self.key(p): p for p in products}
        found = self.store.find(keys)
        pending = self.store.pending_keys()
        out: dict[str, Outcome] = {}
        for key, product in keys.items():
            if key in found:
                out[product.id] = self._from_row(product, found[key])
            elif key in pending:
                out[product.id] = Outcome(product, "pending", batch_id=pending[key], stored=True)
        return out

    def describe(self, product: Product, *, force: bool = False) -> Outcome:
        """The product's description: stored, or written now (one call, one retry at most)."""
        if not force:
            known = self.stored([product]).get(product.id)
            if known is not None:
                return known
        usage = Usage()
        try:
            message = self._create(self.prompt.params(product))
        except anthropic.APIError as exc:
            return self._failed(product, exc, usage)
        usage.add("live", message.usage)
        return self.finish(product, _text_of(message), message.stop_reason, usage, mode="live")

    def finish(
        self,
        product: Product,
        draft: str,
        stop_reason: str | None,
        usage: Usage,
        *,
        mode: str,
        batch_id: str | None = None,
    ) -> Outcome:
        """Check a draft (live or from a batch); retry once naming the problems; store."""
        text = voice.clean(draft)
        problems = voice.check(text, material=product.material, stop_reason=stop_reason)
        if problems:
            logger.info("draft for %s breaks the voice (%s); retrying", product.id, problems)
            try:
                message = self._create(self.prompt.params(product, draft=text, problems=problems))
            except anthropic.APIError as exc:
                return self._failed(product, exc, usage)
            usage.add("live", message.usage)
            text = voice.clean(_text_of(message))
            problems = voice.check(text, material=product.material, stop_reason=message.stop_reason)
            if problems:
                logger.warning("description for %s rejected: %s", product.id, "; ".join(problems))
        status = "rejected" if problems else "ok"
        self.store.save(
            product_id=product.id,
            input_hash=self.prompt.input_hash(product),
            name=product.name,
            status=status,
            text=text,
            problems=problems,
            model=self.prompt.model,
            mode=mode,
            model_calls=usage.calls,
            usage=usage.as_dict(),
            batch_id=batch_id,
        )
        return Outcome(product, status, text, problems, usage=usage, batch_id=batch_id)

    def _create(self, params: dict[str, Any]) -> Any:
        try:
            return self.client.messages.create(**params)
        except (
            anthropic.AuthenticationError,
            anthropic.PermissionDeniedError,
            anthropic.NotFoundError,
        ) as exc:
            raise FatalAPIError(describe_error(exc)) from exc

    @staticmethod
    def _failed(product: Product, exc: anthropic.APIError, usage: Usage) -> Outcome:
        error = describe_error(exc)
        logger.warning("no description for %s: %s", product.id, error)
        retry_after = None
        if isinstance(exc, anthropic.RateLimitError):
            retry_after = _retry_after(exc.response.headers)
        return Outcome(product, "error", error=error, usage=usage, retry_after=retry_after)

    @staticmethod
    def _from_row(product: Product, row: dict[str, Any]) -> Outcome:
        return Outcome(
            product,
            row["status"],
            row["text"] or "",
            list(row.get("problems") or []),
            stored=True,
            usage=Usage.from_dict(row.get("usage")),
            batch_id=row.get("batch_id"),
        )


DEFAULT_RATE_LIMIT_PAUSE = 10.0
MAX_RATE_LIMIT_PAUSE = 60.0


def _retry_after(headers: Any) -> float:
    """Seconds a 429 asked for (`retry-after-ms`, then `retry-after`), within sane bounds."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            value = float(headers.get(name)) * scale
        except (TypeError, ValueError):
            continue
        return min(max(value, 0.0), MAX_RATE_LIMIT_PAUSE)
    return DEFAULT_RATE_LIMIT_PAUSE
