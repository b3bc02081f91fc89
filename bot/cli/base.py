"""What every `shopmate` command module shares: the exit statuses, the parser class, and the
shape of `add`, the helper `register(sub, add)` receives to add a command with the common
options (--log-level)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

EXIT_FAILURE = 1
EXIT_USAGE = 2

# add(group, name, handler or None for a group of actions, help) -> the new parser
Add = Callable[[Any, str, Callable[..., int] | None, str], argparse.ArgumentParser]


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line that points at the command's --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}. See `{self.prog} --help`.\n")
