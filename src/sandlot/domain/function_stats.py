"""The functions table's numbers: every function of a namespace over a recent window, at once."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sandlot.domain.metrics import BucketRange

# Twelve buckets whatever the window: a sparkline has room for about that many bars.
STATS_BUCKETS = 12


class StatsWindow(enum.StrEnum):
    # The last hour only: the table asks for every function at once, and a longer window
    # reads every call of the namespace in it (measured on 1M rows over a day, bench/README:
    # 24h took 30 s on SQLite). A day or a week is the metrics endpoint's, one function at a time.
    HOUR = "1h"


STATS_SPANS: dict[StatsWindow, timedelta] = {
    StatsWindow.HOUR: timedelta(hours=1),
}


def stats_range(window: StatsWindow, until: datetime) -> BucketRange:
    """The window's twelve buckets, aligned to the epoch, the last one holding `until`."""
    size = STATS_SPANS[window] / STATS_BUCKETS
    seconds = int(size.total_seconds())
    last = int(until.timestamp()) // seconds * seconds
    end = datetime.fromtimestamp(last + seconds, until.tzinfo)
    return BucketRange(start=end - size * STATS_BUCKETS, size=size, count=STATS_BUCKETS)


@dataclass(frozen=True)
class FunctionStats:
    name: str
    last_invocation_at: datetime | None  # ever, not only in the window
    invocations: int
    errors: int
    p50_ms: float | None  # None: nothing in the window has finished
    buckets: tuple[int, ...]  # invocations per bucket, oldest first

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations else 0.0


@dataclass(frozen=True)
class NamespaceStats:
    window: StatsWindow
    range: BucketRange
    functions: tuple[FunctionStats, ...]
