"""Dependency environments on this machine (admins only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.schemas import ErrorOut
from sandlot.services import environments as service

router = APIRouter(prefix="/environments", tags=["environments"])
ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorOut} for status in (401, 403)}


class EnvironmentOut(BaseModel):
    key: str
    size_bytes: int
    created_at: datetime
    last_used_at: datetime
    in_use: bool


class EnvironmentList(BaseModel):
    items: list[EnvironmentOut]


class PruneOut(BaseModel):
    removed: list[str]


@router.get("", response_model=EnvironmentList, responses=ERRORS, summary="List environments")
async def list_environments(
    runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> EnvironmentList:
    found, in_use = await service.list_environments(
        session=session, principal=principal, builder=runtime.builder
    )
    return EnvironmentList(
        items=[
            EnvironmentOut(
                key=env.key,
                size_bytes=env.size_bytes,
                created_at=datetime.fromtimestamp(env.created_at, UTC),
                last_used_at=datetime.fromtimestamp(env.last_used_at, UTC),
                in_use=env.key in in_use,
            )
            for env in found
        ]
    )


@router.post("/prune", response_model=PruneOut, responses=ERRORS, summary="Remove unused ones")
async def prune(
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    grace_s: Annotated[
        float | None, Query(ge=0, description="Default: SANDLOT_ENV_GC_GRACE_S")
    ] = None,
) -> PruneOut:
    removed = await service.prune(
        session=session, principal=principal, builder=runtime.builder, grace_s=grace_s
    )
    await session.commit()
    return PruneOut(removed=removed)
