"""manifest.yml subscribes every event the code listens to, grants every scope its calls need
(and no other), and turns on every surface the code relies on: the agent view, interactivity.

What the code relies on is read from the code itself, not from a list kept by hand: the Bolt
listeners registered in bot/ (`@app.event("…")`, `app.action(…)`, …) and every slack_sdk
WebClient method bot/ calls, mapped to its Web API method through slack_sdk's own source. A
new listener or call therefore fails here until the manifest (and the scope table below,
taken from docs.slack.dev/reference) say how Slack is to allow it.
"""

from __future__ import annotations

import ast
import inspect
import re
from functools import cache
from pathlib import Path

import yaml
from slack_sdk import WebClient

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
SCOPES = set(MANIFEST["oauth_config"]["scopes"]["bot"])
BOT_EVENTS = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])

# Web API methods and the bot scope each needs (None: any bot token may call it).
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.startStream": "chat:write",
    "chat.appendStream": "chat:write",
    "chat.stopStream": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.getPermalink": None,
    "assistant.threads.setStatus": "assistant:write",
    "assistant.threads.setSuggestedPrompts": "assistant:write",
    "assistant.threads.setTitle": "assistant:write",
    "usergroups.users.list": "usergroups:read",
    "views.publish": None,
    # `shopmate doctor`: the escalation channel, the approvers, Socket Mode (app-level token).
    "conversations.info": "channels:read",
    "users.info": "users:read",
    "apps.connections.open": None,
    "files.info": "files:read",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
}
# Private file URLs are downloaded with plain HTTP and the bot token (no WebClient method to
# find): a file object field the code reads, and the scope Slack wants for the download.
DOWNLOAD_FIELDS: dict[str, str] = {
    "url_private": "files:read",
    "url_private_download": "files:read",
}
# Subscribable bot events and the scope each needs (None: none beyond the app's bot user).
EVENT_SCOPES: dict[str, str | None] = {
    "app_mention": "app_mentions:read",
    "app_home_opened": None,
    "assistant_thread_started": "assistant:write",
    "assistant_thread_context_changed": "assistant:write",
    "message.im": "im:history",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.mpim": "mpim:history",
}
# The `message` listener answers DMs (and assistant threads, which are DMs) and follow-ups in
# the channel and private-channel threads ShopMate joined: without these it hears none of them.
MESSAGE_EVENTS_NEEDED = {"message.im", "message.channels", "message.groups"}
# slack_sdk helpers that call several methods without naming one in `api_call(...)`.
HELPER_METHODS = {"chat_stream": {"chat.startStream", "chat.appendStream", "chat.stopStream"}}
# ShopMate calls Slack one way (bot/slack/calls.py), naming the Web API method as a string:
# a method named in the code is a method called, except in these files, which name methods
# without calling them (the call budget's table of Slack's limits; the methods that create a
# message, watched by the recording client).
NAMES_WITHOUT_CALLS = {"budget.py", "recording.py"}
# Bolt listener kinds that Slack delivers through the interactivity request URL.
INTERACTIVE_LISTENERS = {"action", "block_action", "view", "view_submission", "shortcut", "options"}


def code_files() -> list[Path]:
    """ShopMate's own code (the fakes stand in for Slack; they call nothing)."""
    return [
        path
        for path in (ROOT / "bot").rglob("*.py")
        if "simulators" not in path.parts and "fakes" not in path.parts
    ]


@cache
def parsed() -> list[ast.Module]:
    return [ast.parse(path.read_text(), filename=str(path)) for path in code_files()]


def _app_calls() -> list[tuple[str, ast.Call]]:
    """Every `app.<kind>(...)` call in the code (decorators included), as (kind, call)."""
    found = []
    for tree in parsed():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "app"
            ):
                found.append((node.func.attr, node))
    return found


def listened_events() -> set[str]:
    """Event types of every `@app.event("type")` listener (a regex catch-all is not one)."""
    events = set()
    for kind, call in _app_calls():
        if kind == "event" and call.args and isinstance(call.args[0], ast.Constant):
            events.add(call.args[0].value)
    return events


def interactive_listeners() -> set[str]:
    return {kind for kind, _ in _app_calls() if kind in INTERACTIVE_LISTENERS}


@cache
def _api_method_of(client_method: str) -> set[str]:
    """The Web API method(s) a WebClient method calls, read from slack_sdk's source."""
    if client_method in HELPER_METHODS:
        return HELPER_METHODS[client_method]
    source = inspect.getsource(getattr(WebClient, client_method))
    return set(re.findall(r'api_call\(\s*"([\w.]+)"', source))


def called_methods() -> set[str]:
    """Every Web API method the code calls through a WebClient method (any receiver)."""
    web_methods = {
        name
        for name, member in inspect.getmembers(WebClient, inspect.isfunction)
        if not name.startswith("_") and (name in HELPER_METHODS or _api_method_of(name))
    }
    api_methods = set().union(*(_api_method_of(name) for name in web_methods))
    methods: set[str] = set()
    for path, tree in zip(code_files(), parsed(), strict=True):
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in web_methods:
                methods |= _api_method_of(node.attr)
            elif (
                isinstance(node, ast.Constant)
                and node.value in api_methods
                and path.name not in NAMES_WITHOUT_CALLS
            ):
                methods.add(node.value)  # SlackCalls(...).call(client, team, "chat.update")
    return methods


def downloaded_fields() -> set[str]:
    """File object fields whose URLs the code downloads (named as a string constant)."""
    return {
        node.value
        for tree in parsed()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in DOWNLOAD_FIELDS
    }


def test_every_private_file_download_has_its_scope():
    for field in downloaded_fields():
        assert DOWNLOAD_FIELDS[field] in SCOPES, f"downloading {field} needs files:read"


def test_the_code_reading_finds_what_it_should():
    """Guards the two readers above: if they found nothing, every other test would pass."""
    assert {"app_mention", "message", "app_home_opened", "assistant_thread_started"} <= (
        listened_events()
    )
    assert {
        "chat.postMessage",
        "chat.startStream",
        "assistant.threads.setStatus",
        "assistant.threads.setSuggestedPrompts",
        "assistant.threads.setTitle",
        "auth.test",
        "files.info",
    } <= called_methods()
    assert downloaded_fields() == {"url_private", "url_private_download"}


def test_every_event_the_code_listens_to_is_subscribed():
    for event in listened_events():
        if event == "message":
            missing = MESSAGE_EVENTS_NEEDED - BOT_EVENTS
            assert not missing, f"the message listener needs {sorted(missing)} subscribed"
        else:
            assert event in BOT_EVENTS, f"the code listens to {event}; subscribe it"


def test_every_subscribed_event_has_a_listener():
    """No subscription the code ignores: Slack would send it for nothing but an ack."""
    listened = listened_events()
    for event in BOT_EVENTS:
        assert event.split(".")[0] in listened, f"{event} is subscribed but nothing listens to it"


def test_every_subscribed_event_has_its_scope():
    for event in BOT_EVENTS:
        assert event in EVENT_SCOPES, f"add {event} and its scope to EVENT_SCOPES"
        scope = EVENT_SCOPES[event]
        assert scope is None or scope in SCOPES, f"{event} needs the {scope} scope"


def test_every_method_the_code_calls_has_its_scope():
    for method in called_methods():
        assert method in METHOD_SCOPES, f"add {method} and its scope to METHOD_SCOPES"
        scope = METHOD_SCOPES[method]
        assert scope is None or scope in SCOPES, f"{method} needs the {scope} scope"


def test_no_scope_is_asked_for_that_nothing_uses():
    """Least privilege: every scope the manifest asks workspaces for has a caller or an event."""
    used = (
        {METHOD_SCOPES.get(m) for m in called_methods()}
        | {EVENT_SCOPES.get(e) for e in BOT_EVENTS}
        | {DOWNLOAD_FIELDS[f] for f in downloaded_fields()}
    )
    unused = SCOPES - used
    assert not unused, f"no code needs {sorted(unused)}: drop it, or add its user to this test"


def test_interactivity_is_on_exactly_when_the_code_has_interactive_listeners():
    interactivity = MANIFEST["settings"].get("interactivity") or {}
    listeners = interactive_listeners()
    if listeners:
        assert interactivity.get("is_enabled") is True, f"{sorted(listeners)} need interactivity"
    else:
        assert not interactivity.get("is_enabled"), "interactivity is on but nothing handles it"


def test_the_agent_view_is_on():
    """People find ShopMate in Slack's AI entry point and split view, and talk in its DM."""
    features = MANIFEST["features"]
    assert features["agent_view"]["agent_description"].strip()
    assert "assistant_view" not in features, "one of agent_view / assistant_view, not both"
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["app_home"]["messages_tab_read_only_enabled"] is False
    assert "assistant:write" in SCOPES
    assert "app_home_opened" in BOT_EVENTS


def test_socket_mode_is_on_and_the_bot_has_a_name():
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["features"]["bot_user"]["display_name"]


def test_interactivity_is_on_when_the_app_listens_to_buttons():
    """Without it Slack never sends block_actions: the feedback buttons would do nothing."""
    from bot.slack.server import EVENTS_PATH

    assert "action" in interactive_listeners(), "the feedback listener is gone?"
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


def test_the_home_tab_is_on_exactly_when_the_code_publishes_it():
    """views.publish on a disabled Home tab answers `not_enabled`; an enabled one with nothing
    published shows people an empty page."""
    publishes = "views.publish" in called_methods()
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is publishes
    if publishes:
        assert "app_home_opened" in BOT_EVENTS
