"""Image and document blocks as the Messages API takes them: checks, token counts, what is seen.

Stdlib only (the fakes ship with ShopMate). The checks are the API's documented ones: the
source is base64 of one of the supported media types, the bytes are what the media type says
(by their magic numbers), an image is at most 5 MB and 8000 px a side, a PDF at most 100
pages. Tokens follow Anthropic's vision guide: an image over 1568 px on its long edge or
about 1.15 megapixels is first scaled down by the API, then costs width × height / 750.

What the stand-in "sees" in a picture: it cannot read pixels like Claude, so text is painted
as a strip of colour bands across the top of the image, one band per character (red = the
character's code, green 0x80/0x90 alternating so equal neighbours stay apart, blue 0x40). The
bands survive downscaling and lossless re-encoding as any picture's content would; tests paint
them with `band_colour`. Only PNG pixels are decoded (zlib and scanline filters), so a
picture sent as JPEG is seen only by its size. A PDF's text is read from its `(…) Tj`
operators in uncompressed content streams.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

MAX_REQUEST_BYTES = 32 * 1024 * 1024  # the Messages API's request size limit
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MAX_IMAGE_BASE64_BYTES = 5 * 1024 * 1024
MAX_IMAGE_SIDE = 8000
MAX_PDF_PAGES = 100
RESIZE_LONG_EDGE = 1568
RESIZE_PIXELS = 1_150_000
PDF_PAGE_TOKENS = 1_500  # the guide: 1,500-3,000 a page; text-light pages cost the least
_PAGE_RE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_TJ_RE = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj")
_GREENS = (0x80, 0x90)
_BLUE = 0x40


def band_colour(index: int, char: str) -> tuple[int, int, int]:
    """The colour of character `index` of painted text (see the module docstring)."""
    return ord(char) & 0xFF, _GREENS[index % 2], _BLUE


@dataclass(frozen=True)
class Media:
    """One image or document block, as the API understood it."""

    kind: str  # "image" or "document"
    media_type: str
    size: int  # decoded bytes
    width: int = 0
    height: int = 0
    pages: int = 0
    text: str = ""  # what the stand-in reads in it

    @property
    def tokens(self) -> int:
        if self.kind == "document":
            return PDF_PAGE_TOKENS * max(1, self.pages)
        width, height = resized(self.width, self.height)
        return max(1, math.ceil(width * height / 750))

    @property
    def needs_resize(self) -> bool:
        return resized(self.width, self.height) != (self.width, self.height)

    def describe(self) -> str:
        if self.kind == "document":
            return f"a {self.pages}-page PDF"
        name = self.media_type.split("/")[1].upper()
        return f"a {self.width}×{self.height} {name} image"


def resized(width: int, height: int) -> tuple[int, int]:
    """The size the API scales an image to before Claude sees it (unchanged if within limits)."""
    if not width or not height:
        return width, height
    scale = min(
        1.0, RESIZE_LONG_EDGE / max(width, height), math.sqrt(RESIZE_PIXELS / (width * height))
    )
    return (width, height) if scale >= 1.0 else (int(width * scale), int(height * scale))


def is_media(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") in ("image", "document")


def inspect(block: dict[str, Any], where: str) -> Media | str:
    """The block's media, or the API's invalid_request_error message for it."""
    kind = block["type"]
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") != "base64":
        return f"{where}.{kind}.source: only base64 sources are supported by this fake"
    media_type = source.get("media_type")
    allowed = IMAGE_TYPES if kind == "image" else ("application/pdf",)
    if media_type not in allowed:
        options = " or ".join(repr(t) for t in allowed)
        return f"{where}.{kind}.source.base64.media_type: Input should be {options}"
    raw = source.get("data")
    if not isinstance(raw, str):
        return f"{where}.{kind}.source.base64.data: Input should be a valid string"
    if kind == "image" and len(raw) > MAX_IMAGE_BASE64_BYTES:
        return (
            f"{where}.image.source.base64: image exceeds 5 MB maximum: {len(raw)} bytes > "
            f"{MAX_IMAGE_BASE64_BYTES} bytes"
        )
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return f"{where}.{kind}.source.base64.data: invalid base64 data"
    actual = sniff(data)
    if actual != media_type:
        return (
            f"{where}.{kind}.source.base64.data: The {kind} was specified using the "
            f"{media_type} media type, but the data does not appear to be a {media_type} file"
        )
    if kind == "document":
        pages = len(_PAGE_RE.findall(data))
        if pages > MAX_PDF_PAGES:
            return f"{where}.document: A maximum of {MAX_PDF_PAGES} PDF pages may be provided."
        return Media(kind, media_type, len(data), pages=max(1, pages), text=pdf_text(data))
    width, height = dimensions(data, media_type)
    if max(width, height) > MAX_IMAGE_SIDE:
        return (
            f"{where}.image.source.base64.data: At least one of the image dimensions exceed max "
            f"allowed size: {MAX_IMAGE_SIDE} pixels"
        )
    text = painted_text(data) if media_type == "image/png" else ""
    return Media(kind, media_type, len(data), width, height, text=text)


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def dimensions(data: bytes, media_type: str) -> tuple[int, int]:
    """(width, height) from the file's header; (0, 0) if it can't be read."""
    try:
        if media_type == "image/png":
            return struct.unpack(">II", data[16:24])
        if media_type == "image/gif":
            return struct.unpack("<HH", data[6:10])
        if media_type == "image/webp":
            return _webp_size(data)
        if media_type == "image/jpeg":
            return _jpeg_size(data)
    except struct.error:
        pass
    return 0, 0


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    w, h = struct.unpack("<HH", data[26:30])
    return w & 0x3FFF, h & 0x3FFF


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        i += 2 + length
    return 0, 0


def pdf_text(data: bytes) -> str:
    """The strings shown with `Tj` in the PDF's uncompressed content streams."""
    parts = [m.group(1).replace(rb"\(", b"(").replace(rb"\)", b")") for m in _TJ_RE.finditer(data)]
    return " ".join(p.decode("latin-1") for p in parts)


def painted_text(data: bytes) -> str:
    """Text painted as colour bands across the top of a PNG ('' if none)."""
    try:
        row = _top_row(data)
    except (ValueError, zlib.error, struct.error, IndexError):
        return ""
    chars: list[str] = []
    run: list[tuple[int, int, int]] = []
    for pixel in [*row, (-99, -99, -99)]:
        if run and _close(pixel, run[-1]):
            run.append(pixel)
            continue
        middle = run[len(run) // 2] if run else None
        if len(run) >= 5 and middle is not None and _is_band(middle):
            chars.append(chr(middle[0]))
        run = [pixel]
    return "".join(chars)


def _close(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return all(abs(x - y) <= 1 for x, y in zip(a, b, strict=True))


def _is_band(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return 32 <= r < 127 and any(abs(g - x) <= 3 for x in _GREENS) and abs(b - _BLUE) <= 3


def _top_row(data: bytes) -> list[tuple[int, int, int]]:
    """The first scanline of an 8-bit, non-interlaced RGB/RGBA/grey PNG, as RGB pixels.

    Only that row is inflated and unfiltered, so reading a 12-megapixel upload stays cheap.
    """
    width, _, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError("only 8-bit non-interlaced RGB(A)/grey PNGs are read")
    idat, pos = bytearray(), 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    stride = width * channels
    raw = zlib.decompressobj().decompress(bytes(idat), stride + 1)
    line = _unfilter(raw[0], bytearray(raw[1 : 1 + stride]), bytearray(stride), channels)
    pixels = [tuple(line[x * channels : x * channels + channels]) for x in range(width)]
    if channels in (1, 2):
        return [(p[0], p[0], p[0]) for p in pixels]
    return [(p[0], p[1], p[2]) for p in pixels]


def _unfilter(kind: int, line: bytearray, prior: bytearray, bpp: int) -> bytearray:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = prior[i]
        corner = prior[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
    return line


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def media_in(body: dict[str, Any]) -> list[Media]:
    """Every readable image and document block in the request's messages, in order."""
    found: list[Media] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if is_media(block):
                media = inspect(block, "media")
                if isinstance(media, Media):
                    found.append(media)
    return found


def input_delay(pace: Any, body: dict[str, Any], raw_bytes: int) -> float:
    """Seconds before the first token that the request's size adds, as `pace` says."""
    delay = 0.0
    rate = getattr(pace, "input_bytes_per_s", None)
    if rate:
        delay += raw_bytes / rate
    per_mp = getattr(pace, "resize_s_per_megapixel", 0.0)
    if per_mp:
        delay += sum(per_mp * m.width * m.height / 1e6 for m in media_in(body) if m.needs_resize)
    return delay
