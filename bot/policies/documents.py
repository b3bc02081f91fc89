"""ThreadCo's policy documents: Markdown files read from a folder and split into named sections.

A document is one `*.md` file. Its `# Title` (or, without one, its file name) names it, and
each `## Heading` starts a section named "Title › Heading"; text before the first `##` is a
section named by the title alone. Deeper headings stay inside their section. The name is what
Claude quotes, so a person can find the words an answer relies on.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bot.history import estimate_tokens
from bot.settings import SettingsError

logger = logging.getLogger(__name__)

#: The documents shipped with ShopMate, installed as package data (see pyproject.toml).
DEFAULT_KNOWLEDGE_DIR = Path(__file__).resolve().parents[1] / "knowledge"

SECTION_SEPARATOR = " › "
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")


class KnowledgeError(SettingsError):
    """The knowledge folder or one of its documents can't be used; the message says the fix."""


@dataclass(frozen=True)
class Section:
    """One quotable part of a document."""

    document: str  # the file name, e.g. "returns.md"
    title: str  # the document's title, e.g. "Returns"
    heading: str  # "" for the text before the first `##`
    text: str

    @property
    def name(self) -> str:
        """What answers quote, e.g. "Returns › Worn or washed tees"."""
        return f"{self.title}{SECTION_SEPARATOR}{self.heading}" if self.heading else self.title

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.name + "\n" + self.text)


@dataclass(frozen=True)
class Document:
    """One Markdown file and its sections."""

    file: str
    title: str
    sections: tuple[Section, ...]

    @property
    def tokens(self) -> int:
        return sum(section.tokens for section in self.sections)


@dataclass(frozen=True)
class FileStamp:
    """What a change check compares: a file's name, size and modification time."""

    name: str
    size: int
    mtime_ns: int


def parse_document(file: str, text: str) -> Document:
    """Split one Markdown text into sections at its `##` headings (never inside code fences)."""
    title = ""
    heading = ""
    lines: list[str] = []
    parts: list[tuple[str, list[str]]] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING_RE.match(line)
        if match and len(match.group(1)) == 1 and not title and not parts and not _has_text(lines):
            title = match.group(2)
            continue
        if match and len(match.group(1)) == 2:
            parts.append((heading, lines))
            heading, lines = match.group(2), []
            continue
        lines.append(line)
    parts.append((heading, lines))
    title = title or _title_from_file(file)
    sections = tuple(
        Section(document=file, title=title, heading=name, text="\n".join(body).strip())
        for name, body in parts
        if _has_text(body)
    )
    return Document(file=file, title=title, sections=sections)


def stamps(directory: Path) -> tuple[FileStamp, ...]:
    """The documents' stamps, sorted by name; cheap enough to call on every turn.

    Raises KnowledgeError if the folder is missing or holds no `*.md` file.
    """
    try:
        entries = sorted(
            (entry for entry in os.scandir(directory) if _is_document(entry)),
            key=lambda entry: entry.name,
        )
        found = tuple(
            FileStamp(entry.name, stat.st_size, stat.st_mtime_ns)
            for entry in entries
            for stat in [entry.stat()]
        )
    except FileNotFoundError:
        raise KnowledgeError(
            f"SHOPMATE_KNOWLEDGE_DIR={directory} does not exist. Point it at a folder of "
            "Markdown policy documents, or unset it to use the ones shipped with ShopMate."
        ) from None
    except NotADirectoryError:
        raise KnowledgeError(
            f"SHOPMATE_KNOWLEDGE_DIR={directory} is a file, not a folder. Point it at a folder "
            "of Markdown policy documents."
        ) from None
    except PermissionError:
        raise KnowledgeError(
            f"SHOPMATE_KNOWLEDGE_DIR={directory} can't be read (permission denied). Let "
            "ShopMate's user read it."
        ) from None
    if not found:
        raise KnowledgeError(
            f"SHOPMATE_KNOWLEDGE_DIR={directory} holds no Markdown documents (*.md). Add your "
            "policies there, or unset it to use the ones shipped with ShopMate."
        )
    return found


def load_documents(directory: Path) -> tuple[tuple[Document, ...], tuple[FileStamp, ...]]:
    """Read and parse every document; the stamps say which versions were read.

    Stamps are taken before reading, so a file edited while we read it looks changed at the
    next check and is read again. Raises KnowledgeError naming the first file that can't be
    read, or when no document has any text.
    """
    found = stamps(directory)
    documents = []
    for stamp in found:
        document = read_document(directory / stamp.name)
        if not document.sections:
            logger.warning("Policy document %s is empty; it is left out", directory / stamp.name)
        documents.append(document)
    if not any(document.sections for document in documents):
        raise KnowledgeError(
            f"Every document in SHOPMATE_KNOWLEDGE_DIR={directory} is empty. Write your "
            "policies in them, or unset it to use the ones shipped with ShopMate."
        )
    return tuple(documents), found


def read_document(path: Path) -> Document:
    """Read and parse one document; raises KnowledgeError saying why it can't be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise KnowledgeError(f"{path} is not UTF-8 text. Save it as UTF-8 Markdown.") from None
    except OSError as error:
        raise KnowledgeError(
            f"{path} can't be read ({error.strerror or error}). Let ShopMate's user read it, "
            "or move it out of SHOPMATE_KNOWLEDGE_DIR."
        ) from None
    return parse_document(path.name, text)


def _is_document(entry: os.DirEntry[str]) -> bool:
    # Editors' swap and backup files (".returns.md.swp", "returns.md~") never end in ".md".
    return entry.name.endswith(".md") and not entry.name.startswith(".") and entry.is_file()


def _has_text(lines: list[str]) -> bool:
    return any(line.strip() for line in lines)


def _title_from_file(file: str) -> str:
    stem = file.removesuffix(".md").replace("-", " ").replace("_", " ").strip()
    return stem[:1].upper() + stem[1:]
