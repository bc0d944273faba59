"""Namespaces: the platform admin creates them; owners rename and delete theirs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.namespace_schemas import (
    NamespaceCreate,
    NamespaceList,
    NamespaceOut,
    NamespaceUpdate,
)
from sandlot.api.schemas import ErrorOut
from sandlot.services import namespaces as service
from sandlot.services import quotas

router = APIRouter(prefix="/namespaces", tags=["namespaces"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "InvalidInput: a bad name or display name",
        401: "Missing or wrong credentials",
        403: "PermissionDenied: your role there may not do this",
        404: "NamespaceNotFound (also for a namespace that is not yours), UserNotFound",
        409: "NamespaceAlreadyExists; DefaultNamespaceProtected",
        422: "The request does not match the schema",
    }.items()
}


@router.post(
    "",
    status_code=201,
    response_model=NamespaceOut,
    responses=ERRORS,
    summary="Create a namespace (platform admin), optionally with its first owner",
)
async def create_namespace(
    body: NamespaceCreate, session: SessionDep, principal: PrincipalDep
) -> NamespaceOut:
    view = await service.create_namespace(
        session=session,
        principal=principal,
        name=body.name,
        display_name=body.display_name,
        owner=body.owner,
    )
    await session.commit()
    return NamespaceOut.of(view)


@router.get(
    "",
    response_model=NamespaceList,
    responses=ERRORS,
    summary="Namespaces: all for the platform admin, else the ones you belong to",
)
async def list_namespaces(
    session: SessionDep, principal: PrincipalDep, include_deleted: bool = False
) -> NamespaceList:
    views = await service.list_namespaces(
        session=session, principal=principal, include_deleted=include_deleted
    )
    return NamespaceList(items=[NamespaceOut.of(view) for view in views])


@router.get(
    "/{namespace}",
    response_model=NamespaceOut,
    responses=ERRORS,
    summary="One namespace: its names, when it was made, your role there",
)
async def get_namespace(
    namespace: str,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    include_deleted: bool = Query(
        default=False, description="The platform admin: a deleted namespace's record too"
    ),
) -> NamespaceOut:
    view = await service.get_namespace(
        session=session, principal=principal, name=namespace, include_deleted=include_deleted
    )
    report = await quotas.quota_report(
        session=session,
        pool=runtime.pool,
        defaults=runtime.quota_defaults,
        namespace=view.namespace,
    )
    return NamespaceOut.of(view, report)


@router.patch(
    "/{namespace}",
    response_model=NamespaceOut,
    responses=ERRORS,
    summary="Change a namespace's display name (owner)",
)
async def update_namespace(
    namespace: str, body: NamespaceUpdate, session: SessionDep, principal: PrincipalDep
) -> NamespaceOut:
    view = await service.rename_namespace(
        session=session, principal=principal, name=namespace, display_name=body.display_name
    )
    await session.commit()
    return NamespaceOut.of(view)


@router.delete(
    "/{namespace}",
    status_code=204,
    responses=ERRORS,
    summary="Delete a namespace: its functions stop, its keys are revoked, its history stays",
)
async def delete_namespace(
    namespace: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    await service.delete_namespace(
        session=session, principal=principal, name=namespace, pool=runtime.pool
    )
    await session.commit()
    # After the commit, so that no request re-caches the namespace's old state in between.
    runtime.catalog.clear()
    runtime.authenticator.forget_namespace(namespace)
    return Response(status_code=204)
