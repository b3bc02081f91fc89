"""The file types Claude reads, told by their bytes (magic numbers), not by a name or a claim."""

from __future__ import annotations

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
PDF = "application/pdf"
READABLE_TYPES = (*IMAGE_TYPES, PDF)
# Slack's `filetype` and common extensions, for a file whose declared mimetype is missing.
_BY_EXTENSION = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": PDF,
}
# What the polite line names: people know formats by these words.
READABLE_WORDS = "images (PNG, JPEG, GIF, WebP) and PDFs"


def sniff(data: bytes) -> str | None:
    """The media type the bytes are, by their first bytes; None for anything Claude can't read."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return PDF
    return None


def declared_type(mimetype: str | None, name: str | None) -> str | None:
    """The readable media type a front's metadata claims (mimetype, else the extension)."""
    if mimetype:
        lowered = mimetype.split(";")[0].strip().lower()
        if lowered == "image/jpg":
            lowered = "image/jpeg"
        return lowered if lowered in READABLE_TYPES else None
    if name and "." in name:
        return _BY_EXTENSION.get(name.rsplit(".", 1)[1].lower())
    return None


def is_image(media_type: str) -> bool:
    return media_type in IMAGE_TYPES
