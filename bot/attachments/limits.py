"""What ShopMate accepts before fetching a byte: how many files, how big, which types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.attachments.kinds import READABLE_WORDS, declared_type
from bot.settings import Settings

# Claude's own limits (Anthropic's vision and PDF docs): a PDF of at most 100 pages per
# request, images refused above 8000 px a side (we downscale far below that anyway).
CLAUDE_MAX_PDF_PAGES = 100
# A decompression bomb (a tiny file that unpacks to gigapixels) is refused before decoding.
MAX_IMAGE_PIXELS = 50_000_000


@dataclass(frozen=True)
class Attachment:
    """One file as a front describes it; `fetch` is called only once every check has passed."""

    name: str
    media_type: str | None
    size: int | None
    fetch: Callable[[], bytes]


@dataclass(frozen=True)
class AttachmentLimits:
    """SHOPMATE_MAX_FILE_BYTES, SHOPMATE_MAX_FILES and Claude's page limit, in one place."""

    max_file_bytes: int = Settings.max_file_bytes
    max_files: int = Settings.max_files
    max_pdf_pages: int = CLAUDE_MAX_PDF_PAGES
    # One message's files, in base64, within Claude's 32 MB request with room for the thread.
    max_total_base64: int = 24 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> AttachmentLimits:
        return cls(max_file_bytes=settings.max_file_bytes, max_files=settings.max_files)


@dataclass(frozen=True)
class FileProblem:
    """Why files were not read: `reason` for the log, `notice` for the person (one line)."""

    reason: str
    notice: str


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def unreadable(name: str) -> FileProblem:
    return FileProblem(
        "unsupported type",
        f"Sorry — I can't open {name!s}: I can read {READABLE_WORDS}. "
        "Could you send it as one of those, or paste the text?",
    )


def too_big(name: str, limits: AttachmentLimits) -> FileProblem:
    return FileProblem(
        "file too large",
        f"Sorry — {name} is too large for me to read (the limit is "
        f"{_mb(limits.max_file_bytes)} a file). Could you send a smaller screenshot or "
        "just the pages that matter?",
    )


def too_many_pages(name: str, pages: int, limits: AttachmentLimits) -> FileProblem:
    return FileProblem(
        "too many pages",
        f"Sorry — {name} has {pages} pages; I can read PDFs of up to "
        f"{limits.max_pdf_pages} pages. Could you send just the pages that matter?",
    )


def too_big_together() -> FileProblem:
    return FileProblem(
        "files too large together",
        "Sorry — these files are too large for me to read together. Could you send fewer, "
        "or just the pages that matter?",
    )


def unopenable(name: str) -> FileProblem:
    return FileProblem(
        "file unreadable",
        f"Sorry — I couldn't open {name}. I can read {READABLE_WORDS}; could you send it again?",
    )


def not_fetched(name: str) -> FileProblem:
    return FileProblem(
        "download failed",
        f"Sorry — I couldn't download {name}, so I haven't answered. Could you share it again?",
    )


def check_declared(
    attachments: Sequence[Attachment], limits: AttachmentLimits
) -> FileProblem | None:
    """The first reason not to read these files, judged on what the front says of them.

    Runs before any download or model call: too many files, a type Claude can't read (a zip,
    a spreadsheet, a video), or a size over the limit each get one polite line.
    """
    if len(attachments) > limits.max_files:
        return FileProblem(
            "too many files",
            f"Sorry — I can read at most {limits.max_files} files in one message. Could you "
            "send the ones that matter most?",
        )
    for attachment in attachments:
        if declared_type(attachment.media_type, attachment.name) is None:
            return unreadable(attachment.name)
        if attachment.size is not None and attachment.size > limits.max_file_bytes:
            return too_big(attachment.name, limits)
    return None
