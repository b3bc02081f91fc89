"""From a front's attachment to the bytes Claude gets: fetch, check by content, shrink."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.attachments import images, pdf
from bot.attachments.kinds import PDF, is_image, sniff
from bot.attachments.limits import (
    Attachment,
    AttachmentLimits,
    FileProblem,
    not_fetched,
    too_big,
    too_big_together,
    too_many_pages,
    unopenable,
    unreadable,
)

logger = logging.getLogger(__name__)


class FetchError(Exception):
    """The front could not get the file's bytes (a failed download, a refused host)."""


@dataclass(frozen=True)
class PreparedFile:
    """What is stored and sent: the (re-encoded) bytes, their type and what Claude will see."""

    name: str
    media_type: str
    data: bytes
    width: int | None = None
    height: int | None = None
    pages: int | None = None
    original_bytes: int = 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def prepare(attachment: Attachment, limits: AttachmentLimits) -> PreparedFile | FileProblem:
    """Fetch and check one file by its bytes (type by magic, size, pages); shrink an image."""
    try:
        data = attachment.fetch()
    except FetchError as error:
        logger.warning("Could not fetch %s: %s", attachment.name, error)
        return not_fetched(attachment.name)
    if len(data) > limits.max_file_bytes:
        return too_big(attachment.name, limits)
    media_type = sniff(data)
    if media_type is None:
        return unreadable(attachment.name)
    if media_type == PDF:
        try:
            pages = pdf.page_count(data)
        except pdf.PdfError as error:
            logger.info("Refused PDF %s: %s", attachment.name, error)
            return unopenable(attachment.name)
        if pages > limits.max_pdf_pages:
            return too_many_pages(attachment.name, pages, limits)
        return PreparedFile(attachment.name, PDF, data, pages=pages, original_bytes=len(data))
    assert is_image(media_type)
    try:
        encoded = images.shrink(data)
    except images.ImageError as error:
        logger.info("Refused image %s: %s", attachment.name, error)
        return unopenable(attachment.name)
    return PreparedFile(
        attachment.name,
        encoded.media_type,
        encoded.data,
        width=encoded.width,
        height=encoded.height,
        original_bytes=len(data),
    )


def read_all(
    attachments: Sequence[Attachment], limits: AttachmentLimits
) -> list[PreparedFile] | FileProblem:
    """Every file prepared, in order; the first problem stops (later files are not fetched)."""
    prepared: list[PreparedFile] = []
    total = 0
    for attachment in attachments:
        result = prepare(attachment, limits)
        if isinstance(result, FileProblem):
            return result
        total += 4 * -(-len(result.data) // 3)  # its size in base64
        if total > limits.max_total_base64:
            return too_big_together()
        prepared.append(result)
    return prepared
