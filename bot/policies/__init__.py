"""ThreadCo's policy documents: reading them, giving them to Claude, `shopmate knowledge check`."""

from __future__ import annotations

from pathlib import Path

from bot.policies.documents import DEFAULT_KNOWLEDGE_DIR, Document, KnowledgeError, Section
from bot.policies.library import Knowledge, PolicyLibrary
from bot.settings import Settings

__all__ = [
    "DEFAULT_KNOWLEDGE_DIR",
    "Document",
    "Knowledge",
    "KnowledgeError",
    "PolicyLibrary",
    "Section",
    "knowledge_dir",
    "open_library",
]


def knowledge_dir(settings: Settings) -> Path:
    """SHOPMATE_KNOWLEDGE_DIR, or the documents shipped with ShopMate."""
    return settings.knowledge_dir or DEFAULT_KNOWLEDGE_DIR


def open_library(settings: Settings) -> PolicyLibrary:
    """Read the configured documents; raises KnowledgeError (a SettingsError) if unusable."""
    return PolicyLibrary(
        knowledge_dir(settings),
        token_budget=settings.knowledge_token_budget,
        reload_interval=settings.knowledge_reload_seconds,
    )
