"""What a caller does with an asynchronous call after its 202: wait for its end, and redrive
or discard it once it is a dead letter (DESIGN.md "Durable work").

Accepting lives in `services.async_invocations`; running, retrying and cancelling in the
runner. Redrive and discard change rows only where they are still dead (storage.queue_control),
so racing callers, or a caller racing the runner, change each row at most once.

Discard deletes the row (and its logs) rather than flagging it: a dead letter that its owner
chose to drop has nothing left to do, every reader of the history (lists, counts, metrics,
the `dead` filter) would otherwise have to learn to hide it, and the audit event says who
dropped which call. Deleting also frees the call's Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import InvocationNotDead, InvocationNotFound
from sandlot.domain.models import Invocation, Principal
from sandlot.domain.states import FINAL_INVOCATION_STATES
from sandlot.services import audit
from sandlot.services.authz import authorize, authorize_function, in_scope
from sandlot.services.invocations import get_invocation
from sandlot.services.recorder import InvocationRecorder
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.invocations import InvocationRepo
from sandlot.storage.queue_control import QueueControlRepo

# Between two reads of a waited-on row: short at first (most calls end fast), then backing
# off to a bound, so a long wait costs a few reads a second, from any process.
_FIRST_POLL_S = 0.02
_MAX_POLL_S = 0.5


@dataclass(frozen=True)
class WaitScope:
    """What a wait reads with: a fresh session per read, so that no connection is held
    while it sleeps, and the recorder (sync calls' records are buffered before they are rows)."""

    sessions: Callable[[], AsyncSession]
    recorder: InvocationRecorder


async def wait_for_end(
    *, scope: WaitScope, principal: Principal, invocation_id: str, wait_s: float
) -> Invocation:
    """The invocation once it is in a final state, or as it is after `wait_s` seconds
    (`InvocationNotFound` at once for an unknown id). Cross-process: it reads the row, so a
    call that another server's runner ends is seen as soon as the next read."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, wait_s)
    pause = _FIRST_POLL_S
    while True:
        invocation = await _read(scope, principal, invocation_id)
        left = deadline - loop.time()
        if invocation.state in FINAL_INVOCATION_STATES or left <= 0:
            return invocation
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, _MAX_POLL_S)


async def _read(scope: WaitScope, principal: Principal, invocation_id: str) -> Invocation:
    async with scope.sessions() as session:
        return await get_invocation(
            session=session,
            recorder=scope.recorder,
            principal=principal,
            invocation_id=invocation_id,
        )


async def redrive(
    *,
    session: AsyncSession,
    principal: Principal,
    invocation_id: str,
    recorder: InvocationRecorder | None = None,
) -> Invocation:
    """Queue a dead letter again at attempt 0, due now; its earlier attempts are kept in
    `attempts` (the dead end too, marked `redriven_at`). `InvocationNotDead` otherwise.
    Flushed, not committed; the caller commits, then wakes the claimers."""
    invocation = await _one_in_scope(
        session, principal, invocation_id, Action.FUNCTION_INVOKE, recorder
    )
    moved = await QueueControlRepo(session).redrive(
        principal.namespace_id, invocation_id, datetime.now(UTC)
    )
    if not moved:
        raise _not_dead(invocation)
    await audit.record(
        session,
        principal=principal,
        action="invocation.redrive",
        target=f"invocation:{invocation_id}",
        namespace_id=principal.namespace_id,
        detail={"function": invocation.function_name, "attempts": invocation.attempt},
    )
    await session.flush()
    return await InvocationRepo(session).get(principal.namespace_id, invocation_id)


async def redrive_all(*, session: AsyncSession, principal: Principal, name: str) -> int:
    """Queue every dead letter of the live function `name` again; how many were."""
    authorize_function(principal, Action.FUNCTION_INVOKE, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    repo = QueueControlRepo(session)
    now = datetime.now(UTC)
    count = 0
    for invocation_id in await repo.dead_ids(principal.namespace_id, function.id):
        count += await repo.redrive(principal.namespace_id, invocation_id, now)
    await audit.record(
        session,
        principal=principal,
        action="invocation.redrive-all",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={"redriven": count},
    )
    await session.flush()
    return count


async def discard(
    *,
    session: AsyncSession,
    principal: Principal,
    invocation_id: str,
    recorder: InvocationRecorder | None = None,
) -> None:
    """Delete one dead letter, with its logs (see the module's note). `InvocationNotDead`
    otherwise."""
    invocation = await _one_in_scope(
        session, principal, invocation_id, Action.FUNCTION_WRITE, recorder
    )
    gone = await QueueControlRepo(session).discard(principal.namespace_id, [invocation_id])
    if not gone:
        raise _not_dead(invocation)
    await audit.record(
        session,
        principal=principal,
        action="invocation.discard",
        target=f"invocation:{invocation_id}",
        namespace_id=principal.namespace_id,
        detail={"function": invocation.function_name, "attempts": invocation.attempt},
    )
    await session.flush()


async def discard_all(*, session: AsyncSession, principal: Principal, name: str) -> int:
    """Delete every dead letter of the live function `name`; how many went."""
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    repo = QueueControlRepo(session)
    count = await repo.discard(
        principal.namespace_id, await repo.dead_ids(principal.namespace_id, function.id)
    )
    await audit.record(
        session,
        principal=principal,
        action="invocation.discard-all",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={"discarded": count},
    )
    await session.flush()
    return count


async def _one_in_scope(
    session: AsyncSession,
    principal: Principal,
    invocation_id: str,
    action: Action,
    recorder: InvocationRecorder | None,
) -> Invocation:
    """The invocation, once the role may do `action` and the caller may see its function (a
    limited key's other functions, like another namespace's, are not found). Buffered sync
    records are written first, so that a refusal names the call's real state."""
    authorize(principal, action)
    if recorder is not None:
        with contextlib.suppress(Exception):  # a full disk: the buffered records wait
            await recorder.run_once()
    invocation = await InvocationRepo(session).get(principal.namespace_id, invocation_id)
    if not in_scope(principal, invocation.function_name):
        raise InvocationNotFound(
            f"no invocation with id {invocation_id!r}", invocation_id=invocation_id
        )
    return invocation


def _not_dead(invocation: Invocation) -> InvocationNotDead:
    return InvocationNotDead(
        f"invocation {invocation.id!r} is {invocation.state.value}, not dead; only a dead "
        "letter can be redriven or discarded",
        invocation_id=invocation.id,
        state=invocation.state.value,
    )
