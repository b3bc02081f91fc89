"""Checks a command makes before it starts, so each mistake is one clear line, not a traceback.

Every check here either returns quietly or raises with a message that names the setting or
option at fault and says how to fix it. `ConfigError` is a configuration mistake (the CLI exits
with status 2); `Unavailable` is something that may work later, such as Slack being unreachable
(status 1). The checks never create, change or delete anything: a read-only command pointed at
the wrong database must find nothing there rather than leave an empty database behind.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.settings import DEFAULT_SLACK_API_URL, Settings, SettingsError

if TYPE_CHECKING:
    from storage import Storage

logger = logging.getLogger(__name__)

# About a hundred years: longer is a typo, and datetime arithmetic overflows long before 10^8.
MAX_DAYS = 36_500
MAX_PACE = 10_000.0
N = TypeVar("N", int, float)

BOT_TOKEN_PREFIXES = ("xoxb-", "xoxe.xoxb-")  # the second is a rotating bot token
APP_TOKEN_PREFIX = "xapp-"
# Slack's answers to auth.test that mean "this token is not good", not "Slack is unwell".
REJECTED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "team_access_not_granted",
    }
)
_SQLITE_HEADER = b"SQLite format 3\x00"


class ConfigError(SettingsError):
    """A configuration mistake found before starting; the message says what to fix (exit 2)."""


class Unavailable(Exception):
    """Something the command needs cannot be reached right now (exit 1)."""


# -- Slack tokens ------------------------------------------------------------------------------


BOT_TOKEN_FIX = (
    "Copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions in your Slack app."
)
APP_TOKEN_FIX = (
    "Create an app-level token (xapp-...) with connections:write under Basic Information → "
    "App-Level Tokens."
)


def check_bot_token(token: str | None) -> None:
    """SLACK_BOT_TOKEN must look like a bot token; an app token or a secret there is a mix-up."""
    if token is None or token.startswith(BOT_TOKEN_PREFIXES):
        return
    fix = BOT_TOKEN_FIX
    if token.startswith(APP_TOKEN_PREFIX):
        raise ConfigError(f"SLACK_BOT_TOKEN holds an app-level token (xapp-...). {fix}")
    if token.startswith("xoxp-"):
        raise ConfigError(f"SLACK_BOT_TOKEN holds a user token (xoxp-...). {fix}")
    raise ConfigError(f"SLACK_BOT_TOKEN does not look like a bot token (xoxb-...). {fix}")


def check_app_token(token: str | None) -> None:
    """SLACK_APP_TOKEN must be an app-level token; Socket Mode refuses anything else."""
    if token is None or token.startswith(APP_TOKEN_PREFIX):
        return
    fix = APP_TOKEN_FIX
    if token.startswith(BOT_TOKEN_PREFIXES):
        raise ConfigError(f"SLACK_APP_TOKEN holds a bot token (xoxb-...). {fix}")
    raise ConfigError(f"SLACK_APP_TOKEN does not look like an app-level token (xapp-...). {fix}")


def check_signing_secret(secret: str | None) -> None:
    """A token pasted where the signing secret goes would make every request a silent 401."""
    if secret and re.match(r"^(xox[a-z]|xapp)-", secret):
        raise ConfigError(
            "SLACK_SIGNING_SECRET holds a token, not the signing secret. Copy the Signing "
            "Secret from your Slack app's Basic Information page."
        )


def verify_slack(settings: Settings, *, timeout: float = 10.0) -> dict[str, Any]:
    """Ask Slack's auth.test whether SLACK_BOT_TOKEN works; returns its answer.

    Done once, before anything starts, so a wrong token or URL is one line rather than a
    traceback from inside Bolt (which calls auth.test itself while building the app).
    """
    url = settings.slack_api_url
    # slack_sdk logs each failed attempt at ERROR; the one line below says it all, so its
    # own lines show only with --log-level debug.
    quiet = logging.getLogger(f"{__name__}.auth_test")
    quiet.setLevel(logging.DEBUG if logger.isEnabledFor(logging.DEBUG) else logging.CRITICAL)
    client = WebClient(token=settings.slack_bot_token, base_url=url, timeout=timeout, logger=quiet)
    try:
        response = client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        logger.debug("auth.test failed", exc_info=True)
        if code in REJECTED:
            raise ConfigError(
                f"SLACK_BOT_TOKEN was rejected by Slack ({code}). Copy the Bot User OAuth "
                "Token (xoxb-...) again from OAuth & Permissions, and reinstall the app if it "
                "was removed."
            ) from None
        raise Unavailable(
            f"Slack at {url} did not accept auth.test "
            f"({code or f'HTTP {error.response.status_code}'}). {url_fix(settings)}"
        ) from None
    except (OSError, ValueError) as error:  # URLError and timeouts are OSErrors
        logger.debug("auth.test failed", exc_info=True)
        reason = getattr(error, "reason", None) or error
        raise Unavailable(f"cannot reach Slack at {url} ({reason}). {url_fix(settings)}") from None
    logger.debug(
        "auth.test ok: team %s, bot user %s", response.get("team_id"), response.get("user_id")
    )
    return dict(response.data) if isinstance(response.data, dict) else {}


def url_fix(settings: Settings) -> str:
    """What to check when Slack cannot be reached (the doctor says the same)."""
    if settings.slack_api_url != DEFAULT_SLACK_API_URL:
        return f"Check SLACK_API_URL (unset it for {DEFAULT_SLACK_API_URL}) and the network."
    return "Check this machine's network connection to slack.com."


# -- where `serve` listens ---------------------------------------------------------------------


def check_listen_address(host: str, port: int) -> None:
    """The host must name this machine and the port must be free, before anything starts."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        raise ConfigError(
            f"--host {host}: no such host. Give an address of this machine, e.g. 127.0.0.1 "
            "(this machine only) or 0.0.0.0 (every interface)."
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As the server will: SO_REUSEADDR ignores old TIME_WAIT connections, not listeners.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"--port {port} is already in use on {host} (another shopmate serve?). "
                    "Stop the other process or give another --port."
                ) from None
            if error.errno == errno.EADDRNOTAVAIL:
                raise ConfigError(
                    f"--host {host} is not an address of this machine. Give one of its "
                    "addresses, e.g. 127.0.0.1 or 0.0.0.0."
                ) from None
            if error.errno == errno.EACCES:
                raise ConfigError(
                    f"--port {port} needs administrator rights. Give --port 1024 or above "
                    "(e.g. 3000) and put a proxy in front."
                ) from None
            raise ConfigError(f"cannot listen on {host}:{port} ({error.strerror}).") from None


# -- the database file -------------------------------------------------------------------------


def check_database(path: Path | str, *, must_exist: bool) -> None:
    """SHOPMATE_DB must be a SQLite file, or a new file in an existing, writable directory.

    A PostgreSQL URL (SHOPMATE_DATABASE_URL) is not a file: opening it says what is wrong.

    `must_exist` is for commands that only read or delete: they refuse a missing database
    instead of creating an empty one, where every lookup would then quietly find nothing.
    Parent directories are never created: a typo in the path should not grow a tree.
    """
    if isinstance(path, str):
        return
    shown = f"SHOPMATE_DB={path}"
    if path.is_dir():
        raise ConfigError(
            f"{shown} is a directory. Give a file path, e.g. SHOPMATE_DB={path / 'shopmate.db'}."
        )
    if path.exists():
        if not _is_sqlite(path):
            raise ConfigError(
                f"{shown} is not a SQLite database. Give the path of ShopMate's database, or "
                "a new file name."
            )
        return
    parent = path.absolute().parent
    blocker = _first_non_directory(parent)
    if blocker is not None:
        raise ConfigError(
            f"{shown}: {blocker} is not a directory. Give a file path in an existing directory."
        )
    if must_exist:
        raise ConfigError(
            f"no ShopMate database at {shown} (nothing was created). Point SHOPMATE_DB at the "
            "database `shopmate serve` or `run` uses."
        )
    if not parent.exists():
        raise ConfigError(
            f"{shown}: the directory {parent} does not exist. Create it first "
            f"(mkdir -p {parent}) or give another path."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{shown}: cannot create a file in {parent} (permission denied). Give a path in a "
            "directory you can write to."
        )


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            header = f.read(len(_SQLITE_HEADER))
    except OSError:
        return False
    # SQLite treats an empty file as an empty database.
    return header in (b"", _SQLITE_HEADER)


def _first_non_directory(directory: Path) -> Path | None:
    """The first ancestor of `directory` (itself included) that exists but is not a directory."""
    for candidate in [*reversed(directory.parents), directory]:
        if candidate.exists() and not candidate.is_dir():
            return candidate
        if not candidate.exists():
            return None
    return None


# -- files and directories a command writes ----------------------------------------------------


def check_output_file(option: str, path: Path) -> None:
    """A file a command will write: its directory must exist and take new files."""
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a directory. Give a file name, e.g. {path}/x.json.")
    parent = path.absolute().parent
    blocker = _first_non_directory(parent)
    if blocker is not None:
        raise ConfigError(f"{option} {path}: {blocker} is not a directory.")
    if not parent.exists():
        raise ConfigError(
            f"{option} {path}: the directory {parent} does not exist. Create it first or give "
            "another path."
        )
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{option} {path}: permission denied. Give a path you can write to.")


def check_writable_directory(option: str, path: Path) -> None:
    """A directory a command will write into; it may be created, but only one level deep."""
    blocker = _first_non_directory(path.absolute())
    if blocker is not None:
        raise ConfigError(f"{option} {path}: {blocker} is not a directory. Give a directory.")
    target = path if path.exists() else path.absolute().parent
    if not target.exists():
        raise ConfigError(
            f"{option} {path}: the directory {target} does not exist. Create it first or give "
            "another directory."
        )
    if not os.access(target, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: permission denied. Give a directory you can write to.")


# -- numbers on the command line (argparse `type=` functions) ----------------------------------


def _in_range(text: str, parse: Callable[[str], N], low: N, high: N, fix: str) -> N:
    """`text` as a number from `low` to `high`, else argparse's one-line error: `fix`."""
    try:
        value = parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{fix} (got {text!r})") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{fix} (got {text!r})")
    return value


def days_argument(text: str) -> int:
    """`--days 30`: a whole number of days from 1 to MAX_DAYS."""
    return _in_range(text, int, 1, MAX_DAYS, f"give a whole number of days from 1 to {MAX_DAYS}")


def duration_argument(text: str) -> int:
    """`--older-than 90d`: days or weeks; 0 is refused because it would mean "everything"."""
    from bot.settings import parse_days

    try:
        days = parse_days(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"give a number of days or weeks, e.g. 90d or 12w (got {text!r})"
        ) from None
    if days < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} would mean every conversation; give at least 1d, e.g. 90d"
        )
    if days > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"give at most {MAX_DAYS}d (got {text!r})")
    return days


def since_argument(text: str) -> int:
    """`--since 7d`: like --older-than, in days or weeks, 1 to MAX_DAYS."""
    return duration_argument(text)


def port_argument(text: str) -> int:
    """`--port 3000`: 1 to 65535 (0 picks a free one); the OS would wrap a larger number."""
    return _in_range(text, int, 0, 65535, "give a port from 1 to 65535, or 0 for any free port")


def add_listen_options(parser: argparse.ArgumentParser, *, default_port: int) -> None:
    """`--host` and `--port` for a command that listens (`serve`, `api`), checked alike."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 for every interface (default: 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=port_argument,
        default=default_port,
        help=f"port to listen on, 1 to 65535 (default: {default_port})",
    )


def add_list_options(
    parser: argparse.ArgumentParser, *, since_what: str, limit: int, limit_help: str
) -> None:
    """`--since` and `--limit` for a command that lists rows (`history list`, `feedback`)."""
    parser.add_argument(
        "--since",
        type=since_argument,
        help=f"only {since_what} in this period, e.g. 7d or 2w (default: any time)",
    )
    parser.add_argument(
        "--limit",
        type=limit_argument,
        default=limit,
        help=f"show at most this many{limit_help} (default: {limit})",
    )


def pace_argument(text: str) -> float:
    """`--pace 40`: simulated tokens per second, 1 to MAX_PACE."""
    return _in_range(
        text, float, 1.0, MAX_PACE, f"give simulated tokens per second from 1 to {MAX_PACE:g}"
    )


def limit_argument(text: str) -> int:
    """`--limit 50`: how many rows to show, 1 to 100000."""
    return _in_range(text, int, 1, 100_000, "give a number from 1 to 100000")


def retention_days(settings: Settings) -> int:
    """SHOPMATE_RETENTION_DAYS, checked against the same ceiling as --older-than."""
    if settings.retention_days > MAX_DAYS:
        raise ConfigError(
            f"SHOPMATE_RETENTION_DAYS={settings.retention_days} is more than {MAX_DAYS} days. "
            "Give how many days conversations are kept, e.g. 90 (0 keeps them forever)."
        )
    return settings.retention_days


class CommandError(Exception):
    """A user-facing failure of a command: printed as one line, exit status 1."""


@contextmanager
def open_existing(settings: Settings) -> Iterator[Storage]:
    """Storage for a command that reads or deletes: refuses a missing database, creates nothing."""
    from storage import open_storage

    check_database(settings.storage_target, must_exist=True)
    try:
        storage = open_storage(settings.storage_target, create=False)
    except FileNotFoundError:  # removed since the check
        raise ConfigError(f"no ShopMate database at SHOPMATE_DB={settings.db_path}") from None
    try:
        yield storage
    finally:
        storage.close()
