"""open_storage and the Storage object: paths, size, an in-memory database for other tests."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from storage import Storage, open_storage


def test_storage_reports_its_path_and_grows_on_disk_as_it_is_written(
    storage: Storage, db_path: Path
) -> None:
    assert storage.path == str(db_path)
    empty = storage.size_bytes()
    assert empty > 0

    for n in range(200):
        storage.conversations.add_user_message("local:default", f"message {n} " * 20)

    assert storage.size_bytes() > empty


def test_storage_works_as_a_context_manager(db_path: Path) -> None:
    with open_storage(db_path) as storage:
        storage.conversations.add_user_message("local:default", "hi")

    with open_storage(db_path) as reopened:
        assert len(reopened.conversations.history("local:default")) == 1


def test_an_in_memory_storage_is_one_database_for_every_thread() -> None:
    storage = open_storage(":memory:")
    storage.conversations.add_user_message("local:default", "from the main thread")
    worker = threading.Thread(
        target=storage.conversations.add_user_message, args=("local:default", "from a worker")
    )
    worker.start()
    worker.join()

    assert len(storage.conversations.history("local:default")) == 2
    assert storage.size_bytes() > 0
    storage.close()


def test_a_busy_timeout_under_five_seconds_is_refused(db_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 5 seconds"):
        open_storage(db_path, busy_timeout=1)
