"""The policies ShopMate answers from: loaded once, re-read when edited, in the prompt or searched.

While the documents fit SHOPMATE_KNOWLEDGE_TOKENS they go into the system prompt, where the
prompt cache serves them at a tenth of the input price after the first turn. Past that budget
they would make every turn expensive, so Claude gets a `search_policies` tool over their
sections instead, and only the sections it asks for enter the conversation.

Edits are picked up without a restart: each turn asks for the current knowledge, and at most
once every SHOPMATE_KNOWLEDGE_RELOAD_S seconds that compares the files' sizes and modification
times with the ones read last (one `scandir`), re-reading and re-indexing only on a change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from bot.history import estimate_tokens
from bot.policies.documents import (
    Document,
    FileStamp,
    KnowledgeError,
    Section,
    load_documents,
    stamps,
)
from bot.settings import Settings
from bot.tools.policies import SEARCH_POLICIES as SEARCH_TOOL
from bot.turn_setup import TurnSetup
from storage.policy_index import PolicyIndex

logger = logging.getLogger(__name__)

Mode = Literal["prompt", "search"]

#: Tells Claude how to use the documents in the prompt; they follow it, one <section> each.
PROMPT_INSTRUCTIONS = """ThreadCo's policies ({topics}) are below, one <section> per policy \
section, each with its name. Answer questions about them from these sections only: never \
invent a policy, a price or a time limit. Name the section your answer relies on, in bold, \
in the form (**{example}**). If no section covers the question, say so and escalate."""

#: Tells Claude to search, when the documents are too long for the prompt.
SEARCH_INSTRUCTIONS = """ThreadCo's policies ({topics}) are too long to include here. Before \
you answer a question about them, call the search_policies tool with the customer's question \
or its key words, and answer from the sections it returns only: never invent a policy, a \
price or a time limit. Name the section your answer relies on, in bold, in the form \
(**{example}**). If no section covers the question, say so and escalate."""


@dataclass(frozen=True)
class Knowledge:
    """One version of the documents, and how it is given to Claude."""

    directory: Path
    documents: tuple[Document, ...]
    token_budget: int

    @property
    def sections(self) -> tuple[Section, ...]:
        return tuple(section for document in self.documents for section in document.sections)

    @cached_property
    def tokens(self) -> int:
        """Estimated tokens of the documents as they would be sent in the prompt."""
        return estimate_tokens(self.prompt_text())

    @property
    def mode(self) -> Mode:
        return "prompt" if self.tokens <= self.token_budget else "search"

    def topics(self) -> str:
        return ", ".join(document.title for document in self.documents if document.sections)

    def prompt_text(self) -> str:
        """The instructions and every section, as they go into the system prompt."""
        return self._prompt

    @cached_property
    def _prompt(self) -> str:
        parts = [PROMPT_INSTRUCTIONS.format(topics=self.topics(), example=self._example()), ""]
        parts.append("<policies>")
        for section in self.sections:
            parts.append(f'<section name="{_attribute(section.name)}">')
            parts.append(section.text.replace("</section", "&lt;/section"))
            parts.append("</section>")
        parts.append("</policies>")
        return "\n".join(parts)

    def turn_setup(self) -> TurnSetup:
        """What a turn adds to the request: the documents (prompt mode) or the search hint."""
        if self.mode == "prompt":
            return TurnSetup(self.prompt_text(), withheld_tools=frozenset({SEARCH_TOOL}))
        return TurnSetup(self.search_text())

    def search_text(self) -> str:
        """The instructions that go into the system prompt in search mode."""
        return SEARCH_INSTRUCTIONS.format(topics=self.topics(), example=self._example())

    def _example(self) -> str:
        named = [s for s in self.sections if s.heading] or list(self.sections)
        return named[0].name


class PolicyLibrary:
    """The current Knowledge of one folder, its search index, and each turn's setup.

    Safe to share between threads: a check that finds a change re-reads under a lock, and
    readers get an immutable Knowledge.
    """

    def __init__(
        self,
        directory: Path,
        *,
        token_budget: int,
        reload_interval: float = Settings.knowledge_reload_seconds,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Read the documents now; raises KnowledgeError if they can't be used."""
        self.directory = directory
        self.token_budget = token_budget
        self.reload_interval = reload_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._index = PolicyIndex()
        self._failed: tuple[FileStamp, ...] | str | None = None
        self._knowledge, self._stamps = self._read()
        self._checked = clock()
        logger.info(
            "Loaded %d policy sections from %s (%s mode)",
            len(self._knowledge.sections),
            directory,
            self._knowledge.mode,
        )

    def current(self) -> Knowledge:
        """The knowledge to answer from, re-read first if the files changed since last read.

        A change that can't be read (a file saved half-way, a permission slip) keeps the last
        good version, with one error in the log, until the files are fixed.
        """
        if self._clock() - self._checked < self.reload_interval:
            return self._knowledge
        with self._lock:
            if self._clock() - self._checked < self.reload_interval:
                return self._knowledge
            try:
                self._reload_if_changed()
            finally:
                self._checked = self._clock()
            return self._knowledge

    def turn_setup(self) -> TurnSetup:
        """What the engine adds to this turn, from the current documents."""
        return self.current().turn_setup()

    def search(self, query: str, *, limit: int = 3) -> list[dict[str, str]]:
        """The best-matching sections of the current documents, best first."""
        self.current()
        return self._index.search(query, limit=limit)

    def close(self) -> None:
        self._index.close()

    def _reload_if_changed(self) -> None:
        try:
            if stamps(self.directory) == self._stamps:
                return
            knowledge, found = self._read()
        except KnowledgeError as error:
            if self._failed != str(error):
                logger.error("Policy documents not reloaded, keeping the last good ones: %s", error)
                self._failed = str(error)
            return
        self._failed = None
        before = self._knowledge
        self._knowledge, self._stamps = knowledge, found
        logger.info(
            "Reloaded policy documents from %s: %d sections, %s mode (was %s)",
            self.directory,
            len(knowledge.sections),
            knowledge.mode,
            before.mode,
        )

    def _read(self) -> tuple[Knowledge, tuple[FileStamp, ...]]:
        documents, found = load_documents(self.directory)
        knowledge = Knowledge(self.directory, documents, self.token_budget)
        self._index.replace(
            {
                "document": s.document,
                "title": s.title,
                "heading": s.heading,
                "name": s.name,
                "text": s.text,
            }
            for s in knowledge.sections
        )
        return knowledge, found


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
