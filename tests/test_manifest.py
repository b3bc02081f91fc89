"""manifest.yml subscribes every event the app listens to and grants every method's scope."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())

# Web API methods and the bot scope each needs (docs.slack.dev/reference/methods).
METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.startStream": "chat:write",
    "chat.appendStream": "chat:write",
    "chat.stopStream": "chat:write",
    "chat.postEphemeral": "chat:write",
    "assistant.threads.setStatus": "assistant:write",
    "auth.test": None,
    "chat.getPermalink": None,
    "usergroups.users.list": "usergroups:read",
}
# What the `message` listener needs to see: DMs and follow-ups in channel threads.
MESSAGE_EVENTS = {"message.im", "message.channels", "message.groups"}
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.im": "im:history",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.mpim": "mpim:history",
}


def slack_source() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "bot" / "slack").glob("*.py"))


def called_methods() -> set[str]:
    """Every `client.<method>(` the Slack layer calls, as Web API method names."""
    names = set(
        re.findall(
            r"client\.(chat_\w+|assistant_threads_\w+|auth_\w+|usergroups_users_\w+)\b",
            slack_source(),
        )
    )
    return {
        n.replace("assistant_threads_", "assistant.threads.")
        .replace("usergroups_users_", "usergroups.users.")
        .replace("_", ".", 1)
        for n in names
    }


def listened_events() -> set[str]:
    return set(re.findall(r'@app\.event\("(\w+)"\)', slack_source()))


def test_every_event_the_app_listens_to_is_subscribed():
    subscribed = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    events = listened_events()
    assert events == {"app_mention", "message"}
    assert "app_mention" in subscribed
    assert subscribed >= MESSAGE_EVENTS


def test_every_subscribed_event_has_its_scope():
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    for event in MANIFEST["settings"]["event_subscriptions"]["bot_events"]:
        assert EVENT_SCOPES[event] in scopes, event


def test_every_method_the_app_calls_has_its_scope():
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    methods = called_methods()
    assert {"chat.startStream", "chat.postMessage", "assistant.threads.setStatus"} <= methods
    for method in methods:
        assert method in METHOD_SCOPES, f"add {method} and its scope to this test"
        scope = METHOD_SCOPES[method]
        assert scope is None or scope in scopes, f"{method} needs {scope}"


def test_socket_mode_and_the_messages_tab_are_on():
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["features"]["app_home"]["messages_tab_enabled"] is True
    assert MANIFEST["features"]["bot_user"]["display_name"]


def test_interactivity_is_on_when_the_app_listens_to_buttons():
    """Without it Slack never sends block_actions: the feedback buttons would do nothing."""
    from bot.slack.server import EVENTS_PATH

    assert re.search(r"@app\.action\(", slack_source()), "the feedback listener is gone?"
    interactivity = MANIFEST["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    # HTTP mode: clicks come to the same signed URL as events (Bolt routes both).
    url = interactivity.get("request_url")
    if url is not None:
        assert url.endswith(EVENTS_PATH)
    else:
        text = (ROOT / "manifest.yml").read_text()
        assert re.search(
            r"interactivity:[^\n]*\n(?:\s+#.*\n|\s+is_enabled.*\n)*"
            r"\s+# request_url: https://YOUR-HOST" + EVENTS_PATH,
            text,
        )
