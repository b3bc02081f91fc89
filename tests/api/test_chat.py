"""The HTTP API over a real socket: both chat endpoints, history, ownership, idempotency, errors."""

from __future__ import annotations

import json

from bot import prompts
from fakes.claude import http_error, reply
from tests.api.conftest import ApiServer, sse_events, wait_until
from tests.trust.conftest import history_problems

TRACKING = "RM493827651GB"  # ORD-1001's tracking number in the sample orders


def chat(api: ApiServer, key: str, message: str, conversation_id: str | None = None, **kw):
    with api.client(key) as client:
        return client.post(
            "/chat", json={"message": message, "conversation_id": conversation_id}, **kw
        )


def stream(api: ApiServer, key: str, message: str, conversation_id: str | None = None, **kw):
    """POST /chat/stream; returns (status, content type, raw body)."""
    with api.client(key) as client:
        body = {"message": message, "conversation_id": conversation_id}
        response = client.post("/chat/stream", json=body, **kw)
        return response.status_code, response.headers.get("content-type", ""), response.text


def test_chat_answers_with_reply_tool_calls_and_usage(api, fresh):
    key = api.new_key("chat-basic")
    response = chat(api, key, "Where is ORD-1001?")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"conversation_id", "reply", "tool_calls", "usage"}
    assert TRACKING in body["reply"]
    assert body["tool_calls"] == [
        {"name": "get_order", "input": {"order_id": "ORD-1001"}, "is_error": False}
    ]
    assert body["usage"]["model_calls"] >= 1 and body["usage"]["output_tokens"] > 0


def test_stream_sends_json_events_and_multi_line_text_survives(api, fresh):
    key = api.new_key("stream-lines")
    text = "Line one\nLine two\n\ndata: not an event\n\nevent: nor this\r\nend"
    fresh.enqueue(reply(text))
    status, content_type, raw = stream(api, key, "Tell me in lines")
    assert status == 200 and content_type.startswith("text/event-stream")
    events = sse_events(raw)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done" and "text" in names
    streamed = "".join(data["text"] for name, data in events if name == "text")
    assert streamed == text
    assert events[-1][1]["reply"] == text
    assert events[0][1]["conversation_id"]


def test_stream_reports_tool_calls_started_and_finished(api, fresh):
    key = api.new_key("stream-tools")
    status, _, raw = stream(api, key, "Where are ORD-1001 and ORD-9999?")
    assert status == 200
    tools = [data for name, data in sse_events(raw) if name == "tool"]
    assert {(t["input"]["order_id"], t["status"]) for t in tools} == {
        ("ORD-1001", "started"),
        ("ORD-1001", "finished"),
        ("ORD-9999", "started"),
        ("ORD-9999", "finished"),
    }
    finished = {t["input"]["order_id"]: t["is_error"] for t in tools if t["status"] == "finished"}
    assert finished == {"ORD-1001": False, "ORD-9999": True}


def test_history_is_kept_by_the_server_across_calls(api, fresh):
    key = api.new_key("history")
    first = chat(api, key, "Where is ORD-1001?").json()
    conversation_id = first["conversation_id"]
    status, _, raw = stream(api, key, "Can I change the size?", conversation_id)
    assert status == 200
    second = chat(api, key, "Thanks!", conversation_id)
    assert second.status_code == 200 and second.json()["conversation_id"] == conversation_id
    # The model saw the whole stored exchange each time, never a client-sent history.
    last = fresh.requests[-1].body["messages"]
    assert len(last) >= 5 and TRACKING in json.dumps(last)
    assert last[0]["content"][0]["text"] == "Where is ORD-1001?"
    with api.client(key) as client:
        stored = client.get(f"/conversations/{conversation_id}").json()
    assert stored["conversation_id"] == conversation_id
    entries = stored["messages"]
    assert [e["role"] for e in entries] == ["user", "assistant"] * 3
    assert entries[0]["text"] == "Where is ORD-1001?"
    assert entries[1]["tool_calls"] == first["tool_calls"] and TRACKING in entries[1]["text"]
    assert entries[3]["text"] == next(d for n, d in sse_events(raw) if n == "done")["reply"]
    with api.storage() as storage:
        history = storage.conversations.history(f"api:history:{conversation_id}")
    assert history_problems(history) == []


def test_a_key_sees_only_its_own_conversations(api, fresh):
    alice, bob = api.new_key("alice"), api.new_key("bob")
    conversation_id = chat(api, alice, "Where is ORD-1001?").json()["conversation_id"]
    requests_before = len(fresh.requests)
    with api.client(bob) as client:
        assert client.get(f"/conversations/{conversation_id}").status_code == 404
    other = chat(api, bob, "Where is ORD-1001?", conversation_id)
    assert other.status_code == 404 and other.json() == {"error": "no such conversation"}
    assert stream(api, bob, "hello", conversation_id)[0] == 404
    assert len(fresh.requests) == requests_before, "no model call for another key's id"
    with api.client(alice) as client:
        assert client.get(f"/conversations/{conversation_id}").status_code == 200
        assert client.get("/conversations/" + "0" * 32).status_code == 404


def test_no_key_unknown_key_or_revoked_key_gets_401(api, fresh):
    key = api.new_key("soon-revoked")
    assert chat(api, key, "hello").status_code == 200
    with api.storage() as storage:
        storage.api_keys.revoke("soon-revoked")
    for presented in (key, None, "sm_not-a-key", key + "x"):
        response = chat(api, presented, "hello")
        assert response.status_code == 401, presented
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {"error": "a valid API key is required"}
    with api.client(key) as client:
        assert client.get("/conversations/" + "0" * 32).status_code == 401
    with api.client(None, headers={"Authorization": f"Basic {key}"}) as client:
        assert client.post("/chat", json={"message": "hi"}).status_code == 401
    assert len(fresh.requests) == 1, "only the first message reached Claude"


def test_an_idempotent_retry_returns_the_first_answer_without_a_model_call(api, fresh):
    key = api.new_key("idempotent")
    headers = {"Idempotency-Key": "order-question-1"}
    first = chat(api, key, "Where is ORD-1001?", headers=headers)
    assert first.status_code == 200
    calls = len(fresh.requests)
    again = chat(api, key, "Where is ORD-1001?", headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    status, _, raw = stream(api, key, "Where is ORD-1001?", headers=headers)
    events = sse_events(raw)
    expected = {k: first.json()[k] for k in ("reply", "usage")}
    assert status == 200 and events[-1] == ("done", expected)
    assert events[0][1]["conversation_id"] == first.json()["conversation_id"]
    assert len(fresh.requests) == calls, "the retries made no model call"
    with api.storage() as storage:
        history = storage.conversations.history(f"api:idempotent:{first.json()['conversation_id']}")
    assert len(history) == 4, "the question was stored once"
    # The same key for another request is a client bug; other keys have their own namespace.
    reused = chat(api, key, "Where is ORD-1002?", headers=headers)
    assert reused.status_code == 422 and "Idempotency-Key" in reused.json()["error"]
    other = chat(api, api.new_key("idempotent-2"), "Where is ORD-1001?", headers=headers)
    assert other.status_code == 200 and other.json() != first.json()


def test_claude_failing_gives_the_slack_notice_and_the_next_message_works(api, fresh):
    key = api.new_key("failure")
    overloaded = http_error(529, "overloaded_error", "Overloaded")
    fresh.enqueue(overloaded, overloaded, overloaded)
    response = chat(api, key, "hello")
    assert response.status_code == 503
    assert response.json()["error"] == prompts.FAILURE_NOTICE
    conversation_id = response.json()["conversation_id"]
    fresh.enqueue(overloaded, overloaded, overloaded)
    status, _, raw = stream(api, key, "hello again", conversation_id)
    assert status == 200
    assert sse_events(raw)[-1] == ("error", {"message": prompts.FAILURE_NOTICE})
    after = chat(api, key, "Where is ORD-1001?", conversation_id)
    assert after.status_code == 200 and TRACKING in after.json()["reply"]


def test_health_and_openapi_docs(api):
    with api.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        docs = client.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        schema = client.get("/openapi.json").json()
    assert {"/chat", "/chat/stream", "/conversations/{conversation_id}"} <= set(schema["paths"])


def test_logs_name_keys_and_never_show_them(api, fresh):
    key = api.new_key("log-check")
    assert chat(api, key, "hello").status_code == 200
    # The server logs before it answers; our reader of its log may lag a little behind.
    assert wait_until(lambda: "key log-check" in api.log())
    log = api.log()
    assert key not in log and key[3:] not in log
