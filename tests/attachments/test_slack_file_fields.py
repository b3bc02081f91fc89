"""A Slack message's files survive parsing and the claim's storage, and odd ones are dropped."""

from __future__ import annotations

import json

from bot.slack.incoming import Incoming, parse_event

FILE = {
    "id": "F0001",
    "name": "shot.png",
    "mimetype": "image/png",
    "filetype": "png",
    "size": 1234,
    "url_private": "https://files.slack.com/files-pri/T1-F0001/shot.png",
    "url_private_download": "https://files.slack.com/files-pri/T1-F0001/download/shot.png",
    "thumb_64": "https://files.slack.com/thumb.png",
}


def event(**extra) -> dict:
    return {
        "type": "message",
        "subtype": "file_share",
        "user": "U1",
        "channel": "D1",
        "channel_type": "im",
        "ts": "1700000000.000100",
        "text": "look",
        **extra,
    }


def test_the_files_kept_with_a_claim_come_back_the_same():
    incoming = parse_event(event(files=[FILE]), team="T1", bot_user_id="UBOT")
    assert incoming is not None and incoming.has_files
    [kept] = incoming.files
    assert "thumb_64" not in kept and kept["url_private_download"] == FILE["url_private_download"]
    stored = json.loads(json.dumps(incoming.to_stored()))
    assert Incoming.from_stored(stored) == incoming


def test_files_that_are_not_what_slack_sends_make_the_event_not_a_message():
    for odd in ("x", [1], [{"name": "no id"}], [{**FILE, "size": "big"}], [{**FILE, "id": 5}]):
        assert parse_event(event(files=odd), team="T1", bot_user_id="UBOT") is None
    stored = parse_event(event(files=[FILE]), team="T1", bot_user_id="UBOT").to_stored()
    assert Incoming.from_stored({**stored, "files": [{"id": 1}]}) is None
