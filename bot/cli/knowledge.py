"""`shopmate knowledge check`: which documents and sections Claude gets, their size, the mode."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from bot.cli.base import Add
from bot.policies import knowledge_dir
from bot.policies.documents import (
    Document,
    KnowledgeError,
    read_document,
    stamps,
)
from bot.policies.library import Knowledge
from bot.settings import Settings

EXIT_PROBLEM = 2  # a configuration mistake, as for every other command


def register(sub: Any, add: Add) -> None:
    """Add `shopmate knowledge check` (`add` is the CLI's helper that adds common options)."""
    group = add(sub, "knowledge", None, "Check the policy documents ShopMate answers from.")
    actions = group.add_subparsers(
        dest="knowledge_command", metavar="ACTION", parser_class=type(group)
    )
    add(
        actions,
        "check",
        cmd_knowledge_check,
        "List the policy documents, their sections and token counts, and say whether they go "
        "into the prompt or are searched (SHOPMATE_KNOWLEDGE_DIR, SHOPMATE_KNOWLEDGE_TOKENS).",
    )


def cmd_knowledge_check(args: argparse.Namespace, settings: Settings) -> int:
    return check(settings, out=sys.stdout, err=sys.stderr)


def check(settings: Settings, *, out: TextIO, err: TextIO) -> int:
    """Print the report; 0 if every document can be used, 2 (and a line per problem) if not.

    Every file is tried, so one run names every unreadable document, not just the first.
    """
    directory = knowledge_dir(settings)
    origin = "shipped with ShopMate" if settings.knowledge_dir is None else "SHOPMATE_KNOWLEDGE_DIR"
    found = stamps(directory)  # KnowledgeError: the CLI prints it as one line, status 2
    documents: list[Document] = []
    problems: list[str] = []
    for stamp in found:
        try:
            documents.append(read_document(directory / stamp.name))
        except KnowledgeError as error:
            problems.append(str(error))
    knowledge = Knowledge(directory, tuple(documents), settings.knowledge_token_budget)
    print(f"Policy documents in {directory} ({origin}):", file=out)
    width = max((len(s.name) for s in knowledge.sections), default=0)
    for document in documents:
        if not document.sections:
            print(f"  {document.file}: empty, left out", file=out)
            continue
        print(
            f"  {document.file} ({document.title}): {_plural(len(document.sections), 'section')}, "
            f"~{document.tokens:,} tokens",
            file=out,
        )
        for section in document.sections:
            print(f"    {section.name.ljust(width)}  ~{section.tokens:,} tokens", file=out)
    for problem in problems:
        print(f"shopmate: {problem}", file=err)
    if not knowledge.sections:
        if not problems:
            print(
                f"shopmate: every document in {directory} is empty. Write your policies in "
                "them, or unset SHOPMATE_KNOWLEDGE_DIR to use the ones shipped with ShopMate.",
                file=err,
            )
        return EXIT_PROBLEM
    budget = f"SHOPMATE_KNOWLEDGE_TOKENS={settings.knowledge_token_budget:,}"
    print(
        f"In all: {_plural(len([d for d in documents if d.sections]), 'document')}, "
        f"{_plural(len(knowledge.sections), 'section')}, ~{knowledge.tokens:,} tokens as sent "
        "to Claude (estimated).",
        file=out,
    )
    if knowledge.mode == "prompt":
        print(
            f"Mode: prompt. They fit {budget}, so they go into the system prompt, cached "
            "after the first turn.",
            file=out,
        )
    else:
        print(
            f"Mode: search. They are over {budget}, so Claude searches their sections with "
            "the search_policies tool.",
            file=out,
        )
    return EXIT_PROBLEM if problems else 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
