"""`shopmate api` (serve the HTTP API) and `shopmate api-keys create|list|revoke`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from bot.cli import preflight
from bot.cli.base import Add
from bot.cli.preflight import CommandError
from bot.settings import Settings

T = TypeVar("T")


def register(sub: Any, add: Add) -> None:
    """Add `api` and `api-keys` to the `shopmate` subparsers."""
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


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from bot.api.server import serve_api

    return serve_api(settings, host=args.host, port=args.port)


def _with_api_keys(settings: Settings, action: Callable[[Any], T]) -> T:
    """Run `action` on the API key store; a refused name or key is a one-line CommandError."""
    from storage import ApiKeyError, open_storage

    with open_storage(settings.storage_target) as storage:
        try:
            return action(storage.api_keys)
        except ApiKeyError as failure:
            raise CommandError(str(failure)) from None


def cmd_api_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    key = _with_api_keys(settings, lambda keys: keys.create(args.name))
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
    revoked = _with_api_keys(settings, lambda keys: keys.revoke(args.name))
    print(f"Revoked API key {args.name!r}." if revoked else f"{args.name!r} was already revoked.")
    return 0
