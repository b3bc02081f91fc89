"""Files checked, shrunk and told apart by their bytes, before Claude sees them."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.attachments import Attachment, AttachmentLimits, FileProblem, check_declared, prepare
from bot.attachments.images import MAX_LONG_EDGE, MAX_PIXELS, fit, shrink
from bot.slack.files import FileHosts
from tests.files_kit import minimal_pdf, painted_png, photo_jpeg


def given(data: bytes, name: str = "f", media_type: str | None = None) -> Attachment:
    return Attachment(name=name, media_type=media_type, size=len(data), fetch=lambda: data)


@pytest.mark.parametrize(
    ("size", "expected"),
    [((4000, 3000), (1238, 928)), ((1000, 800), (1000, 800)), ((3000, 500), (1568, 261))],
)
def test_images_fit_anthropics_recommended_size_and_are_never_enlarged(size, expected):
    width, height = fit(*size)
    assert (width, height) == expected
    assert max(width, height) <= MAX_LONG_EDGE and width * height <= MAX_PIXELS


def test_a_screenshot_stays_png_and_a_photo_pasted_as_png_becomes_jpeg():
    screenshot = shrink(painted_png("Hello there"))
    assert screenshot.media_type == "image/png"
    noisy = Image.effect_noise((1600, 1200), 60).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    assert shrink(out.getvalue()).media_type == "image/jpeg"
    assert shrink(photo_jpeg()).media_type == "image/jpeg"


def test_metadata_is_dropped_and_the_picture_turned_upright():
    image = Image.new("RGB", (400, 200), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    exif[0x010E] = "GPS and secrets"
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    shrunk = shrink(out.getvalue())
    assert (shrunk.width, shrunk.height) == (200, 400)
    assert b"GPS and secrets" not in shrunk.data


def test_the_type_is_told_by_the_bytes_not_by_the_name():
    limits = AttachmentLimits()
    problem = prepare(given(b"<html>hi</html>", "x.png", "image/png"), limits)
    assert isinstance(problem, FileProblem) and problem.reason == "unsupported type"
    pdf = prepare(given(minimal_pdf("a", "b", "c"), "scan.png", "image/png"), limits)
    assert not isinstance(pdf, FileProblem)
    assert pdf.media_type == "application/pdf" and pdf.pages == 3


def test_a_pdf_over_claudes_page_limit_and_a_damaged_one_are_refused():
    limits = AttachmentLimits()
    long = prepare(given(minimal_pdf(*["p"] * 101), "long.pdf"), limits)
    assert isinstance(long, FileProblem) and "101 pages" in long.notice
    broken = prepare(given(b"%PDF-1.4\n garbage", "broken.pdf"), limits)
    assert isinstance(broken, FileProblem) and broken.reason == "file unreadable"


def test_declared_checks_refuse_count_type_and_size_before_any_fetch():
    def never() -> bytes:
        raise AssertionError("fetched")

    limits = AttachmentLimits(max_file_bytes=1000, max_files=2)
    png = Attachment("a.png", "image/png", 10, never)
    assert check_declared([png, png], limits) is None
    assert check_declared([png] * 3, limits).reason == "too many files"
    zipped = Attachment("a.zip", "application/zip", 10, never)
    assert check_declared([zipped], limits).reason == "unsupported type"
    big = Attachment("big.png", "image/png", 1001, never)
    assert check_declared([big], limits).reason == "file too large"
    assert check_declared([Attachment("doc.PDF", None, 10, never)], limits) is None


def test_bytes_over_the_limit_are_refused_even_when_the_size_was_not_declared():
    data = painted_png("x", (500, 500))
    problem = prepare(given(data), AttachmentLimits(max_file_bytes=len(data) - 1))
    assert isinstance(problem, FileProblem) and problem.reason == "file too large"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/a.png", True),
        ("http://files.slack.com/files-pri/T1-F1/a.png", False),
        ("https://files.slack.com.evil.example/files-pri/a.png", False),
        ("https://user@files.slack.com/files-pri/a.png", False),
        ("https://evil.example/files-pri/a.png", False),
        ("https://slack.com/files-pri/T1-F1/a.png", True),
        ("http://127.0.0.1:9/files-pri/a.png", False),
    ],
)
def test_the_token_goes_only_to_slacks_file_host_and_the_configured_api_host(url, allowed):
    assert FileHosts.for_api("https://slack.com/api/").permits(url) is allowed


def test_files_too_large_together_for_one_request_are_refused():
    from bot.attachments import read_all

    pdf = minimal_pdf("a")
    limits = AttachmentLimits(max_total_base64=2 * len(pdf))
    assert len(read_all([given(pdf, "a.pdf")], limits)) == 1
    problem = read_all([given(pdf, "a.pdf"), given(pdf, "b.pdf")], limits)
    assert isinstance(problem, FileProblem) and problem.reason == "files too large together"
