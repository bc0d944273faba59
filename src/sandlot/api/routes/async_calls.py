"""Asynchronous calls: a function's retry policy (`async-config`), and cancelling a call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sandlot.api.async_schemas import AsyncConfigOut, AsyncConfigPut
from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.schemas import ErrorOut, InvocationOut
from sandlot.services import async_cancel, async_config
from sandlot.services.remote_pool import RemotePool

router = APIRouter(tags=["asynchronous calls"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong credentials"},
    403: {"model": ErrorOut, "description": "PermissionDenied: the caller's role may not"},
    404: {"model": ErrorOut, "description": "FunctionNotFound (also another namespace's)"},
    422: {"model": ErrorOut, "description": "The request does not match the schema"},
}


@router.get(
    "/functions/{name}/async-config",
    response_model=AsyncConfigOut,
    responses=_ERRORS,
    summary="A function's retry policy for its asynchronous calls",
    description="Defaults when never set: max_attempts 3, retry_on_error false, "
    "max_event_age_s 21600 (6 h).",
)
async def get_async_config(
    name: str, session: SessionDep, principal: PrincipalDep
) -> AsyncConfigOut:
    config = await async_config.get_async_config(session=session, principal=principal, name=name)
    return AsyncConfigOut.of(config)


@router.put(
    "/functions/{name}/async-config",
    response_model=AsyncConfigOut,
    responses={
        **_ERRORS,
        400: {
            "model": ErrorOut,
            "description": "InvalidAsyncConfig: max_attempts is 1-10, max_event_age_s 60-21600",
        },
    },
    summary="Set a function's retry policy for its asynchronous calls",
    description="Fields left out keep their value. Retried while attempts are left, with "
    "exponential back-off and full jitter: crashes, timeouts, out of memory, a lost server; a "
    "raised exception only with retry_on_error. After the last attempt, a failure not "
    "retried, or an event older than max_event_age_s, the call is `dead`. max_attempts "
    "applies to calls accepted from now on.",
)
async def set_async_config(
    name: str, body: AsyncConfigPut, session: SessionDep, principal: PrincipalDep
) -> AsyncConfigOut:
    config = await async_config.set_async_config(
        session=session,
        principal=principal,
        name=name,
        max_attempts=body.max_attempts,
        retry_on_error=body.retry_on_error,
        max_event_age_s=body.max_event_age_s,
    )
    await session.commit()
    return AsyncConfigOut.of(config)


@router.post(
    "/invocations/{invocation_id}/cancel",
    response_model=InvocationOut,
    responses={
        **_ERRORS,
        404: {"model": ErrorOut, "description": "InvocationNotFound (also another namespace's)"},
        409: {
            "model": ErrorOut,
            "description": "InvocationNotCancellable: it has already ended, or is a sync call",
        },
    },
    summary="Cancel a queued or running asynchronous call",
    description="A queued call never runs; a running one's instance is killed. Either way "
    "its state is `cancelled` at once, and no destination is told.",
)
async def cancel_invocation(
    invocation_id: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> InvocationOut:
    cancelled = await async_cancel.cancel_invocation(
        session=session,
        recorder=runtime.recorder,
        principal=principal,
        invocation_id=invocation_id,
    )
    await session.commit()
    # Only once the commit ended the row: whatever runs it then is a superseded attempt.
    if runtime.async_runner is not None:
        runtime.async_runner.kill(invocation_id)  # running here: stop it now, not next round
    elif cancelled.ran_on is not None and isinstance(runtime.pool, RemotePool):
        await runtime.pool.kill(cancelled.ran_on, invocation_id)  # on its worker, now
    return InvocationOut.of(cancelled.invocation)
