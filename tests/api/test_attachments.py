"""Files over the HTTP API: JSON attachments with base64 data, read like Slack's, same limits."""

from __future__ import annotations

import base64

from tests.api.conftest import ApiServer
from tests.files_kit import minimal_pdf, painted_png


def attach(name: str, media_type: str, data: bytes) -> dict[str, str]:
    return {"name": name, "media_type": media_type, "data": base64.b64encode(data).decode()}


def chat(api: ApiServer, key: str, message: str, attachments: list[dict[str, str]]):
    with api.client(key) as client:
        return client.post("/chat", json={"message": message, "attachments": attachments})


def test_an_image_and_a_pdf_are_read_with_the_message(api, fresh):
    key = api.new_key("files-read")
    response = chat(
        api,
        key,
        "What do these say?",
        [
            attach("shot.png", "image/png", painted_png("Size M please")),
            attach("order.pdf", "application/pdf", minimal_pdf("ORD-1003 confirmation")),
        ],
    )
    assert response.status_code == 200, response.text
    reply = response.json()["reply"]
    assert "I see a 1238×928 PNG image and a 1-page PDF." in reply
    assert '"Size M please"' in reply and '"ORD-1003 confirmation"' in reply
    [request] = [r for r in fresh.requests if r.path == "/v1/messages"]
    kinds = [b["type"] for b in request.body["messages"][-1]["content"]]
    assert kinds == ["image", "document", "text"]


def test_a_file_shopmate_cannot_read_is_refused_without_calling_claude(api, fresh):
    key = api.new_key("files-zip")
    response = chat(api, key, "And this?", [attach("a.zip", "application/zip", b"PK\x03\x04")])
    assert response.status_code == 422
    assert "images (PNG, JPEG, GIF, WebP) and PDFs" in response.json()["error"]
    assert [r for r in fresh.requests if r.path == "/v1/messages"] == []


def test_bad_base64_and_too_many_files_are_422(api, fresh):
    key = api.new_key("files-bad")
    bad = {"name": "x.png", "media_type": "image/png", "data": "not base64!"}
    response = chat(api, key, "Look", [bad])
    assert response.status_code == 422 and "base64" in response.json()["error"]
    many = [attach(f"{i}.png", "image/png", painted_png("x", (300, 200))) for i in range(6)]
    response = chat(api, key, "Look", many)
    assert response.status_code == 422 and "at most 5 files" in response.json()["error"]
