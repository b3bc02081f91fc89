"""Test files made on the spot: screenshots painted with text the fake reads, PDFs by hand."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from fakes.claude.media import band_colour


def painted_png(text: str, size: tuple[int, int] = (4000, 3000), *, mode: str = "RGB") -> bytes:
    """A screenshot-like PNG: a light page, some grey "lines of text", and `text` painted as
    colour bands across its top quarter (what the fake Claude reads, fakes/claude/media.py)."""
    width, height = size
    image = Image.new(mode, size, (246, 246, 250))
    draw = ImageDraw.Draw(image)
    for y in range(height // 3, height - 40, max(8, height // 40)):
        draw.rectangle(
            (width // 10, y, width * 8 // 10, y + max(2, height // 200)), fill=(60, 60, 70)
        )
    band = width / len(text)
    for index, char in enumerate(text):
        left = round(index * band)
        right = round((index + 1) * band) - 1
        draw.rectangle((left, 0, right, height // 4), fill=band_colour(index, char))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def photo_jpeg(size: tuple[int, int] = (1200, 900)) -> bytes:
    """A small JPEG (a photo of a faded tee, as far as anyone can tell)."""
    image = Image.new("RGB", size, (90, 120, 160))
    ImageDraw.Draw(image).ellipse((100, 100, size[0] - 100, size[1] - 100), fill=(180, 170, 150))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def minimal_pdf(*pages: str) -> bytes:
    """A valid PDF written by hand: one page per text, shown with Tj in Helvetica."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        content_id = 4 + 2 * i
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
                f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>"
            ).encode()
        )
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 14 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
