"""The fake Claude's Models API in Anthropic's wire format, through the real anthropic SDK."""

from __future__ import annotations

import anthropic
import pytest

from fakes.claude import FakeClaude


def test_models_are_listed_newest_first_and_paged():
    with FakeClaude() as fake:
        client = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
        page = client.models.list(limit=2)
        assert [m.id for m in page.data] == ["claude-haiku-5-5", "claude-sonnet-5-5"]
        assert page.has_more and page.first_id == "claude-haiku-5-5"
        assert page.last_id == "claude-sonnet-5-5"
        every = [m.id for m in client.models.list(limit=2)]  # the SDK follows after_id
        assert every == [m.id for m in fake.models]
        assert all(m.type == "model" and m.display_name for m in page.data)


def test_a_model_is_retrieved_by_id_or_alias():
    with FakeClaude() as fake:
        client = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
        model = client.models.retrieve("claude-sonnet-5-5")
        assert (model.id, model.display_name) == ("claude-sonnet-5-5", "Claude Sonnet 5.5")
        assert client.models.retrieve("claude-haiku-4-5").id == "claude-haiku-4-5-20251001"


def test_a_removed_model_is_not_found():
    with FakeClaude() as fake:
        fake.remove_model("claude-sonnet-5-5")
        client = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
        with pytest.raises(anthropic.NotFoundError):
            client.models.retrieve("claude-sonnet-5-5")
        assert "claude-sonnet-5-5" not in [m.id for m in client.models.list()]


def test_a_wrong_key_is_a_401_authentication_error():
    with FakeClaude(api_key="right") as fake:
        client = anthropic.Anthropic(api_key="wrong", base_url=fake.url, max_retries=0)
        with pytest.raises(anthropic.AuthenticationError) as raised:
            client.models.list()
        assert raised.value.body["error"]["type"] == "authentication_error"
