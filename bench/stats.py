"""Small statistics helpers; nearest-rank percentiles, because samples are few and noisy."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank percentile, or None for no samples (a row then says why)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def p50(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


def p99(values: Sequence[float]) -> float | None:
    return percentile(values, 99)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
