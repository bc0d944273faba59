"""Bucketed metrics of one function: the windows a chart may ask for, and what a bucket says."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sandlot.domain.limits import TIMEOUT_S_MAX


class MetricsWindow(enum.StrEnum):
    HOUR = "1h"
    DAY = "24h"
    WEEK = "7d"


@dataclass(frozen=True)
class WindowShape:
    span: timedelta
    bucket: timedelta

    @property
    def buckets(self) -> int:
        return self.span // self.bucket


# 60, 96 and 84 buckets: enough points for a chart, few enough to draw and send at once.
SHAPES: dict[MetricsWindow, WindowShape] = {
    MetricsWindow.HOUR: WindowShape(timedelta(hours=1), timedelta(minutes=1)),
    MetricsWindow.DAY: WindowShape(timedelta(hours=24), timedelta(minutes=15)),
    MetricsWindow.WEEK: WindowShape(timedelta(days=7), timedelta(hours=2)),
}

# The end states that count as errors (a `dead` async call too: its last attempt failed).
ERROR_STATES = ("failed", "timed_out", "out_of_memory", "cancelled", "dead")

# How long before a window a call may have started and still be running in it: no call
# runs past the longest timeout (a margin for the kill and the record).
RUNNING_LOOKBACK = timedelta(seconds=TIMEOUT_S_MAX + 60)


@dataclass(frozen=True)
class BucketRange:
    """[start, end) split into `count` buckets of `size`, aligned to the epoch so that two
    charts of the same window drawn a little apart share their bucket edges."""

    start: datetime
    size: timedelta
    count: int

    @property
    def end(self) -> datetime:
        return self.start + self.size * self.count

    @property
    def start_epoch(self) -> int:
        return int(self.start.timestamp())

    @property
    def size_seconds(self) -> int:
        return int(self.size.total_seconds())


def bucket_range(window: MetricsWindow, until: datetime) -> BucketRange:
    """The window's buckets, the last one holding `until` (now, for a live chart)."""
    shape = SHAPES[window]
    size = int(shape.bucket.total_seconds())
    last = int(until.astimezone(UTC).timestamp()) // size * size
    end = datetime.fromtimestamp(last + size, UTC)
    return BucketRange(start=end - shape.span, size=shape.bucket, count=shape.buckets)


@dataclass(frozen=True)
class ErrorCount:
    state: str
    kind: str  # the error's name (`FunctionError`, `FunctionTimedOut`…), "" when none recorded
    count: int


@dataclass(frozen=True)
class MetricsBucket:
    start: datetime
    invocations: int
    errors: int
    errors_by_kind: tuple[ErrorCount, ...]
    cold_starts: int
    p50_ms: float | None  # None: nothing finished in the bucket
    p95_ms: float | None
    p99_ms: float | None
    # The most calls of the function running at once in the bucket ([created_at,
    # finished_at) overlapping; a call still running counts until the window's end).
    peak_concurrency: int = 0

    @property
    def cold_start_share(self) -> float:
        return self.cold_starts / self.invocations if self.invocations else 0.0


@dataclass(frozen=True)
class FunctionMetrics:
    function: str
    window: MetricsWindow
    range: BucketRange
    buckets: tuple[MetricsBucket, ...]
