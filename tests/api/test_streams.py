"""Streams under stress: a client that leaves mid-answer, and 50 streams at once."""

from __future__ import annotations

import threading

from fakes.claude import Pace, reply
from tests.api.conftest import WAIT, ApiServer, sse_events, wait_until
from tests.trust.conftest import history_problems

LONG_ANSWER = " ".join(f"word{i}" for i in range(300)) + "\n\nThe end."


def stored_history(api: ApiServer, name: str, conversation_id: str) -> list[dict]:
    with api.storage() as storage:
        return storage.conversations.history(f"api:{name}:{conversation_id}")


def test_a_client_leaving_mid_stream_leaves_a_finished_valid_conversation(api, fresh):
    name = "leaver"
    key = api.new_key(name)
    fresh.pace = Pace(tokens_per_s=60)  # about 5 s of answer: the client leaves early on
    fresh.enqueue(reply(LONG_ANSWER))
    conversation_id = None
    with api.client(key) as client:
        body = {"message": "Tell me a long story"}
        with client.stream("POST", "/chat/stream", json=body) as response:
            assert response.status_code == 200
            seen = ""
            for chunk in response.iter_text():
                seen += chunk
                if "event: text" in seen:
                    break
            conversation_id = sse_events(seen.rsplit("\n\n", 1)[0] + "\n\n")[0][1][
                "conversation_id"
            ]
            # The engine is mid-answer on a worker thread; the event loop still serves others.
            with api.client() as other:
                assert other.get("/healthz").status_code == 200
            assert fresh.requests[-1].timing.finished is None, "answered while Claude streams"
        # Leaving the block closed the connection with most of the answer unsent.
    assert conversation_id
    assert "The end." not in seen

    def answered() -> bool:
        history = stored_history(api, name, conversation_id)
        return len(history) == 2 and history[-1]["role"] == "assistant"

    assert wait_until(answered), "the turn finished and was stored without its client"
    history = stored_history(api, name, conversation_id)
    assert history[-1]["content"][0]["text"] == LONG_ANSWER
    assert history_problems(history) == []
    fresh.pace = Pace()
    with api.client(key) as client:
        follow_up = client.post(
            "/chat", json={"message": "Where is ORD-1001?", "conversation_id": conversation_id}
        )
    assert follow_up.status_code == 200, "the conversation carries on"
    assert history_problems(stored_history(api, name, conversation_id)) == []


def test_fifty_streams_at_once_all_finish_with_valid_histories(api, fresh):
    name = "fifty"
    key = api.new_key(name)
    fresh.pace = Pace(first_token_s=0.2, tokens_per_s=200)  # overlapping, not instant
    count = 50
    start = threading.Barrier(count + 1, timeout=WAIT)
    results: dict[int, list[tuple[str, dict]]] = {}
    errors: list[BaseException] = []

    def one(index: int) -> None:
        try:
            with api.client(key) as client:
                start.wait()
                response = client.post(
                    "/chat/stream", json={"message": f"Where is ORD-1001? (customer {index})"}
                )
                assert response.status_code == 200, response.text
                results[index] = sse_events(response.text)
        except BaseException as error:  # reported below, with the index
            errors.append(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    start.wait()
    with api.client() as client:
        assert client.get("/healthz").status_code == 200, "the event loop is not blocked"
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(results) == count
    conversation_ids = set()
    for events in results.values():
        assert events[0][0] == "start" and events[-1][0] == "done", events[-1]
        assert "RM493827651GB" in events[-1][1]["reply"]
        conversation_ids.add(events[0][1]["conversation_id"])
    assert len(conversation_ids) == count
    for conversation_id in conversation_ids:
        history = stored_history(api, name, conversation_id)
        assert history_problems(history) == [] and history[-1]["role"] == "assistant"
