"""Files people attach to a question (images, PDFs), front-agnostic: checked, shrunk, sent.

A front describes each file as an `Attachment` (its declared name, type and size, and how to
fetch its bytes); `check_declared` refuses what cannot be read before anything is fetched;
`prepare` fetches, checks the bytes themselves, downscales and re-encodes images; storage
keeps the result by content hash; `blocks` turns a stored file into Claude's `image` or
`document` content block, the same bytes every turn so the prompt-cache prefix stays the same.
"""

from bot.attachments.blocks import FILE_REF, expand, file_ref, refs_in
from bot.attachments.limits import AttachmentLimits, FileProblem, check_declared
from bot.attachments.prepare import Attachment, FetchError, PreparedFile, prepare, read_all

__all__ = [
    "FILE_REF",
    "Attachment",
    "AttachmentLimits",
    "FetchError",
    "FileProblem",
    "PreparedFile",
    "check_declared",
    "expand",
    "file_ref",
    "prepare",
    "read_all",
    "refs_in",
]
