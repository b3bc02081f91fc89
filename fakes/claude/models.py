"""The fake's Models API: GET /v1/models (a page of models) and GET /v1/models/{id}.

Wire format as Anthropic documents it (platform.claude.com, "List Models" / "Get a Model"):
each model is `{"type": "model", "id", "display_name", "created_at", ...}`; a list is
`{"data": [...], "has_more", "first_id", "last_id"}`, newest first, paged with `limit`,
`after_id` and `before_id`; an unknown id answers 404 `not_found_error`. A test makes a model
unavailable with `FakeClaude.remove_model(id)` (a key without access to it, or a retired id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from fakes.claude.replies import SCRIPTED_MODEL_NAME


@dataclass(frozen=True)
class FakeModel:
    id: str
    display_name: str
    created_at: str  # RFC 3339
    lifecycle: str = "active"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": "model",
            "id": self.id,
            "display_name": self.display_name,
            "created_at": self.created_at,
            "lifecycle": self.lifecycle,
            "deprecated_at": None,
            "retires_at": None,
            "max_input_tokens": 1_000_000,
            "max_tokens": 128_000,
        }


# Newest first, as the API lists them.
DEFAULT_MODELS: tuple[FakeModel, ...] = (
    FakeModel("claude-haiku-5-5", "Claude Haiku 5.5", "2026-10-07T00:00:00Z"),
    FakeModel("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-09-28T00:00:00Z"),
    FakeModel("claude-sonnet-5", "Claude Sonnet 5", "2026-06-30T00:00:00Z"),
    FakeModel("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z"),
    FakeModel("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"),
    FakeModel("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
    FakeModel(SCRIPTED_MODEL_NAME, "ShopMate scripted model", "2025-01-01T00:00:00Z"),
)
# Undated aliases the API resolves to a dated snapshot.
ALIASES = {"claude-haiku-4-5": "claude-haiku-4-5-20251001"}


def find(models: list[FakeModel], model_id: str) -> FakeModel | None:
    wanted = ALIASES.get(model_id, model_id)
    return next((m for m in models if m.id == wanted), None)


def list_page(models: list[FakeModel], query: str) -> dict[str, Any]:
    """One page of the list, following `limit` (1-1000, default 20), `after_id`, `before_id`."""
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    try:
        limit = max(1, min(int(params.get("limit", 20)), 1000))
    except ValueError:
        limit = 20
    ids = [m.id for m in models]
    start, end = 0, len(models)
    if params.get("after_id") in ids:
        start = ids.index(params["after_id"]) + 1
    if params.get("before_id") in ids:
        end = ids.index(params["before_id"])
        start = max(start, end - limit)
    page = models[start:end][:limit]
    return {
        "data": [m.as_dict() for m in page],
        "has_more": start + len(page) < end,
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
    }


def model_id_of(path: str) -> str:
    """The id in /v1/models/{id} (URL-decoded)."""
    return unquote(path[len("/v1/models/") :])
