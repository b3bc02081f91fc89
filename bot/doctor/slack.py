"""The doctor's Slack checks: tokens, auth.test, granted scopes, Socket Mode or HTTP mode,
the escalation channel and the approvers. Read-only: every call here only asks.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

from bot.cli.preflight import (
    APP_TOKEN_FIX,
    APP_TOKEN_PREFIX,
    BOT_TOKEN_FIX,
    BOT_TOKEN_PREFIXES,
    REJECTED,
    url_fix,
)
from bot.doctor.people import people_check
from bot.doctor.result import Check, ok, problem, warning
from bot.doctor.slack_calls import (
    AREA,
    REINSTALL_FIX,
    SlackCallFailed,
    call,
    web_client,
)
from bot.settings import Settings
from bot.slack.scopes import MANIFEST_SCOPES

logger = logging.getLogger(__name__)


def token_kind(token: str) -> str:
    if token.startswith(BOT_TOKEN_PREFIXES):
        return "bot"
    if token.startswith(APP_TOKEN_PREFIX):
        return "app"
    if token.startswith("xoxp-"):
        return "user"
    return "unknown"


_KIND_NAMES = {
    "bot": "a bot token (xoxb-...)",
    "app": "an app-level token (xapp-...)",
    "user": "a user token (xoxp-...)",
    "unknown": "not a Slack token",
}


def slack_checks(settings: Settings) -> list[Check]:
    """Every Slack check, in order; later ones are skipped when the bot token cannot work."""
    checks = [*_token_checks(settings), _mode_check(settings)]
    bot_token = settings.slack_bot_token
    if bot_token and token_kind(bot_token) == "bot":
        checks += _workspace_checks(settings)
    app_token = settings.slack_app_token
    if app_token and token_kind(app_token) == "app":
        checks.append(_socket_mode_check(settings, app_token))
    return checks


def _token_checks(settings: Settings) -> list[Check]:
    checks = []
    bot = settings.slack_bot_token
    if not bot:
        checks.append(problem(AREA, "bot token", "SLACK_BOT_TOKEN is not set.", BOT_TOKEN_FIX))
    elif token_kind(bot) == "bot":
        checks.append(ok(AREA, "bot token", "SLACK_BOT_TOKEN is a bot token (xoxb-...)."))
    else:
        summary = f"SLACK_BOT_TOKEN holds {_KIND_NAMES[token_kind(bot)]}, not a bot token."
        checks.append(problem(AREA, "bot token", summary, BOT_TOKEN_FIX))
    app = settings.slack_app_token
    if app and token_kind(app) == "app":
        checks.append(ok(AREA, "app token", "SLACK_APP_TOKEN is an app-level token (xapp-...)."))
    elif app:
        summary = f"SLACK_APP_TOKEN holds {_KIND_NAMES[token_kind(app)]}, not an app-level token."
        checks.append(problem(AREA, "app token", summary, APP_TOKEN_FIX))
    return checks


def _mode_check(settings: Settings) -> Check:
    """Socket Mode needs the app token; HTTP mode needs the signing secret; one of them."""
    secret = settings.slack_signing_secret
    if secret and token_kind(secret) != "unknown":
        return problem(
            AREA,
            "signing secret",
            "SLACK_SIGNING_SECRET holds a token, not the signing secret.",
            "Copy the Signing Secret from your Slack app's Basic Information page.",
        )
    modes = []
    if settings.slack_app_token:
        modes.append("Socket Mode (`shopmate run`, SLACK_APP_TOKEN)")
    if secret:
        modes.append("HTTP mode (`shopmate serve`, SLACK_SIGNING_SECRET is set)")
    if not modes:
        return problem(
            AREA,
            "mode",
            "neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set, so ShopMate cannot "
            "receive events.",
            "Set SLACK_APP_TOKEN for Socket Mode (`shopmate run`), or SLACK_SIGNING_SECRET "
            "(Basic Information → Signing Secret) for HTTP mode (`shopmate serve`).",
        )
    return ok(AREA, "mode", "ready for " + " and ".join(modes) + ".")


def _workspace_checks(settings: Settings) -> list[Check]:
    client = web_client(settings, settings.slack_bot_token)
    try:
        auth = call(client.auth_test)
    except SlackCallFailed as failed:
        return [_auth_problem(settings, failed)]
    team = f"{auth.get('team') or '?'} ({auth.get('team_id')})"
    bot = f"@{auth.get('user') or '?'} ({auth.get('user_id')})"
    checks = [ok(AREA, "auth.test", f"workspace {team}, bot user {bot}.")]
    checks.append(_scopes_check(auth.headers))
    if settings.escalation_channel:
        checks.append(_channel_check(client, settings.escalation_channel))
    people = people_check(client, settings)
    if people is not None:
        checks.append(people)
    return checks


def _auth_problem(settings: Settings, failed: SlackCallFailed) -> Check:
    if failed.code in REJECTED:
        return problem(
            AREA,
            "auth.test",
            f"Slack rejected SLACK_BOT_TOKEN ({failed.code}).",
            "Copy the Bot User OAuth Token (xoxb-...) again from OAuth & Permissions, and "
            "reinstall the app if it was removed.",
        )
    if failed.code == "connection":
        return problem(
            AREA,
            "auth.test",
            f"cannot reach Slack at {settings.slack_api_url} ({failed.detail}).",
            url_fix(settings),
        )
    return problem(
        AREA,
        "auth.test",
        f"Slack at {settings.slack_api_url} did not accept auth.test ({failed.code}).",
        url_fix(settings),
    )


def granted_scopes(headers: Any) -> set[str] | None:
    """The scopes in Slack's x-oauth-scopes response header; None when it sent none."""
    for name, value in dict(headers or {}).items():
        if str(name).lower() == "x-oauth-scopes":
            raw = value[0] if isinstance(value, list) else value
            return {s.strip() for s in str(raw).split(",") if s.strip()}
    return None


def _scopes_check(headers: Any) -> Check:
    granted = granted_scopes(headers)
    if granted is None:
        return warning(
            AREA,
            "scopes",
            "Slack did not say which scopes it granted (no x-oauth-scopes header).",
            "Check SLACK_API_URL points at Slack's Web API.",
        )
    missing = [s for s in MANIFEST_SCOPES if s not in granted]
    if missing:
        return problem(
            AREA,
            "scopes",
            f"the app lacks {len(missing)} scope(s) manifest.yml asks for: {', '.join(missing)}.",
            REINSTALL_FIX,
        )
    return ok(AREA, "scopes", f"all {len(MANIFEST_SCOPES)} scopes of manifest.yml are granted.")


def _channel_check(client: WebClient, channel: str) -> Check:
    name = "escalation channel"
    shown = f"SHOPMATE_ESCALATION_CHANNEL={channel}"
    try:
        info = call(client.conversations_info, channel=channel)["channel"]
    except SlackCallFailed as failed:
        if failed.code == "channel_not_found":
            return problem(
                AREA,
                name,
                f"{shown}: Slack has no such channel, or it is private and ShopMate is not in it "
                "(channel_not_found).",
                "Copy the id from the channel's details (About → Channel ID); for a private "
                "channel, invite ShopMate first (/invite @ShopMate).",
            )
        if failed.code == "missing_scope":
            return warning(
                AREA,
                name,
                f"{shown}: not checked, Slack needs the {failed.needed or '?'} scope to describe "
                "it (private channels need groups:read).",
                REINSTALL_FIX,
            )
        return problem(AREA, name, f"{shown}: conversations.info failed ({failed.code}).", "")
    label = f"#{info.get('name')} ({channel})"
    if info.get("is_archived"):
        return problem(AREA, name, f"{label} is archived.", "Unarchive it or give another channel.")
    if not info.get("is_member"):
        return problem(
            AREA,
            name,
            f"ShopMate is not a member of {label}, so escalations cannot be posted there.",
            "Invite it: type /invite @ShopMate in that channel.",
        )
    return ok(AREA, name, f"{label} exists and ShopMate is a member.")


def _socket_mode_check(settings: Settings, app_token: str) -> Check:
    """apps.connections.open answers with a URL; the doctor never connects to it."""
    name = "socket mode"
    try:
        call(web_client(settings, None).apps_connections_open, app_token=app_token)
    except SlackCallFailed as failed:
        if failed.code in REJECTED:
            return problem(
                AREA, name, f"Slack rejected SLACK_APP_TOKEN ({failed.code}).", APP_TOKEN_FIX
            )
        if failed.code == "not_allowed":
            return problem(
                AREA,
                name,
                "Socket Mode is off for this app (not_allowed).",
                "Turn it on under Socket Mode in your Slack app, or unset SLACK_APP_TOKEN and "
                "use `shopmate serve`.",
            )
        if failed.code == "connection":
            return problem(AREA, name, f"cannot reach Slack ({failed.detail}).", url_fix(settings))
        return problem(AREA, name, f"apps.connections.open failed ({failed.code}).", "")
    return ok(
        AREA,
        name,
        "apps.connections.open works with SLACK_APP_TOKEN (the connection was not opened).",
    )
