"""A PDF's page count, read cheaply before Claude is asked (its limit is 100 pages)."""

from __future__ import annotations

import io
import logging
import re

logger = logging.getLogger(__name__)

_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


class PdfError(ValueError):
    """Not a PDF anyone can open (damaged, or encrypted: Claude refuses those too)."""


def page_count(data: bytes) -> int:
    """Pages by pypdf (which reads compressed object streams); a damaged file is refused.

    pypdf is imported here, so only a question with a PDF pays for it.
    """
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise PdfError("encrypted PDF")
        return len(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
        raise PdfError(str(error)) from error


def estimate_pages(data: bytes) -> int:
    """A quick count of page objects, for token estimates only (never a check): at least 1."""
    return max(1, len(_PAGE.findall(data)))
