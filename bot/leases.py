"""Keeps this process's claims alive while it works on them, and runs the recovery sweep.

A claim is a lease (see storage/claims.py): it expires unless its owner renews it, and only
then may another process take the message over. `LeaseKeeper` is the heartbeat that renews
every claim this process holds (a Slack message being answered or queued behind another turn
of its thread, an API request's Idempotency-Key while its turn runs) and, less often, calls
the front's sweep that takes over claims whose owner died. The lifecycle owns one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

from storage import Claims, StorageClosed

logger = logging.getLogger(__name__)


def new_owner_id() -> str:
    """One run of one process, readable in logs: "host:pid:random"."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseKeeper:
    """Renews the leases of the claims this process holds; runs `sweep` every so often.

    `hold(key)` when a claim is won, `drop(key)` when it is finished. A key another process
    took over (this one stalled past its lease: a frozen VM, a stuck disk) comes back from the
    renewal as lost: `lost(key)` then tells the turn to stop delivering.
    """

    def __init__(
        self,
        claims: Claims,
        owner: str,
        *,
        lease_seconds: float,
        renew_seconds: float,
        sweep_seconds: float,
    ) -> None:
        self.claims = claims
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.sweep_seconds = sweep_seconds
        self._held: set[str] = set()
        self._lost: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, key: str) -> None:
        with self._lock:
            self._held.add(key)
            self._lost.discard(key)

    def drop(self, key: str) -> None:
        with self._lock:
            self._held.discard(key)
            self._lost.discard(key)

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._held)

    def lost(self, key: str) -> bool:
        with self._lock:
            return key in self._lost

    def renew(self) -> list[str]:
        """Renew every held claim now; returns the keys found taken over by someone else."""
        keys = self.held()
        if not keys:
            return []
        gone = self.claims.renew(keys, owner=self.owner, lease_seconds=self.lease_seconds)
        if gone:
            with self._lock:
                # Finished meanwhile is not lost: only keys still held here count.
                lost = [key for key in gone if key in self._held]
                self._lost.update(lost)
            for key in lost:
                logger.error(
                    "lost the claim on %s to another process (this one stalled past its "
                    "lease); it stops answering it",
                    key,
                )
            return lost
        return []

    def start(self, sweep: Callable[[], object]) -> LeaseKeeper:
        """Run the heartbeat (and `sweep`) on a daemon thread until `stop()`."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(sweep,), name="lease-keeper", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._thread = None

    def _run(self, sweep: Callable[[], object]) -> None:
        step = min(self.renew_seconds, self.sweep_seconds)
        since_renew = since_sweep = 0.0
        while not self._stop.wait(step):
            since_renew += step
            since_sweep += step
            try:
                if since_renew >= self.renew_seconds:
                    since_renew = 0.0
                    self.renew()
                if since_sweep >= self.sweep_seconds:
                    since_sweep = 0.0
                    sweep()
            except StorageClosed:
                return  # the process is shutting down
            except Exception:
                # A locked or briefly unavailable database must not end the heartbeat.
                logger.exception("renewing leases or sweeping for unfinished messages failed")
