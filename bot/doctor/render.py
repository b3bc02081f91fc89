"""The doctor's report as people read it (one line per check) or as JSON for scripts.

Every string passes through `Redactor` on its way out: the checks never put a token, key or
secret into a line, and this is the second lock on that door (a value echoed back in an error
message from Slack or Claude would otherwise reach the terminal).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TextIO

from bot.doctor.result import Check

MASK = "***"
_MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words
_LABELS = {"ok": "ok     ", "warning": "warning", "problem": "problem"}


class Redactor:
    """Replaces every occurrence of the given secret values with ***."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(
            {s for s in secrets if s and len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True
        )

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


def write_text(checks: Sequence[Check], out: TextIO, redact: Redactor) -> None:
    """`ok      slack  auth.test: workspace …` lines, a fix after each problem or warning."""
    width = max((len(c.area) for c in checks), default=0)
    for check in checks:
        line = f"{_LABELS[check.status]}  {check.area.ljust(width)}  {check.name}: {check.summary}"
        if check.fix:
            line += f" Fix: {check.fix}"
        out.write(redact(line) + "\n")
    problems, warnings = _count(checks, "problem"), _count(checks, "warning")
    if problems:
        verdict = f"{problems} problem(s), {warnings} warning(s): fix the problems above."
    elif warnings:
        verdict = f"No problems, {warnings} warning(s)."
    else:
        verdict = "All checks passed."
    out.write(f"\n{verdict}\n")


def write_json(checks: Sequence[Check], out: TextIO, redact: Redactor) -> None:
    """{"ok": bool, "problems": n, "warnings": n, "checks": [{area, name, status, ...}]}."""
    payload = {
        "ok": not _count(checks, "problem"),
        "problems": _count(checks, "problem"),
        "warnings": _count(checks, "warning"),
        "checks": [c.as_dict() for c in checks],
    }
    out.write(redact(json.dumps(payload, indent=2, ensure_ascii=False)) + "\n")


def _count(checks: Sequence[Check], status: str) -> int:
    return sum(1 for c in checks if c.status == status)
