"""Releases: a progressive move of an alias to a new version, judged step by step.

Pure rules only (the plan's checks, the state machine, the verdict); the loop that drives a
release lives in `services.release_driver`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sandlot.domain.errors import InvalidReleasePlan

# Under this, a step rarely sees enough calls to judge anything; "the time needed to see
# traffic".
MIN_INTERVAL_S = 30
MAX_INTERVAL_S = 7 * 24 * 3600
MAX_STEPS = 20
# A step is judged only once the new version served this many calls in it (default).
MIN_CALLS_DEFAULT = 10


class ReleaseState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"  # every step passed; the alias is wholly on the new version
    PROMOTED = "promoted"  # moved to 100% at once by a person
    ROLLED_BACK = "rolled_back"  # judged worse, moved back by itself
    ABORTED = "aborted"  # stopped by a person; the alias is back on the old version


ACTIVE_RELEASE_STATES = frozenset({ReleaseState.RUNNING, ReleaseState.PAUSED})
_ENDED = (
    ReleaseState.SUCCEEDED,
    ReleaseState.PROMOTED,
    ReleaseState.ROLLED_BACK,
    ReleaseState.ABORTED,
)

RELEASE_MOVES: dict[ReleaseState, frozenset[ReleaseState]] = {
    ReleaseState.RUNNING: frozenset({ReleaseState.PAUSED, *_ENDED}),
    ReleaseState.PAUSED: frozenset(
        {ReleaseState.RUNNING, ReleaseState.PROMOTED, ReleaseState.ABORTED}
    ),
    **{state: frozenset() for state in _ENDED},
}


@dataclass(frozen=True)
class ReleasePlan:
    steps: tuple[int, ...]  # percent of traffic on the new version, increasing, ending at 100
    interval_s: int
    max_error_rate: float  # percentage points the new version may be worse by (2.0 = 2%)
    max_p99_ratio: float | None = None  # new p99 / old p99 allowed; None: not judged
    min_calls: int = MIN_CALLS_DEFAULT


def check_plan(
    steps: Sequence[int],
    interval_s: int,
    max_error_rate: float,
    max_p99_ratio: float | None = None,
    min_calls: int = MIN_CALLS_DEFAULT,
) -> ReleasePlan:
    if not steps or len(steps) > MAX_STEPS:
        raise InvalidReleasePlan(f"a release has 1 to {MAX_STEPS} steps", steps=list(steps))
    if any(not 1 <= step <= 100 for step in steps):
        raise InvalidReleasePlan("each step is a percent from 1 to 100", steps=list(steps))
    if any(later <= earlier for earlier, later in itertools.pairwise(steps)):
        raise InvalidReleasePlan("the steps must increase", steps=list(steps))
    if steps[-1] != 100:
        raise InvalidReleasePlan("the last step must be 100", steps=list(steps))
    if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
        raise InvalidReleasePlan(
            f"the interval is {interval_s} s; it must be {MIN_INTERVAL_S} s (the least that "
            f"shows traffic) to {MAX_INTERVAL_S} s",
            interval_s=interval_s,
            min_interval_s=MIN_INTERVAL_S,
        )
    if not 0 <= max_error_rate <= 100:
        raise InvalidReleasePlan("max_error_rate is a percent from 0 to 100")
    if max_p99_ratio is not None and not 1.0 <= max_p99_ratio <= 100.0:
        raise InvalidReleasePlan("max_p99_ratio is from 1.0 to 100.0")
    if not 1 <= min_calls <= 100_000:
        raise InvalidReleasePlan("min_calls is from 1 to 100000")
    return ReleasePlan(
        steps=tuple(steps),
        interval_s=interval_s,
        max_error_rate=max_error_rate,
        max_p99_ratio=max_p99_ratio,
        min_calls=min_calls,
    )


@dataclass(frozen=True)
class Health:
    """One version's calls over a step's window."""

    calls: int
    errors: int  # function errors, crashes, timeouts, out of memory
    p99_ms: float | None = None

    @property
    def error_rate(self) -> float:
        """In percent."""
        return 100.0 * self.errors / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class Judged:
    """One look at a step: `pass` (on to the next step), `wait` (too few calls on the new
    version yet) or `rollback`."""

    step: int
    weight: int
    at: datetime
    verdict: str
    new: Health
    old: Health


@dataclass(frozen=True)
class Release:
    id: str
    function_id: str
    function_name: str
    alias: str
    from_version: int
    to_version: int
    plan: ReleasePlan
    state: ReleaseState
    step: int  # index into plan.steps of the step now running (or the last one run)
    step_started_at: datetime
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    reason: str | None = None  # why it ended (or paused), for people
    judged: tuple[Judged, ...] = ()  # the verdicts so far, oldest first

    @property
    def weight(self) -> int:
        """Percent of the alias's traffic on the new version now."""
        if self.state in (ReleaseState.ROLLED_BACK, ReleaseState.ABORTED):
            return 0
        if self.state in (ReleaseState.SUCCEEDED, ReleaseState.PROMOTED):
            return 100
        return self.plan.steps[self.step]

    @property
    def next_check_at(self) -> datetime | None:
        """When the driver next judges the running step: an interval after the step began,
        or after its last `wait`. None unless running."""
        if self.state is not ReleaseState.RUNNING:
            return None
        looks = [
            look.at
            for look in self.judged
            if look.step == self.step and look.at >= self.step_started_at
        ]
        return max([self.step_started_at, *looks]) + timedelta(seconds=self.plan.interval_s)


def verdict(new: Health, old: Health, plan: ReleasePlan) -> str | None:
    """Why the new version is worse than the old one by more than the plan allows (the
    release then rolls back), or None."""
    worse_by = new.error_rate - old.error_rate
    if worse_by > plan.max_error_rate:
        return (
            f"error rate {new.error_rate:.1f}% ({new.errors} of {new.calls} calls) against "
            f"{old.error_rate:.1f}% on the old version: worse by {worse_by:.1f} points, "
            f"more than the {plan.max_error_rate:g} allowed"
        )
    if (
        plan.max_p99_ratio is not None
        and new.p99_ms is not None
        and old.p99_ms is not None
        and old.p99_ms > 0
        and new.p99_ms > old.p99_ms * plan.max_p99_ratio
    ):
        return (
            f"p99 {new.p99_ms:.1f} ms against {old.p99_ms:.1f} ms on the old version: more "
            f"than {plan.max_p99_ratio:g}x"
        )
    return None
