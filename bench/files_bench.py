"""Benchmark `--only files`: 4000×3000 images, downscaled by ShopMate vs sent as uploaded.

Both go through ShopMate's own turn (storage, history, engine, the real anthropic SDK) to the
fake Claude, alternately, in one run. Measured: input tokens as the fake counts them
(Anthropic's estimate, width × height / 750 after the API's own resize to about 1.15
megapixels), the request's size, ShopMate's own preparation (Pillow: decode, downscale,
re-encode; real CPU time on this machine) and the time from the file's bytes in hand to the
first text of the answer.

Two images: a text-heavy screenshot (PNG, well compressed) and a phone photo (JPEG, ~6 MB:
over the API's 5 MB an image, so as uploaded it is refused with a 400, as the fake does).
The fake's extra time before the first token is a model, not a measurement: the request's
bytes at UPLOAD_BYTES_PER_S (a server's 100 Mbit/s uplink) and, for an image the API must
downscale itself, RESIZE_S_PER_MEGAPIXEL per megapixel (Anthropic's vision guide says such an
image "will increase latency of time-to-first-token" without saying by how much).
"""

from __future__ import annotations

import io
import random
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench.harness import DEFAULT_PACE
from bench.stats import Summary
from bot.attachments import Attachment, AttachmentLimits, PreparedFile, prepare
from bot.events import TextDelta, TurnComplete, TurnFailed
from bot.settings import Settings
from bot.wiring import build_services
from fakes.claude import FakeClaude, Pace

UPLOAD_BYTES_PER_S = 12_500_000.0  # 100 Mbit/s: a server's uplink to the API
RESIZE_S_PER_MEGAPIXEL = 0.02
SIZE = (4000, 3000)


@dataclass
class Side:
    case: str
    label: str
    input_tokens: int | None
    request_bytes: int
    file_bytes: int
    sent_size: str
    prepare_ms: Summary
    first_text_ms: Summary
    refused: str | None = None


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


def photo(size: tuple[int, int] = SIZE) -> bytes:
    """A phone-camera-like JPEG (grain over a gradient, quality 92): about 6 MB."""
    from PIL import Image

    grain = Image.effect_noise(size, 40).convert("RGB")
    light = Image.linear_gradient("L").resize(size).convert("RGB")
    out = io.BytesIO()
    Image.blend(grain, light, 0.5).save(out, format="JPEG", quality=92)
    return out.getvalue()


def run(runs: int = 5, pace: Pace = DEFAULT_PACE, *, log=print) -> list[Side]:
    paced = replace(
        pace, input_bytes_per_s=UPLOAD_BYTES_PER_S, resize_s_per_megapixel=RESIZE_S_PER_MEGAPIXEL
    )
    cases = [("screenshot", "image/png", screenshot()), ("photo", "image/jpeg", photo())]
    sides: list[Side] = []
    with FakeClaude(paced) as claude, tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_mapping(
            {
                "ANTHROPIC_API_KEY": "bench",
                "ANTHROPIC_BASE_URL": claude.url,
                "SHOPMATE_DB": str(Path(tmp) / "files.db"),
                "SHOPMATE_MAX_RETRY_WAIT": "0.05",
            }
        )
        services = build_services(settings)
        try:
            for case, media_type, data in cases:
                sides += _case(services, claude, case, media_type, data, runs, log)
        finally:
            services.close()
    return sides


def _case(services, claude, case, media_type, data, runs, log) -> list[Side]:
    limits = AttachmentLimits()
    timings: dict[str, list[tuple[float, float | None]]] = {"downscaled": [], "as uploaded": []}
    shapes: dict[str, tuple] = {}
    for index in range(runs):
        for label in timings:
            started = time.perf_counter()
            file = _file(data, media_type, limits, downscale=label == "downscaled")
            prepared = time.perf_counter()
            first, tokens, refused = _turn(services, f"local:{case}-{label}-{index}", file)
            elapsed = None if first is None else (first - started) * 1000
            timings[label].append(((prepared - started) * 1000, elapsed))
            request = [r for r in claude.requests if r.path == "/v1/messages"][-1]
            size = f"{file.width}×{file.height} {file.media_type.split('/')[1].upper()}"
            shapes[label] = (tokens, len(request.raw), len(file.data), size, refused)
        log(f"files ({case}): run {index + 1}/{runs}")
    return [
        Side(
            case,
            label,
            *shapes[label][:4],
            Summary.of(p for p, _ in timings[label]),
            Summary.of(f for _, f in timings[label]),
            refused=shapes[label][4],
        )
        for label in timings
    ]


def _file(
    data: bytes, media_type: str, limits: AttachmentLimits, *, downscale: bool
) -> PreparedFile:
    name = "upload." + media_type.split("/")[1]
    attachment = Attachment(name, media_type, len(data), lambda: data)
    if downscale:
        result = prepare(attachment, limits)
        assert isinstance(result, PreparedFile), result
        return result
    # As uploaded: the person's bytes, untouched (what a bot without this step sends).
    return PreparedFile(name, media_type, data, *SIZE, original_bytes=len(data))


def _turn(
    services, thread_key: str, file: PreparedFile
) -> tuple[float | None, int | None, str | None]:
    """(time of the first text, input tokens, why the API refused it) for one question."""
    first = None
    question = "What does this show?"
    for event in services.answers.answer(thread_key, question, files=[file]):
        if isinstance(event, TextDelta) and first is None:
            first = time.perf_counter()
        if isinstance(event, TurnFailed):
            return None, None, event.error
        if isinstance(event, TurnComplete):
            usage = event.usage
            tokens = (
                usage.input_tokens
                + usage.cache_read_input_tokens
                + usage.cache_creation_input_tokens
            )
            return first, tokens, None
    return first, None, "no answer"


def table(sides: list[Side]) -> str:
    lines = [
        f"4000×3000 images, downscaled by ShopMate vs sent as uploaded — fake Claude paced with a "
        f"{UPLOAD_BYTES_PER_S * 8 / 1e6:g} Mbit/s upload and {RESIZE_S_PER_MEGAPIXEL:g} s per "
        "megapixel the API must downscale itself (modelled, see bench/files_bench.py)",
        "",
        "| image | | sent | file | request | input tokens | ShopMate's preparation "
        "| to first text |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for side in sides:
        tokens = "-" if side.input_tokens is None else str(side.input_tokens)
        first = (
            f"refused: {side.refused}"
            if side.refused
            else f"{side.first_text_ms.median:.0f} ms (p95 {side.first_text_ms.p95:.0f})"
        )
        lines.append(
            f"| {side.case} | {side.label} | {side.sent_size} | {side.file_bytes / 1e6:.2f} MB "
            f"| {side.request_bytes / 1e6:.2f} MB | {tokens} "
            f"| {side.prepare_ms.median:.0f} ms | {first} |"
        )
    return "\n".join(lines)
