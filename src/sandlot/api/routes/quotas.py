"""A namespace's quotas: read by anyone who can read the namespace, set by the platform
admin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.quota_schemas import QuotaReportOut, QuotaSet
from sandlot.api.schemas import ErrorOut
from sandlot.services import quotas as service

router = APIRouter(tags=["quotas"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "InvalidLimit: a limit out of range"},
    401: {"model": ErrorOut, "description": "Missing or wrong API key"},
    403: {"model": ErrorOut, "description": "PermissionDenied: only the platform admin sets"},
    404: {"model": ErrorOut, "description": "NamespaceNotFound (or not the caller's)"},
    422: {"model": ErrorOut, "description": "The request does not match the schema"},
}


@router.get(
    "/quota",
    response_model=QuotaReportOut,
    responses=ERRORS,
    summary="The caller's namespace's quotas: each limit and the use now",
)
async def get_own_quota(
    runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> QuotaReportOut:
    return await get_quota(principal.namespace, runtime, session, principal)


@router.get(
    "/namespaces/{namespace}/quota",
    response_model=QuotaReportOut,
    responses=ERRORS,
    summary="The namespace's quotas: each limit and the use now",
)
async def get_quota(
    namespace: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> QuotaReportOut:
    report = await service.get_quota(
        session=session,
        principal=principal,
        pool=runtime.pool,
        defaults=runtime.quota_defaults,
        name=namespace,
    )
    return QuotaReportOut.of(report)


@router.put(
    "/namespaces/{namespace}/quota",
    response_model=QuotaReportOut,
    responses=ERRORS,
    summary="Set some of the namespace's quotas (platform admin)",
    description="A partial update: quotas left out stay; `null` goes back to the server's "
    "default. A limit below the current use is accepted and named in `warnings`.",
)
async def set_quota(
    namespace: str,
    body: QuotaSet,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> QuotaReportOut:
    changed, report = await service.set_quota(
        session=session,
        principal=principal,
        pool=runtime.pool,
        defaults=runtime.quota_defaults,
        name=namespace,
        changes=body.changes(),
    )
    await session.commit()
    runtime.catalog.invalidate_namespace(changed.id)  # calls see the new limits at once
    return QuotaReportOut.of(report)
