"""A real PostgreSQL server for the tests: its own data directory, a Unix socket, no TCP port.

One server per test session (`PostgresServer.start`), a fresh database per test
(`create_database`, copied from an empty template, which takes milliseconds), stopped and
removed at the end. The server programs refuse to run as root, so as root they run as the
`postgres` system user (or `nobody` where there is none) through `runuser`; the data directory
is a temporary directory that user owns.

Where the server programs are not installed the PostgreSQL tests skip, saying so; with
`CI=true` they fail instead, so CI never passes by skipping them.
"""

from __future__ import annotations

import glob
import itertools
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

logger = logging.getLogger(__name__)

SUPERUSER = "shopmate"
_START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


def _bin_dir() -> Path:
    """The directory holding initdb, pg_ctl and postgres (on PATH, or Debian's layout)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise PostgresUnavailable(
        "no PostgreSQL server programs (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin"
    )


def _run_as() -> str | None:
    """The user to run the server as: None for ourselves, a system user when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root and `runuser` is not installed")
        return name
    raise PostgresUnavailable("running as root and neither a `postgres` nor a `nobody` user")


class PostgresServer:
    """One throwaway PostgreSQL server; `url()` addresses a database on its socket."""

    def __init__(self) -> None:
        self.bin_dir = _bin_dir()
        self.user = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="shopmate-pg-"))
        self.data = self.root / "data"
        self._names = itertools.count(1)
        self.running = False

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / program), *args]
        return ["runuser", "-u", self.user, "--", *command] if self.user else command

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            self._command(program, *args),
            capture_output=True,
            text=True,
            timeout=_START_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{program} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
            )

    def start(self) -> PostgresServer:
        if self.user:
            shutil.chown(self.root, user=self.user)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        # Durability is not what a test server is for: no fsync makes CREATE DATABASE and
        # commits fast. A socket in our own directory, no TCP port at all.
        options = (
            f"-k {self.root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            str(_START_TIMEOUT_S),
            "start",
        )
        self.running = True
        logger.info("started PostgreSQL in %s", self.root)
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.root}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)


def start_or_skip() -> PostgresServer:
    """A started server, or skip the test (fail it when CI=true) saying why there is none."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        _unavailable(f"psycopg is not installed ({exc}); reinstall from requirements.lock")
    server: PostgresServer | None = None
    try:
        server = PostgresServer()
        return server.start()
    except PostgresUnavailable as exc:
        if server is not None:
            server.stop()
        _unavailable(str(exc))
    raise AssertionError("unreachable")


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL tests need a PostgreSQL server: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: the PostgreSQL tests must run here)")
    pytest.skip(message)
