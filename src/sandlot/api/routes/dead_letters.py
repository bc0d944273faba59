"""Dead letters: asynchronous calls that used their last attempt, redriven or discarded.

Listing them is `GET /invocations?state=dead` (optionally `&function=NAME`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.schemas import ErrorOut, InvocationOut
from sandlot.services import async_control as service

router = APIRouter(tags=["invocations"])


class RedrivenOut(BaseModel):
    redriven: int = Field(description="How many dead letters were queued again")


class DiscardedOut(BaseModel):
    discarded: int = Field(description="How many dead letters were deleted")


_COMMON: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong credentials"},
}
_ONE: dict[int | str, dict[str, Any]] = {
    **_COMMON,
    404: {"model": ErrorOut, "description": "InvocationNotFound (also another namespace's)"},
    409: {
        "model": ErrorOut,
        "description": "InvocationNotDead: it is queued, running or ended another way",
    },
}
_ALL: dict[int | str, dict[str, Any]] = {
    **_COMMON,
    404: {"model": ErrorOut, "description": "FunctionNotFound (also another namespace's)"},
}
_INVOKER: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "PermissionDenied: below invoker"}
}
_DEVELOPER: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "PermissionDenied: below developer"}
}


@router.post(
    "/invocations/{invocation_id}/redrive",
    status_code=202,
    response_model=InvocationOut,
    responses={**_ONE, **_INVOKER},
    summary="Queue a dead letter again",
    description="The call is `queued` again at attempt 0, due now, with the same event and "
    "version; its earlier attempts stay in `attempts` (the dead end marked `redriven_at`). "
    "Needs the invoker role.",
)
async def redrive(
    invocation_id: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> InvocationOut:
    invocation = await service.redrive(
        session=session,
        principal=principal,
        invocation_id=invocation_id,
        recorder=runtime.recorder,
    )
    await session.commit()
    runtime.queue_waker.notify()
    return InvocationOut.of(invocation)


@router.post(
    "/invocations/{invocation_id}/discard",
    status_code=204,
    responses={**_ONE, **_DEVELOPER},
    summary="Delete a dead letter",
    description="The call's record and logs are deleted (the audit log keeps who did it). "
    "Needs the developer role.",
)
async def discard(
    invocation_id: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    await service.discard(
        session=session,
        principal=principal,
        invocation_id=invocation_id,
        recorder=runtime.recorder,
    )
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/functions/{name}/dead-letters/redrive",
    response_model=RedrivenOut,
    responses={**_ALL, **_INVOKER},
    summary="Queue every dead letter of a function again",
    description="Each is queued again as by `POST /invocations/{id}/redrive`. Needs the "
    "invoker role.",
)
async def redrive_all(
    name: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> RedrivenOut:
    count = await service.redrive_all(session=session, principal=principal, name=name)
    await session.commit()
    if count:
        runtime.queue_waker.notify()
    return RedrivenOut(redriven=count)


@router.post(
    "/functions/{name}/dead-letters/discard",
    response_model=DiscardedOut,
    responses={**_ALL, **_DEVELOPER},
    summary="Delete every dead letter of a function",
    description="Needs the developer role.",
)
async def discard_all(name: str, session: SessionDep, principal: PrincipalDep) -> DiscardedOut:
    count = await service.discard_all(session=session, principal=principal, name=name)
    await session.commit()
    return DiscardedOut(discarded=count)
