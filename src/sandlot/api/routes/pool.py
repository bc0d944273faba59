"""The worker pool as it is now (platform admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sandlot.api.deps import PrincipalDep, RuntimeDep
from sandlot.api.pool_schemas import PoolOut
from sandlot.api.schemas import ErrorOut
from sandlot.services import pool as service

router = APIRouter(prefix="/pool", tags=["pool"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong credentials"},
    403: {"model": ErrorOut, "description": "PermissionDenied: only the platform admin"},
}


@router.get(
    "",
    response_model=PoolOut,
    responses=ERRORS,
    summary="The worker pool now: instances, zygotes, spares, memory charged",
    description="Counted at the moment of the call on this server's pool; the console's "
    "operator page polls it. The same numbers are in /metrics.",
)
async def get_pool(runtime: RuntimeDep, principal: PrincipalDep) -> PoolOut:
    stats = service.pool_stats(principal=principal, pool=runtime.pool)
    settings = runtime.settings
    return PoolOut.of(
        stats, sandbox=settings.sandbox.value, insecure=runtime.insecure, zygotes=settings.zygotes
    )
