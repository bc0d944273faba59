"""The rules of the queue of asynchronous calls: a function's retry policy, which failures
a retry may fix, and the back-off between attempts. No I/O."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sandlot.domain.errors import InvalidAsyncConfig
from sandlot.domain.states import InvocationState

MAX_ATTEMPTS_RANGE = (1, 10)
EVENT_AGE_RANGE_S = (60, 6 * 3600)

# Failures a second attempt may not repeat: the process died (a crash, a lost server, a
# shutdown that stopped it), ran out of time or of memory. A raised exception is the
# function's own answer, retried only when its policy asks (`retry_on_error`); an invalid
# result or a resource limit would only happen again.
RETRIED_KINDS = frozenset(
    {
        "FunctionCrashed",
        "FunctionTimedOut",
        "FunctionOutOfMemory",
        "ServiceUnavailable",
        "LeaseExpired",
        "ServerCrashed",
        "WorkerLost",  # its worker went silent (services.heartbeat re-queued it)
    }
)


@dataclass(frozen=True)
class AsyncConfig:
    """A function's policy for its asynchronous calls."""

    max_attempts: int = 3
    retry_on_error: bool = False
    max_event_age_s: int = 6 * 3600

    def __post_init__(self) -> None:
        low, high = MAX_ATTEMPTS_RANGE
        if not low <= self.max_attempts <= high:
            raise InvalidAsyncConfig(
                f"max_attempts is {low} to {high}", field="max_attempts", value=self.max_attempts
            )
        low, high = EVENT_AGE_RANGE_S
        if not low <= self.max_event_age_s <= high:
            raise InvalidAsyncConfig(
                f"max_event_age_s is {low} to {high}",
                field="max_event_age_s",
                value=self.max_event_age_s,
            )


DEFAULT_ASYNC_CONFIG = AsyncConfig()


@dataclass(frozen=True)
class DueCall:
    """A queued row whose time has come, as a claimer first sees it (not yet claimed)."""

    id: str
    namespace_id: str
    function_id: str
    function_name: str
    version: int
    created_at: datetime
    attempt: int  # of the attempts so far (the claim makes the next)
    aged_from: datetime  # see `aged_from`


@dataclass(frozen=True)
class ClaimedCall:
    """A call this claimer holds: its lease is `lease_owner` at `attempt`."""

    id: str
    namespace_id: str
    function_id: str
    function_name: str
    version: int
    trigger: str
    attempt: int
    max_attempts: int
    created_at: datetime
    payload: str
    event: str | None
    event_truncated: bool
    attempts: tuple[Mapping[str, Any], ...]
    lease_until: datetime
    aged_from: datetime  # see `aged_from`
    caused_by: str | None = None
    alias: str | None = None  # as recorded (see `Invocation.alias`)


def aged_from(created_at: datetime, attempts: Sequence[Mapping[str, Any]]) -> datetime:
    """When a call's age (its function's max_event_age_s) counts from: its acceptance, or
    its latest redrive, so that a dead letter redriven after a fix is not at once too old."""
    for ended in reversed(attempts):
        redriven = ended.get("redriven_at")
        if isinstance(redriven, str):
            with contextlib.suppress(ValueError):
                return max(created_at, datetime.fromisoformat(redriven))
    return created_at


def retried(kind: str | None, state: InvocationState, config: AsyncConfig) -> bool:
    """Whether a failed attempt may be tried again (if attempts are left)."""
    if state in (InvocationState.TIMED_OUT, InvocationState.OUT_OF_MEMORY):
        return True
    if kind == "FunctionError":
        return config.retry_on_error
    return kind in RETRIED_KINDS


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Exponential back-off with full jitter (uniform over [0, min(cap, base * 2^(n-1))]):
    retries of many calls that failed together spread out instead of failing together again."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(0.0, ceiling)


def attempt_end(
    *,
    attempt: int,
    state: InvocationState,
    error: Mapping[str, Any] | None,
    started_at: datetime | None,
    finished_at: datetime,
) -> dict[str, Any]:
    """One entry of an invocation's `attempts`: how one attempt ended."""
    return {
        "attempt": attempt,
        "state": state.value,
        "error": dict(error) if error is not None else None,
        "started_at": started_at.isoformat() if started_at is not None else None,
        "finished_at": finished_at.isoformat(),
    }


def async_share(max_concurrency: int, reserve_fraction: float) -> int:
    """How many asynchronous calls of one version may run at once, so that sync calls keep
    a share of its `max_concurrency`: at least one slot, or `reserve_fraction` of them, stay
    free. With a limit of 1 the one slot is shared (the runner then takes it only when the
    version is idle)."""
    if max_concurrency <= 1:
        return 1
    reserve = max(1, int(max_concurrency * reserve_fraction + 0.999999))
    return max(1, max_concurrency - reserve)


@dataclass(frozen=True)
class Backoff:
    base_s: float = 1.0
    cap_s: float = 300.0


def after_attempt(
    call: ClaimedCall,
    *,
    state: InvocationState,
    kind: str | None,
    error: Mapping[str, Any] | None,
    started_at: datetime | None,
    now: datetime,
    config: AsyncConfig,
    backoff: Backoff,
) -> dict[str, Any]:
    """The row's new values once an attempt ended in `state`: final (succeeded, or dead with
    every failed attempt's end), or queued again after a back-off."""
    base: dict[str, Any] = {"lease_owner": None, "lease_until": None}
    if state is InvocationState.SUCCEEDED:
        return {**base, "state": state.value, "finished_at": now, "error": None}
    ended = attempt_end(
        attempt=call.attempt, state=state, error=error, started_at=started_at, finished_at=now
    )
    attempts = [*call.attempts, ended]
    run_after = now + timedelta(seconds=backoff_s(call.attempt, backoff.base_s, backoff.cap_s))
    too_old = run_after > call.aged_from + timedelta(seconds=config.max_event_age_s)
    if retried(kind, state, config) and call.attempt < call.max_attempts and not too_old:
        return {
            **base,
            "state": InvocationState.QUEUED.value,
            "run_after": run_after,
            "attempts": attempts,
        }
    return {
        **base,
        "state": InvocationState.DEAD.value,
        "finished_at": now,
        "error": {**(error or {}), "attempts": call.attempt},
        "attempts": attempts,
    }
