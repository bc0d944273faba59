"""Cancelling an asynchronous call: a queued one never runs, a running one is stopped.

The row is ended `cancelled` in the caller's transaction; whoever runs the call stops it:
the route tells this server's runner at once (role api: the worker that held the lease, by
a signed `kill`, `RemotePool.kill`), and a runner elsewhere finds its row no longer its own
at its next round (`AsyncRunner._drop_lost`) and kills the instance.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import InvocationNotCancellable, InvocationNotFound
from sandlot.domain.models import Invocation, Principal
from sandlot.services import audit
from sandlot.services.authz import authorize, in_scope
from sandlot.services.recorder import InvocationRecorder
from sandlot.storage.invocations import InvocationRepo
from sandlot.storage.queue import QueueRepo


@dataclass(frozen=True)
class Cancelled:
    invocation: Invocation
    # The claimer (a worker's id in a cluster) whose lease the cancel ended; None: queued.
    ran_on: str | None


async def cancel_invocation(
    *,
    session: AsyncSession,
    recorder: InvocationRecorder,
    principal: Principal,
    invocation_id: str,
) -> Cancelled:
    authorize(principal, Action.FUNCTION_INVOKE)
    # A sync call's record may still be buffered: written first, so that it is found (and
    # refused as a sync call) rather than not found.
    with contextlib.suppress(Exception):
        await recorder.run_once()
    repo = InvocationRepo(session)
    invocation = await repo.get(principal.namespace_id, invocation_id)
    if not in_scope(principal, invocation.function_name):
        raise InvocationNotFound(
            f"no invocation with id {invocation_id!r}", invocation_id=invocation_id
        )
    queue = QueueRepo(session)
    ran_on = await queue.running_on(principal.namespace_id, invocation_id)
    if not await queue.cancel(principal.namespace_id, invocation_id, datetime.now(UTC)):
        raise InvocationNotCancellable(_why(invocation), state=invocation.state.value)
    await audit.record(
        session,
        principal=principal,
        action="invocation.cancel",
        target=f"invocation:{invocation_id}",
        namespace_id=principal.namespace_id,
        detail={"function": invocation.function_name, "was": invocation.state.value},
    )
    return Cancelled(await repo.get(principal.namespace_id, invocation_id), ran_on)


def _why(invocation: Invocation) -> str:
    if invocation.max_attempts is None:
        return "a sync call cannot be cancelled (it ends with its request)"
    return f"the invocation has already ended ({invocation.state.value})"
