"""The part of every request that ShopMate caches: the system prompt and what the policies add
to it, built as the engine builds it (bot/engine.py `_stream_once`, bot/policies/library.py
`turn_setup`)."""

from __future__ import annotations

from typing import Any

from bot import prompts
from bot.policies import Knowledge, KnowledgeError, knowledge_dir
from bot.policies.documents import load_documents
from bot.settings import Settings
from bot.turn_setup import TurnSetup


def load_knowledge(settings: Settings) -> Knowledge:
    """The configured policies as the bot would load them; raises KnowledgeError."""
    directory = knowledge_dir(settings)
    documents, _ = load_documents(directory)
    return Knowledge(directory, documents, settings.knowledge_token_budget)


def cached_prefix(settings: Settings) -> tuple[list[dict[str, Any]], str]:
    """The system blocks (the last carries the cache breakpoint) and what they hold, in words.

    Policies that cannot be read count as none here; the policies check says what is wrong.
    """
    try:
        knowledge: Knowledge | None = load_knowledge(settings)
    except KnowledgeError:
        knowledge = None
    if knowledge is None:
        setup, what = TurnSetup(), "system prompt"
    elif knowledge.mode == "prompt":
        setup, what = knowledge.turn_setup(), "system prompt and policies"
    else:
        setup, what = knowledge.turn_setup(), "system prompt and the policy search instructions"
    return setup.system(prompts.SYSTEM_PROMPT), what
