"""The fake's views.publish: the Home tab each person sees, checked as Slack checks it.

A view that breaks Block Kit's rules (fakes/slack/block_kit.py: over 100 blocks, text too
long, duplicate ids, an element a block cannot hold) is refused with `invalid_arguments`,
so a Home that outgrows Slack fails in a test. The last view published for each user is kept
(with every earlier one) for tests to inspect. Tier 4 (fakes/slack/limits.py).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from typing import Any, ClassVar

from fakes.slack.block_kit import check_view
from fakes.slack.wire import SlackError, present, require

logger = logging.getLogger(__name__)

VIEW_BYTES_MAX = 250_000  # "view_too_large": greater than 250kb


class ViewMethods:
    """Mixed into FakeSlack, whose lock and state (`_views`, `_published`) these use."""

    METHODS: ClassVar[dict[str, str]] = {"views.publish": "_views_publish"}

    def _views_publish(self, args: dict[str, Any], now: float, team: str) -> dict[str, Any]:
        require(args, "user_id", "view")
        view = args["view"]
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                raise SlackError(
                    "invalid_arguments",
                    response_metadata={"messages": ["[ERROR] must provide an object"]},
                ) from None
        if len(json.dumps(view)) > VIEW_BYTES_MAX:
            raise SlackError("view_too_large")
        check_view(view)
        if view.get("type") != "home":
            raise SlackError("invalid_arguments")
        user = str(args["user_id"])
        current = self._views.get(user)  # type: ignore[attr-defined]
        if present(args, "hash") and current is not None and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        stored = {
            **copy.deepcopy(view),
            "id": current["id"] if current else f"V{len(self._views) + 1:08d}",  # type: ignore[attr-defined]
            "team_id": team,
            "app_id": self.app_id,  # type: ignore[attr-defined]
            "bot_id": self.bot_id,  # type: ignore[attr-defined]
            "hash": hashlib.sha1(f"{user}:{now}:{len(self._published)}".encode()).hexdigest(),  # type: ignore[attr-defined]
        }
        self._views[user] = stored  # type: ignore[attr-defined]
        self._published.append((user, now))  # type: ignore[attr-defined]
        return {"view": copy.deepcopy(stored)}

    # ----------------------------------------------------------------- inspection

    def home_view(self, user: str) -> dict[str, Any] | None:
        """The Home tab `user` sees now (the last view published for them), or None."""
        with self._cond:  # type: ignore[attr-defined]
            view = self._views.get(user)  # type: ignore[attr-defined]
            return copy.deepcopy(view) if view is not None else None

    def publish_count(self, user: str | None = None) -> int:
        """How many views were published (for `user`, or for anyone)."""
        with self._cond:  # type: ignore[attr-defined]
            return sum(1 for u, _ in self._published if user is None or u == user)  # type: ignore[attr-defined]
