"""One check's outcome: what was looked at, how it stands, and what to do about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["ok", "warning", "problem"]


@dataclass(frozen=True)
class Check:
    """A line of the doctor's report.

    `area` groups lines (slack, claude, storage, policies, post-test); `name` says what was
    checked; `summary` what was found; `fix` what to do (empty when there is nothing to do).
    A problem makes `shopmate doctor` exit non-zero; a warning does not.
    """

    area: str
    name: str
    status: Status
    summary: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ok(area: str, name: str, summary: str) -> Check:
    return Check(area, name, "ok", summary)


def warning(area: str, name: str, summary: str, fix: str = "") -> Check:
    return Check(area, name, "warning", summary, fix)


def problem(area: str, name: str, summary: str, fix: str) -> Check:
    return Check(area, name, "problem", summary, fix)
