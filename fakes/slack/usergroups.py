"""The fake's usergroups.users.list: who is in a user group (ShopMate's approver groups)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, ClassVar

from fakes.slack.wire import SlackError, require

logger = logging.getLogger(__name__)


class UsergroupMethods:
    """Mixed into FakeSlack; groups are workspace configuration, so `reset()` keeps them."""

    METHODS: ClassVar[dict[str, str]] = {"usergroups.users.list": "_usergroups_users_list"}

    def set_usergroup(self, group: str, users: Iterable[str]) -> None:
        """Create or replace user group `group` (an id like S0123) with these member ids."""
        with self._cond:  # type: ignore[attr-defined]
            self._usergroups[group] = list(users)  # type: ignore[attr-defined]

    def _usergroups_users_list(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        require(args, "usergroup")
        group = str(args["usergroup"])
        members = self._usergroups.get(group)  # type: ignore[attr-defined]
        if members is None:
            raise SlackError("no_such_subteam")
        return {"users": list(members)}
