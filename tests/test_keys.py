"""Conversation and message keys are built and parsed in one place."""

from __future__ import annotations

import pytest

from bot.keys import Key
from bot.slack.incoming import parse_event_key


def test_each_shape_round_trips():
    for key, text in [
        (Key.slack("T1", "C1", "1700000000.000100"), "slack:T1:C1:1700000000.000100"),
        (Key.api("help-centre", "0" * 32), "api:help-centre:" + "0" * 32),
        (Key.local("t3"), "local:t3"),
        (Key.local("a:b"), "local:a:b"),
    ]:
        assert str(key) == text
        assert Key.parse(text) == key


def test_what_is_not_a_key_parses_to_none_and_bad_parts_are_refused():
    for text in ["", "slack", "slack:T1:C1", "api:only-name", "local:", "other:x", "slack:T1::1.2"]:
        assert Key.parse(text) is None, text
    with pytest.raises(ValueError):
        Key.api("a:b", "c")
    with pytest.raises(ValueError):
        Key.slack("T1", "", "1.2")


def test_slack_event_keys_parse_through_the_key_type():
    assert parse_event_key("slack:T1:C1:1700000000.000100") == ("T1", "C1", "1700000000.000100")
    assert parse_event_key("api:k:" + "0" * 32) is None
    assert parse_event_key("slack:T1:C1:not-a-ts") is None
