"""Bolt's listeners are registered in one place: bot/slack/listeners/ (as Bolt's samples do).

A newcomer looking for "what happens when someone clicks X" or "which events does ShopMate
take" reads one package; a listener decorated anywhere else would be a second place to look.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

from bot.slack.app import build_app, build_web_client
from bot.wiring import Services
from fakes.slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
LISTENERS = ROOT / "bot" / "slack" / "listeners"
# The App methods that register a listener.
REGISTERING = {"event", "message", "action", "view", "command", "shortcut", "options", "error"}


def _decorators(path: Path) -> list[str]:
    """`name.method` of every decorator that calls a registering method of some object."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(target, ast.Attribute) and target.attr in REGISTERING:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} @{target.attr}")
    return found


def test_no_listener_is_registered_outside_the_listeners_package():
    elsewhere = [
        found
        for path in sorted((ROOT / "bot").rglob("*.py"))
        if LISTENERS not in path.parents
        for found in _decorators(path)
    ]
    assert elsewhere == []


def test_the_app_gets_every_listener_from_that_package(services: Services, fake_slack: FakeSlack):
    web = build_web_client(replace(services.settings, slack_api_url=fake_slack.api_url))
    app, responder = build_app(services, web_client=web)
    try:
        registered = [
            f"{listener.ack_function.__module__}.{listener.ack_function.__name__}"
            for listener in app._listeners  # Bolt's own list, in registration order
        ]
    finally:
        responder.stop()
    assert registered and all(name.startswith("bot.slack.listeners.") for name in registered)
    # Every decorated function of the package is on the app (+1: the error handler is not a
    # listener), so no button is left unregistered by a condition nobody meant.
    package = [found for path in sorted(LISTENERS.rglob("*.py")) for found in _decorators(path)]
    assert len(registered) + 1 == len(package), (registered, package)
