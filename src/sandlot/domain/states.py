"""State machines, each with one explicit table of allowed moves and one `transition()`."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from sandlot.domain.errors import InvalidTransition


class VersionState(StrEnum):
    PENDING = "pending"
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class InvocationState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    OUT_OF_MEMORY = "out_of_memory"
    CANCELLED = "cancelled"
    # An asynchronous call that will not run again by itself: its last attempt failed, its
    # failure is one no retry can fix, or its event grew older than `max_event_age_s`.
    # Listed as a dead letter; a redrive queues it again.
    DEAD = "dead"


class InstanceState(StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    STOPPING = "stopping"


VERSION_MOVES: dict[VersionState, frozenset[VersionState]] = {
    # Every version is built: its dependencies, if it declares any, then the import of its
    # handler in its own sandbox. Only a build decides ready or failed.
    VersionState.PENDING: frozenset({VersionState.BUILDING}),
    # A rebuild (an environment pruned and rebuilt) goes back through building.
    VersionState.BUILDING: frozenset({VersionState.READY, VersionState.FAILED}),
    VersionState.READY: frozenset({VersionState.BUILDING}),
    VersionState.FAILED: frozenset({VersionState.BUILDING}),
}

FINAL_INVOCATION_STATES = frozenset(
    {
        InvocationState.SUCCEEDED,
        InvocationState.FAILED,
        InvocationState.TIMED_OUT,
        InvocationState.OUT_OF_MEMORY,
        InvocationState.CANCELLED,
        InvocationState.DEAD,
    }
)

INVOCATION_MOVES: dict[InvocationState, frozenset[InvocationState]] = {
    # A queued asynchronous call may also expire unrun (dead: older than its max_event_age_s).
    InvocationState.QUEUED: frozenset(
        {InvocationState.RUNNING, InvocationState.CANCELLED, InvocationState.DEAD}
    ),
    # A running call is cancelled when the server shuts down before it ends. An asynchronous
    # one goes back to queued for its next attempt, or ends dead after its last.
    InvocationState.RUNNING: FINAL_INVOCATION_STATES | {InvocationState.QUEUED},
    **{state: frozenset() for state in FINAL_INVOCATION_STATES},
    # A redrive queues a dead letter again, with its attempts counted afresh.
    InvocationState.DEAD: frozenset({InvocationState.QUEUED}),
}

INSTANCE_MOVES: dict[InstanceState, frozenset[InstanceState]] = {
    InstanceState.STARTING: frozenset({InstanceState.IDLE, InstanceState.STOPPING}),
    InstanceState.IDLE: frozenset({InstanceState.BUSY, InstanceState.STOPPING}),
    InstanceState.BUSY: frozenset({InstanceState.IDLE, InstanceState.STOPPING}),
    InstanceState.STOPPING: frozenset(),
}


S = TypeVar("S", bound=StrEnum)


def transition(table: dict[S, frozenset[S]], current: S, target: S) -> S:
    """Return `target` if the table allows `current -> target`, else raise."""
    if target not in table[current]:
        raise InvalidTransition(
            f"cannot move from {current.value!r} to {target.value!r}",
            current=current.value,
            target=target.value,
        )
    return target
