"""Summaries of repeated measurements: median and 95th percentile."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th quantile (0..1) by linear interpolation between closest ranks."""
    data = sorted(values)
    if not data:
        return float("nan")
    position = (len(data) - 1) * q
    low = int(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


@dataclass(frozen=True)
class Summary:
    """Median, p95 and max of `n` measurements (any unit; callers pick it)."""

    n: int
    median: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        data = [v for v in values if v is not None]
        if not data:
            return cls(0, float("nan"), float("nan"), float("nan"))
        return cls(len(data), statistics.median(data), percentile(data, 0.95), max(data))

    def scaled(self, factor: float) -> Summary:
        return Summary(self.n, self.median * factor, self.p95 * factor, self.max * factor)
