"""The API's commands: `shopmate api`, `shopmate api-keys create|list|revoke`, `chat --url`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from bot.preflight import CommandError
from bot.settings import Settings, SettingsError


def _fail(message: str) -> Exception:
    """The CLI's one-line failure (exit 1); imported late, as bot.cli imports this module."""
    return CommandError(message)


def add_api_commands(
    sub: argparse._SubParsersAction,
    add: Callable[[Any, str, Callable[..., int] | None, str], argparse.ArgumentParser],
) -> None:
    """Add `api` and `api-keys` to the `shopmate` parser (`add` is bot.cli's helper)."""
    from bot import preflight

    p = add(sub, "api", cmd_api, "Serve the HTTP API (/chat, /chat/stream) with uvicorn.")
    preflight.add_listen_options(p, default_port=8000)

    keys = add(sub, "api-keys", None, "Create, list and revoke API keys (create, list, revoke).")
    keys_sub = keys.add_subparsers(
        dest="api_keys_command", metavar="ACTION", parser_class=type(keys)
    )
    p = add(keys_sub, "create", cmd_api_keys_create, "Create a key, printed once on the last line.")
    p.add_argument("name", help="who the key is for, e.g. help-centre (shown in logs and stats)")
    add(keys_sub, "list", cmd_api_keys_list, "List keys by name (never their values).")
    p = add(keys_sub, "revoke", cmd_api_keys_revoke, "Revoke a key; requests with it get 401.")
    p.add_argument("name", help="the key's name, as `api-keys list` shows it")


def add_remote_chat_options(parser: argparse.ArgumentParser) -> None:
    """`shopmate chat --url URL [--api-key KEY]`: talk to a remote API instead."""
    parser.add_argument(
        "--url",
        help="talk to this ShopMate API, e.g. http://127.0.0.1:8000 (default: no API, local)",
    )
    parser.add_argument("--api-key", help="with --url: the API key (default: SHOPMATE_API_KEY)")
    parser.add_argument(
        "--conversation",
        help="with --url: resume this conversation id (default: start a new one)",
    )


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from bot.api.server import serve_api

    return serve_api(settings, host=args.host, port=args.port)


def cmd_api_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from storage import ApiKeyError, open_storage

    with open_storage(settings.storage_target) as storage:
        try:
            key = storage.api_keys.create(args.name)
        except ApiKeyError as failure:
            raise _fail(str(failure)) from None
    print(f"Created API key {args.name!r} in {settings.db_path}. It is shown only now:")
    print(key)
    return 0


def cmd_api_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    from storage import open_storage

    with open_storage(settings.storage_target) as storage:
        keys = storage.api_keys.list()
    if not keys:
        print("No API keys yet: create one with `shopmate api-keys create NAME`.")
        return 0
    width = max(len(k["name"]) for k in keys)
    for k in keys:
        state = f"revoked {k['revoked_utc'][:19]}" if k["revoked_utc"] else "active"
        print(f"{k['name']:<{width}}  created {k['created_utc'][:19]}  {state}")
    return 0


def cmd_api_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from storage import ApiKeyError, open_storage

    with open_storage(settings.storage_target) as storage:
        try:
            revoked = storage.api_keys.revoke(args.name)
        except ApiKeyError as failure:
            raise _fail(str(failure)) from None
    print(f"Revoked API key {args.name!r}." if revoked else f"{args.name!r} was already revoked.")
    return 0


def cmd_remote_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.api.client import ApiClient, ApiError, remote_chat

    key = args.api_key or settings.api_key
    if not key:
        raise SettingsError(
            "SHOPMATE_API_KEY is not set. Pass --api-key or set SHOPMATE_API_KEY to a key from "
            "`shopmate api-keys create NAME`."
        )
    with ApiClient(args.url, key) as client:
        try:
            return remote_chat(
                client, stdin=sys.stdin, out=sys.stdout, conversation_id=args.conversation
            )
        except ApiError as failure:
            raise _fail(f"{args.url} refused: {failure.message}") from None
