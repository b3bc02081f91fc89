"""`POST /describe` on `shopmate api`: keys, limits, bad input, the voice checks and storage.

One server for the module, talking to a fake Claude whose copywriter is scripted (it counts
the calls per product name, can break the voice or fail). Each test uses its own keys and
product names, so tests don't share state.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from bot.describe.catalogue import make_product, slug
from bot.describe.prompt import load_prompt
from bot.settings import DEFAULT_DESCRIBE_MODEL
from fakes.claude import FakeClaude, http_error
from fakes.claude.copywriter import ScriptedCopywriter
from tests.api.conftest import WAIT, ApiServer, start_api, wait_until

DESCRIBES_PER_MINUTE = 3
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def writer() -> ScriptedCopywriter:
    return ScriptedCopywriter()


@pytest.fixture(scope="module")
def claude(writer: ScriptedCopywriter) -> Iterator[FakeClaude]:
    with FakeClaude(model=writer) as fake:
        yield fake


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, claude: FakeClaude) -> Iterator[ApiServer]:
    db_path: Path = tmp_path_factory.mktemp("describe-api") / "shopmate.db"
    server = start_api(
        db_path,
        claude,
        {
            "SHOPMATE_API_KEY_DESCRIBES_PER_MINUTE": str(DESCRIBES_PER_MINUTE),
            "SHOPMATE_ANTHROPIC_RETRIES": "0",
        },
    )
    yield server
    server.stop()


@pytest.fixture
def key(api: ApiServer) -> str:
    return api.new_key(f"describe-{uuid.uuid4().hex[:8]}")


def product(name: str, **changes: object) -> dict[str, object]:
    """A valid request body for a product called `name` (its id comes from the name)."""
    return {
        "name": name,
        "material": "organic cotton",
        "price": "29.99",
        "colours": ["moss", "oat"],
        "key_feature": "a relaxed fit",
        **changes,
    }


def product_id(name: str) -> str:
    """The id the API makes from a name when the body has none (as `shopmate describe` does)."""
    return slug(name)


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:6]}"


def describe(api: ApiServer, key: str | None, body: object = None, **kwargs: object):
    with api.client(key) as client:
        if body is not None:
            return client.post("/describe", json=body, **kwargs)
        return client.post("/describe", **kwargs)


def test_a_product_is_described_with_a_key(api: ApiServer, key: str, writer: ScriptedCopywriter):
    name = unique("Moss Tee")
    response = describe(api, key, product(name, id="tee-moss-1"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "tee-moss-1"
    assert body["status"] == "ok" and body["stored"] is False
    assert "organic cotton" in body["description"] and body["problems"] == []
    assert body["error"] is None
    assert writer.calls[name] == 1
    # The same storage as `shopmate describe`: the answer is kept under the product id.
    made = make_product(**product(name, id="tee-moss-1"))  # type: ignore[arg-type]
    with api.storage() as storage:
        kept = storage.descriptions.get(
            made.id, load_prompt(DEFAULT_DESCRIBE_MODEL).input_hash(made)
        )
    assert kept is not None and kept["text"] == body["description"] and kept["status"] == "ok"


def test_an_unchanged_product_is_never_sent_twice(
    api: ApiServer, key: str, writer: ScriptedCopywriter
):
    name = unique("Oat Tee")
    first = describe(api, key, product(name))
    assert first.status_code == 200 and first.json()["stored"] is False
    # Same product again, from this key and from another: the stored answer, no model call.
    other = api.new_key(f"describe-other-{uuid.uuid4().hex[:8]}")
    for asker in (key, other):
        again = describe(api, asker, product(name, colours="moss|oat", price=29.99))
        assert again.status_code == 200, again.text
        assert again.json() == {**first.json(), "stored": True}
    assert writer.calls[name] == 1, "an unchanged product was sent to the model again"
    # A changed input is a new product to write.
    changed = describe(api, key, product(name, price="31.00"))
    assert changed.status_code == 200 and changed.json()["stored"] is False
    assert writer.calls[name] == 2


def test_a_voice_violation_is_retried_then_reported(
    api: ApiServer, key: str, writer: ScriptedCopywriter
):
    fixed, broken = unique("Fern Tee"), unique("Clay Tee")
    writer.violate(fixed, "forbidden_word", times=1)
    writer.violate(broken, "exclamation", times=2)

    retried = describe(api, key, product(fixed)).json()
    assert retried["status"] == "ok" and "vibrant" not in retried["description"].lower()
    assert writer.calls[fixed] == 2, "one retry naming the problem"

    reported = describe(api, key, product(broken))
    assert reported.status_code == 200, reported.text
    body = reported.json()
    assert body["status"] == "rejected" and body["description"] == ""
    assert any("exclamation" in problem for problem in body["problems"]), body
    assert writer.calls[broken] == 2, "one retry, not more"
    # Reported, and stored as paid for: asking again costs nothing.
    assert describe(api, key, product(broken)).json() == {**body, "stored": True}
    assert writer.calls[broken] == 2


def test_no_key_or_a_revoked_key_gets_401(api: ApiServer, writer: ScriptedCopywriter):
    name = unique("Kelp Tee")
    for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic eDp5"}):
        refused = describe(api, None, product(name), headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json() == {"error": "a valid API key is required"}
    revoked_name = f"describe-revoked-{uuid.uuid4().hex[:8]}"
    revoked = api.new_key(revoked_name)
    with api.storage() as storage:
        assert storage.api_keys.revoke(revoked_name)
    refused = describe(api, revoked, product(name))
    assert refused.status_code == 401 and "error" in refused.json()
    assert writer.calls[name] == 0


BAD_BODIES = [
    # (why, content, headers, status, words the error must contain)
    ("malformed JSON", b'{"name": ', JSON, 400, "JSON"),
    ("a list body", b"[1, 2]", JSON, 422, ""),
    (
        "no material",
        json.dumps({k: v for k, v in product("X").items() if k != "material"}),
        JSON,
        422,
        "material",
    ),
    ("empty material", json.dumps(product("X", material="  ")), JSON, 422, "material"),
    ("a number as name", json.dumps({**product("X"), "name": 5}), JSON, 422, "name"),
    ("price not a number", json.dumps(product("X", price="cheap")), JSON, 422, "price"),
    ("price zero", json.dumps(product("X", price=0.0)), JSON, 422, "price"),
    ("no colours", json.dumps(product("X", colours=[])), JSON, 422, "colours"),
    ("a bad id", json.dumps(product("X", id="tee 1!")), JSON, 422, "id"),
    ("an unknown field", json.dumps(product("X", force=True)), JSON, 422, "force"),
    ("a long name", json.dumps(product("x" * 201)), JSON, 422, "name"),
    ("not JSON content", b"name=X", {"Content-Type": "text/plain"}, 415, "JSON"),
    ("a huge body", json.dumps(product("X", material="x" * 70_000)), JSON, 413, "bytes"),
]


@pytest.mark.parametrize(
    ("content", "headers", "status", "words"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_bad_input_gets_a_4xx_with_an_error(
    api: ApiServer, key: str, claude: FakeClaude, content, headers, status, words
):
    before = len(claude.requests)
    response = describe(api, key, content=content, headers=headers)
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and isinstance(body["error"], str), body
    assert words in body["error"], body
    assert len(claude.requests) == before, "a bad request reached the model"


def test_new_descriptions_are_limited_per_key_with_retry_after(
    api: ApiServer, key: str, writer: ScriptedCopywriter
):
    names = [unique("Limit Tee") for _ in range(DESCRIBES_PER_MINUTE + 1)]
    for name in names[:-1]:
        assert describe(api, key, product(name)).status_code == 200
    limited = describe(api, key, product(names[-1]))
    assert limited.status_code == 429, limited.text
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "new descriptions a minute" in limited.json()["error"]
    assert writer.calls[names[-1]] == 0, "no model call over the limit"
    # Stored answers cost nothing: still served to the limited key.
    again = describe(api, key, product(names[0]))
    assert again.status_code == 200 and again.json()["stored"] is True
    # Limits are per key.
    other = api.new_key(f"describe-other-{uuid.uuid4().hex[:8]}")
    assert describe(api, other, product(names[-1])).status_code == 200


def test_a_failed_call_is_a_503_and_not_stored(
    api: ApiServer, key: str, writer: ScriptedCopywriter
):
    name = unique("Sand Tee")
    writer.fail(name, http_error(529, "overloaded_error", "Overloaded"))
    failed = describe(api, key, product(name))
    assert failed.status_code == 503, failed.text
    assert "Overloaded" in failed.json()["error"]
    # Nothing was paid for, so nothing was kept: the next request is written.
    retried = describe(api, key, product(name))
    assert retried.status_code == 200 and retried.json()["stored"] is False
    assert writer.calls[name] == 2


def test_a_description_being_written_never_blocks_the_server(
    api: ApiServer, key: str, writer: ScriptedCopywriter
):
    name = unique("Slow Tee")
    gate = writer.gate(name)
    results: list[object] = []
    asker = threading.Thread(target=lambda: results.append(describe(api, key, product(name))))
    asker.start()
    try:
        assert wait_until(lambda: writer.calls[name] == 1), "the request never reached the model"
        # The model is holding its answer; the API still answers others meanwhile.
        with httpx2.Client(base_url=api.url, timeout=10) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        gate.set()
        asker.join(WAIT)
    assert [r.status_code for r in results] == [200]  # type: ignore[attr-defined]


def test_a_client_that_leaves_still_gets_its_paid_answer_stored(
    api: ApiServer, key: str, writer: ScriptedCopywriter
):
    name = unique("Gone Tee")
    gate = writer.gate(name)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with (
            httpx2.Client(base_url=api.url, headers=headers, timeout=1.0) as client,
            pytest.raises(httpx2.TimeoutException),
        ):
            # The client gives up while the model is still writing.
            client.post("/describe", json=product(name))
        assert wait_until(lambda: writer.calls[name] == 1)
    finally:
        gate.set()
    # The call finishes on the server and is stored: asking again costs nothing.
    assert wait_until(lambda: describe(api, key, product(name)).json()["stored"] is True)
    assert writer.calls[name] == 1


def test_two_requests_for_one_product_at_once_share_one_call(
    api: ApiServer, key: str, writer: ScriptedCopywriter
):
    name = unique("Twin Tee")
    gate = writer.gate(name)
    other = api.new_key(f"describe-other-{uuid.uuid4().hex[:8]}")
    results: dict[str, object] = {}

    def ask(who: str, asker: str) -> None:
        results[who] = describe(api, asker, product(name))

    first = threading.Thread(target=ask, args=("first", key))
    second = threading.Thread(target=ask, args=("second", other))
    try:
        first.start()
        assert wait_until(lambda: writer.calls[name] == 1), "the request never reached the model"
        second.start()
        # The second request has arrived and waits for the call in progress.
        assert wait_until(
            lambda: f"Waiting for {product_id(name)}, already being written" in api.log()
        )
    finally:
        gate.set()
        first.join(WAIT)
        second.join(WAIT)
    one, two = (results[who].json() for who in ("first", "second"))  # type: ignore[attr-defined]
    assert one["status"] == "ok" and one["stored"] is False
    assert two == {**one, "stored": True}
    assert writer.calls[name] == 1, "the same product was paid for twice"
