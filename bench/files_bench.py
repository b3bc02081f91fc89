"""Benchmark `--only files`: a 4000×3000 screenshot, downscaled by ShopMate vs sent as uploaded.

Both go through ShopMate's own turn (storage, history, engine, the real anthropic SDK) to the
fake Claude, alternately, in one run. Measured: input tokens as the fake counts them
(Anthropic's estimate, width × height / 750 after the API's own resize to about 1.15
megapixels), the request's size, ShopMate's own preparation (Pillow: decode, downscale,
re-encode; real CPU time on this machine) and the time from the file's bytes in hand to the
first text of the answer.

The fake's extra time before the first token is a model, not a measurement: the request's
bytes at UPLOAD_BYTES_PER_S (a 10 Mbit/s uplink) and, for an image the API must downscale
itself, RESIZE_S_PER_MEGAPIXEL per megapixel (Anthropic's vision guide says such an image
"will increase latency of time-to-first-token" without saying by how much).
"""

from __future__ import annotations

import io
import json
import random
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench.harness import DEFAULT_PACE
from bench.stats import Summary
from bot.attachments import Attachment, AttachmentLimits, PreparedFile, prepare
from bot.events import TextDelta, TurnComplete
from bot.settings import Settings
from bot.wiring import build_services
from fakes.claude import FakeClaude, Pace

UPLOAD_BYTES_PER_S = 1_250_000.0
RESIZE_S_PER_MEGAPIXEL = 0.02
SIZE = (4000, 3000)


@dataclass
class Side:
    label: str
    input_tokens: int
    request_bytes: int
    file_bytes: int
    sent_size: str
    prepare_ms: Summary
    first_text_ms: Summary


def screenshot(size: tuple[int, int] = SIZE) -> bytes:
    """A text-heavy screenshot-like PNG (anti-aliased words on a light page), seeded."""
    from PIL import Image, ImageDraw, ImageFont

    rnd = random.Random(7)
    image = Image.new("RGB", size, (250, 250, 252))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0], 160), fill=(74, 21, 75))  # an app's title bar
    font = ImageFont.load_default(size=30)
    words = [
        "order",
        "delivery",
        "failed",
        "parcel",
        "returned",
        "tracking",
        "royal",
        "mail",
        "tee",
        "size",
        "faded",
    ]
    for y in range(260, size[1] - 60, 42):
        line = " ".join(rnd.choice(words) for _ in range(40))
        draw.text((120, y), line, fill=(30, 30, 40), font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def run(runs: int = 5, pace: Pace = DEFAULT_PACE, *, log=print) -> list[Side]:
    data = screenshot()
    paced = replace(
        pace, input_bytes_per_s=UPLOAD_BYTES_PER_S, resize_s_per_megapixel=RESIZE_S_PER_MEGAPIXEL
    )
    limits = AttachmentLimits()
    with FakeClaude(paced) as claude, tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_mapping(
            {
                "ANTHROPIC_API_KEY": "bench",
                "ANTHROPIC_BASE_URL": claude.url,
                "SHOPMATE_DB": str(Path(tmp) / "files.db"),
            }
        )
        services = build_services(settings)
        try:
            timings: dict[str, list[tuple[float, float]]] = {"downscaled": [], "as uploaded": []}
            shapes: dict[str, tuple[int, int, int, str]] = {}
            for index in range(runs):
                for label in timings:
                    started = time.perf_counter()
                    file = _file(data, limits, downscale=label == "downscaled")
                    prepared = time.perf_counter()
                    first, tokens = _turn(services, f"local:files-{label}-{index}", file)
                    timings[label].append(((prepared - started) * 1000, (first - started) * 1000))
                    request = claude.requests[-1]
                    size = f"{file.width}×{file.height} {file.media_type.split('/')[1].upper()}"
                    shapes[label] = (tokens, len(request.raw), len(file.data), size)
                log(f"files: run {index + 1}/{runs}")
        finally:
            services.close()
    return [
        Side(
            label,
            *shapes[label],
            Summary.of(p for p, _ in timings[label]),
            Summary.of(f for _, f in timings[label]),
        )
        for label in timings
    ]


def _file(data: bytes, limits: AttachmentLimits, *, downscale: bool) -> PreparedFile:
    attachment = Attachment("screenshot.png", "image/png", len(data), lambda: data)
    if downscale:
        result = prepare(attachment, limits)
        assert isinstance(result, PreparedFile), result
        return result
    # As uploaded: the person's bytes, untouched (what a bot without this step sends).
    return PreparedFile("screenshot.png", "image/png", data, *SIZE, original_bytes=len(data))


def _turn(services, thread_key: str, file: PreparedFile) -> tuple[float, int]:
    first = None
    tokens = 0
    question = "What does this screenshot say?"
    for event in services.conversations.answer(thread_key, question, files=[file]):
        if isinstance(event, TextDelta) and first is None:
            first = time.perf_counter()
        if isinstance(event, TurnComplete):
            usage = event.usage
            tokens = (
                usage.input_tokens
                + usage.cache_read_input_tokens
                + usage.cache_creation_input_tokens
            )
    assert first is not None, "no text came back"
    return first, tokens


def table(sides: list[Side]) -> str:
    lines = [
        f"A {SIZE[0]}×{SIZE[1]} screenshot (PNG) — fake Claude paced with a "
        f"{UPLOAD_BYTES_PER_S / 1e6:g} MB/s upload and {RESIZE_S_PER_MEGAPIXEL:g} s per megapixel "
        "the API must downscale itself (modelled, see bench/files_bench.py)",
        "",
        "| | sent | file | request | input tokens | ShopMate's preparation | to first text |",
        "|---|---|---|---|---|---|---|",
    ]
    for side in sides:
        lines.append(
            f"| {side.label} | {side.sent_size} | {side.file_bytes / 1e6:.2f} MB "
            f"| {side.request_bytes / 1e6:.2f} MB | {side.input_tokens} "
            f"| {side.prepare_ms.median:.0f} ms | {side.first_text_ms.median:.0f} ms "
            f"(p95 {side.first_text_ms.p95:.0f}) |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(run()))
    print(json.dumps({"size": SIZE}))
