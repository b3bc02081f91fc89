"""A front's request to stop one answer now (a Stop button, a client that went away).

Front-agnostic: the Slack front sets it when `chat.appendStream` answers `stopped_by_user`; the
HTTP API could set it when its client disconnects. The engine checks it between stream events
and closes Claude's stream at once, so no more tokens are generated or billed, and ends the
turn with what the user saw (stored with the turn status "stopped").
"""

from __future__ import annotations

import threading


class StopSignal:
    """Set once by the front (any thread); read by the engine between stream events."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._unshown = 0

    def stop(self, *, unshown: int = 0) -> None:
        """Ask the engine to stop. `unshown`: how many characters at the end of the text the
        engine yielded so far never reached the user (written, but not yet delivered when the
        stop was noticed); they are left out of the stored answer.
        """
        if not self._event.is_set():
            self._unshown = max(0, unshown)
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    @property
    def unshown(self) -> int:
        return self._unshown
