"""No input breaks the API: every bad request gets a 4xx with {"error": "..."}, never a 500."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.api.conftest import ApiServer

JSON = {"Content-Type": "application/json"}


def post(api: ApiServer, key: str, path: str = "/chat", **kwargs):
    with api.client(key) as client:
        return client.post(path, **kwargs)


@pytest.fixture
def key(api: ApiServer) -> str:
    return api.new_key(f"bad-input-{uuid.uuid4().hex[:8]}")


BAD_BODIES = [
    # (why, content, headers, expected status)
    ("malformed JSON", b'{"message": ', JSON, 400),
    ("not JSON at all", b"hello", JSON, 400),
    ("invalid UTF-8", b'{"message": "\xff\xfe"}', JSON, 400),
    ("a number as message", json.dumps({"message": 5}).encode(), JSON, 422),
    ("a list as message", json.dumps({"message": ["hi"]}).encode(), JSON, 422),
    ("a number as id", json.dumps({"message": "hi", "conversation_id": 5}).encode(), JSON, 422),
    ("no message", json.dumps({"conversation_id": None}).encode(), JSON, 422),
    ("a client-held history", json.dumps({"message": "hi", "history": []}).encode(), JSON, 422),
    ("a list body", b"[1, 2]", JSON, 422),
    ("null body", b"null", JSON, 422),
    ("empty message", json.dumps({"message": ""}).encode(), JSON, 422),
    ("invisible message", json.dumps({"message": " \u200b\n\t"}).encode(), JSON, 422),
    ("over-long message", json.dumps({"message": "x" * 4001}).encode(), JSON, 422),
    (
        "wrong content type",
        json.dumps({"message": "hi"}).encode(),
        {"Content-Type": "text/plain"},
        415,
    ),
    (
        "form content type",
        b"message=hi",
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
    ),
    ("no content type", json.dumps({"message": "hi"}).encode(), {}, 415),
    # Over the chat limit: SHOPMATE_API_MAX_BODY_BYTES plus room for 5 files of 200,000 bytes.
    ("huge body", json.dumps({"message": "x" * 2_000_000}).encode(), JSON, 413),
]


@pytest.mark.parametrize("path", ["/chat", "/chat/stream"])
def test_each_bad_body_gets_its_status_and_a_json_error(api, fresh, key, path):
    for why, content, headers, expected in BAD_BODIES:
        response = post(api, key, path, content=content, headers=headers)
        assert response.status_code == expected, f"{why}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith("application/json"), why
        body = response.json()
        assert set(body) == {"error"} and body["error"], why
    assert fresh.requests == [], "no bad request reached Claude"


def test_a_huge_chunked_body_without_a_length_gets_413(api, fresh, key):
    def chunks():
        for _ in range(300):
            yield b"x" * 10_000

    response = post(api, key, content=chunks(), headers=JSON)
    assert response.status_code == 413 and "at most" in response.json()["error"]


def test_a_bad_idempotency_key_or_unknown_route_is_a_json_4xx(api, fresh, key):
    response = post(api, key, json={"message": "hi"}, headers={"Idempotency-Key": "a b"})
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["error"]
    with api.client(key) as client:
        missing = client.get("/nowhere")
        assert missing.status_code == 404 and set(missing.json()) == {"error"}
        wrong_method = client.get("/chat")
        assert wrong_method.status_code == 405 and set(wrong_method.json()) == {"error"}
        assert client.get("/conversations/not-an-id").status_code == 404
    assert fresh.requests == []


def test_the_server_stays_healthy_after_bad_input(api, fresh, key):
    for _, content, headers, _ in BAD_BODIES:
        post(api, key, content=content, headers=headers)
    response = post(api, key, json={"message": "Where is ORD-1001?"})
    assert response.status_code == 200 and "RM493827651GB" in response.json()["reply"]
    assert "Traceback" not in api.log()
