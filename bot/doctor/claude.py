"""The doctor's Claude checks: the key is accepted, each configured model is available (the
Models API), and the cached prefix is long enough for the answers model to cache it.

Read-only and free: the Models API and token counting cost nothing and generate nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import anthropic

from bot.doctor.result import Check, ok, problem, warning
from bot.models import model_info
from bot.settings import Settings

logger = logging.getLogger(__name__)

AREA = "claude"
TIMEOUT_S = 15.0
KEY_FIX = "Create a key at console.anthropic.com and put ANTHROPIC_API_KEY=... in .env."


def claude_checks(settings: Settings) -> list[Check]:
    if not settings.anthropic_api_key:
        return [problem(AREA, "api key", "ANTHROPIC_API_KEY is not set.", KEY_FIX)]
    client = anthropic.Anthropic(
        api_key=settings.anthropic_api_key,
        base_url=settings.anthropic_base_url,
        max_retries=1,
        timeout=TIMEOUT_S,
    )
    try:
        client.models.list(limit=1)
    except anthropic.APIError as error:
        return [_key_problem(settings, error)]
    checks = [ok(AREA, "api key", "ANTHROPIC_API_KEY is accepted.")]
    models = {settings.model: "SHOPMATE_MODEL", settings.describe_model: "SHOPMATE_DESCRIBE_MODEL"}
    for model, env in models.items():
        checks.append(_model_check(client, model, env))
    checks.append(_cache_check(client, settings))
    return checks


def _key_problem(settings: Settings, error: anthropic.APIError) -> Check:
    if isinstance(error, anthropic.AuthenticationError):
        return problem(
            AREA,
            "api key",
            "Claude rejected ANTHROPIC_API_KEY (401 authentication_error).",
            KEY_FIX,
        )
    if isinstance(error, anthropic.PermissionDeniedError):
        return problem(
            AREA,
            "api key",
            "ANTHROPIC_API_KEY may not use the API (403 permission_error).",
            "Check the key's workspace and the organisation's billing at console.anthropic.com.",
        )
    if isinstance(error, anthropic.APIConnectionError):
        where = settings.anthropic_base_url or "https://api.anthropic.com"
        fix = (
            "Check ANTHROPIC_BASE_URL (unset it for Anthropic's API) and the network."
            if settings.anthropic_base_url
            else "Check this machine's network connection to api.anthropic.com."
        )
        return problem(AREA, "api key", f"cannot reach Claude at {where}.", fix)
    status = getattr(error, "status_code", "?")
    return problem(AREA, "api key", f"the Models API answered {status}.", "Try again shortly.")


def _model_check(client: anthropic.Anthropic, model: str, env: str) -> Check:
    name = f"model {model}"
    try:
        found: Any = client.models.retrieve(model)
    except anthropic.NotFoundError:
        return problem(
            AREA,
            name,
            f"{env}={model} is not available to this key.",
            f"Set {env} to a model the key can use (`client.models.list()` lists them), "
            "e.g. claude-sonnet-5-5 for answers or claude-haiku-5-5 for descriptions.",
        )
    except anthropic.APIError as error:
        return problem(AREA, name, f"the Models API failed for {model} ({error}).", "")
    lifecycle = getattr(found, "lifecycle", "active")
    label = f"{env}: {found.display_name} ({found.id})"
    if lifecycle == "retired":
        return problem(AREA, name, f"{label} is retired.", f"Set {env} to a current model.")
    if lifecycle == "deprecated":
        return warning(AREA, name, f"{label} is deprecated.", f"Move {env} to a current model.")
    if model_info(model) is None:
        return warning(
            AREA,
            name,
            f"{label} is available, but ShopMate's price table does not know it: "
            "`shopmate stats` will show its cost as unknown.",
            "Add it to bot/models.py with its prices from Anthropic's pricing page.",
        )
    return ok(AREA, name, f"{label} is available.")


def _cache_check(client: anthropic.Anthropic, settings: Settings) -> Check:
    """The system prompt and the policies (when they go in the prompt) are cached together;
    under the model's minimum the API silently caches nothing and every turn pays full price."""
    from bot.doctor.prefix import cached_prefix

    name = "prompt cache"
    info = model_info(settings.model)
    if info is None or info.cache_minimum is None:
        return warning(
            AREA,
            name,
            f"the cache minimum of {settings.model} is not in ShopMate's table; not checked.",
            "",
        )
    try:
        system, what = cached_prefix(settings)
        counted = client.messages.count_tokens(
            model=settings.model,
            system=system,
            messages=[{"role": "user", "content": "."}],
        )
    except anthropic.APIError as error:
        return warning(AREA, name, f"could not count the prefix's tokens ({error}).", "")
    tokens = counted.input_tokens
    if tokens < info.cache_minimum:
        return warning(
            AREA,
            name,
            f"the cached prefix ({what}) is {tokens:,} tokens, under {info.name}'s minimum of "
            f"{info.cache_minimum:,}: nothing is cached, every turn pays the full input price.",
            "Nothing breaks; to cache it, put more policies in the prompt "
            "(SHOPMATE_KNOWLEDGE_DIR) or pick a model with a lower minimum.",
        )
    return ok(
        AREA,
        name,
        f"the cached prefix ({what}) is {tokens:,} tokens, over {info.name}'s minimum of "
        f"{info.cache_minimum:,}.",
    )
