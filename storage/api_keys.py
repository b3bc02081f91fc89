"""API keys for the HTTP API: created once, stored only as a hash, listed and revoked by name.

A key is shown to its owner exactly once, when it is created; afterwards only its name is
ever printed or logged. The name is what owns conversations and appears in `stats`, so names
are never reused, not even after a revocation: a new key with an old name would otherwise
inherit the revoked key's conversations.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from typing import Any

from storage.database import SharedDatabase

logger = logging.getLogger(__name__)

KEY_PREFIX = "sm_"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ApiKeyError(ValueError):
    """A key name is malformed, already taken, or unknown; the message says which."""


def hash_key(key: str) -> str:
    """The stored form of a key: hex SHA-256 (keys are random, so no salt or slow hash)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    """The name if it is usable as an owner id (no ':' or spaces), else ApiKeyError."""
    if not NAME_PATTERN.fullmatch(name or ""):
        raise ApiKeyError(
            f"key name {name!r} must be 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


class ApiKeyStore:
    """The `api_keys` table."""

    def __init__(self, shared: SharedDatabase) -> None:
        self._shared = shared

    def create(self, name: str) -> str:
        """Make a new key called `name` and return it; only its hash is stored."""
        check_name(name)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._shared.write() as db:
            keys = db.table("api_keys")
            if keys.count_where("name = ?", [name]):
                raise ApiKeyError(f"a key named {name!r} exists or existed; choose another name")
            keys.insert(
                {
                    "name": name,
                    "key_hash": hash_key(key),
                    "created_utc": self._shared.now(),
                    "revoked_utc": None,
                }
            )
        logger.info("created API key %s", name)
        return key

    def revoke(self, name: str) -> bool:
        """Revoke the key called `name`; False if it was already revoked. Unknown: ApiKeyError."""
        with self._shared.write() as db:
            keys = db.table("api_keys")
            rows = list(keys.rows_where("name = ?", [name], limit=1))
            if not rows:
                raise ApiKeyError(f"no key named {name!r}")
            if rows[0]["revoked_utc"]:
                return False
            keys.update(name, {"revoked_utc": self._shared.now()})
        logger.info("revoked API key %s", name)
        return True

    def list(self) -> list[dict[str, Any]]:
        """Every key's name and dates (never the hash), oldest first."""
        with self._shared.read() as db:
            return list(
                db.table("api_keys").rows_where(
                    select="name, created_utc, revoked_utc", order_by="created_utc"
                )
            )

    def verify(self, key: str) -> str | None:
        """The name of the live key `key`, or None for an unknown or revoked key."""
        if not key.startswith(KEY_PREFIX):
            return None
        digest = hash_key(key)
        with self._shared.read() as db:
            rows = list(
                db.table("api_keys").rows_where(
                    "key_hash = ?", [digest], select="name, key_hash, revoked_utc", limit=1
                )
            )
        if not rows or not hmac.compare_digest(rows[0]["key_hash"], digest):
            return None
        if rows[0]["revoked_utc"]:
            return None
        return str(rows[0]["name"])
