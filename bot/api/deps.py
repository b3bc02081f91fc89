"""What the API's routers share: the app's state, the key check, the error shape, the ids.

`create_app` (bot/api/app.py) puts one `ApiState` on `app.state.api`; routes reach it, and the
caller's key name, through FastAPI dependencies, so no route closes over the app.
"""

# No `from __future__ import annotations`: FastAPI reads the dependencies' annotations.
import logging
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from bot.api.turns import TurnRunner
from bot.keys import Key
from bot.settings import Settings
from bot.wiring import Services
from storage import Storage

logger = logging.getLogger(__name__)

CONVERSATION_ID = re.compile(r"[0-9a-f]{32}")

bearer = HTTPBearer(auto_error=False, description="A key from `shopmate api-keys create`")


@dataclass(frozen=True)
class ApiState:
    """One app's services and its turn runner (which owns this process's idempotency leases)."""

    services: Services
    runner: TurnRunner

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def storage(self) -> Storage:
        return self.services.storage


def api_state(request: Request) -> ApiState:
    return request.app.state.api


State = Annotated[ApiState, Depends(api_state)]


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The key's name; 401 for a missing, unknown or revoked key (its value is never logged)."""
    storage = api_state(request).storage
    name = storage.api_keys.verify(credentials.credentials) if credentials else None
    if name is None:
        logger.info("Refused an API request without a valid key")
        raise HTTPException(
            401, "a valid API key is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return name


KeyName = Annotated[str, Depends(authenticate)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retrying with the same key replays."),
]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Every error the API returns: `{"error": "..."}`."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def thread_key_for(key_name: str, conversation_id: str) -> str:
    """Conversations are stored per key: another key's id simply names no conversation."""
    return str(Key.api(key_name, conversation_id))


def conversation_id_of(thread_key: str) -> str:
    key = Key.parse(thread_key)
    assert key is not None, thread_key
    return key.last
