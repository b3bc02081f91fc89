"""Images downscaled to what Claude reads without resizing, and re-encoded (Pillow).

Anthropic's vision guide: an image whose long edge is over 1568 px, or over about 1.15
megapixels, is scaled down by the API before Claude sees it; that costs time to the first
token and gives Claude nothing more. Its cost is about width × height / 750 tokens. So we
scale to fit both limits here, once, and send the smaller file.

Re-encoding: a JPEG stays JPEG (quality 85). Anything else (PNG screenshots, GIF, WebP) is
written as PNG, which keeps small text in a screenshot sharp, unless the picture is
photo-like and a JPEG is under half the PNG's size (a photo pasted as PNG). WebP would be a
little smaller still, but the token cost depends only on the pixels, and PNG/JPEG are what
every tool that later opens an exported file reads. Re-encoding also drops metadata (EXIF,
GPS of a phone photo) after turning the picture upright by its EXIF orientation.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.attachments.limits import MAX_IMAGE_PIXELS

logger = logging.getLogger(__name__)

MAX_LONG_EDGE = 1568
MAX_PIXELS = 1_150_000
JPEG_QUALITY = 85


class ImageError(ValueError):
    """The bytes are not an image Pillow can open, or one too large to decode safely."""


@dataclass(frozen=True)
class Encoded:
    data: bytes
    media_type: str
    width: int
    height: int


def fit(width: int, height: int) -> tuple[int, int]:
    """The largest size within both of Anthropic's limits, aspect kept; never enlarged."""
    scale = min(1.0, MAX_LONG_EDGE / max(width, height), math.sqrt(MAX_PIXELS / (width * height)))
    if scale >= 1.0:
        return width, height
    # A hair over the exact product, so 3000 × (1568/3000) is 1568, not 1567.9999.
    return max(1, int(width * scale + 1e-6)), max(1, int(height * scale + 1e-6))


def shrink(data: bytes) -> Encoded:
    """The image fitted within Anthropic's limits and re-encoded."""
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ImageError(f"{width}x{height} is too many pixels to decode")
        source_format = image.format
        if source_format == "JPEG":
            # Decode a big photo at 1/2, 1/4 or 1/8 scale straight from its DCT data, never
            # below the target: a quarter of the work, and Lanczos does the rest.
            image.draft("RGB", fit(width, height))
        image.seek(0)  # an animated GIF: its first frame
        image = ImageOps.exif_transpose(image)
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, EOFError) as error:
        raise ImageError(str(error)) from error
    target = fit(*image.size)
    if target != image.size:
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        # reducing_gap: a quick integer box reduction first, then Lanczos: as sharp, ~2x faster.
        image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return _encode(image, jpeg_source=source_format == "JPEG")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def _encode(image: Image.Image, *, jpeg_source: bool) -> Encoded:
    width, height = image.size
    if jpeg_source:
        return Encoded(_jpeg(image), "image/jpeg", width, height)
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    png = io.BytesIO()
    # Fast deflate: measured on a 1238×928 screenshot, level 1 takes half the time of the
    # default and is a few per cent larger (optimize=True: 4x the time for 1%).
    image.save(png, format="PNG", compress_level=1)
    best = Encoded(png.getvalue(), "image/png", width, height)
    if not _has_alpha(image):
        jpeg = _jpeg(image)
        if len(jpeg) * 2 < len(best.data):
            best = Encoded(jpeg, "image/jpeg", width, height)
    return best


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
