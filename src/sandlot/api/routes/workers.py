"""The workers that run functions, and asking one to drain (platform admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.schemas import ErrorOut
from sandlot.api.worker_schemas import DrainOut, WorkerListOut
from sandlot.services import workers as service

router = APIRouter(prefix="/workers", tags=["workers"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong credentials"},
    403: {"model": ErrorOut, "description": "PermissionDenied: only the platform admin"},
}
DRAIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorOut, "description": "WorkerNotFound: not in the registry"},
    409: {"model": ErrorOut, "description": "WorkerNotDrainable: one process, no workers"},
}


@router.get(
    "",
    response_model=WorkerListOut,
    responses=ERRORS,
    summary="The workers: health, load, free memory, warm versions",
    description="In one process (role all, nobody registered) the one entry is this "
    "server's own pool. Otherwise the registry's rows as of their last heartbeats.",
)
async def list_workers(
    runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> WorkerListOut:
    found = await service.list_workers(
        session=session, principal=principal, settings=runtime.settings, pool=runtime.pool
    )
    return WorkerListOut.of(found)


@router.post(
    "/{worker_id}/drain",
    response_model=DrainOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=DRAIN_ERRORS,
    summary="Ask a worker to drain: it admits nothing new, finishes its calls and exits",
    description="The worker reads the request at its next heartbeat; API servers stop "
    "routing to it from then on. Its row goes when it exits.",
)
async def drain_worker(
    worker_id: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> DrainOut:
    await service.request_drain(
        session=session, principal=principal, settings=runtime.settings, worker_id=worker_id
    )
    await session.commit()
    return DrainOut(
        worker=worker_id,
        drain_requested=True,
        message=f"worker {worker_id} drains at its next heartbeat",
    )
