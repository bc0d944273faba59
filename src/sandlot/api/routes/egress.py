"""A namespace's egress bound: read by anyone who can read the namespace, set by the
platform admin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.egress_schemas import EgressBoundOut, EgressBoundSet
from sandlot.api.schemas import ErrorOut
from sandlot.services import egress as service

router = APIRouter(tags=["egress"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "InvalidEgressPolicy: a bound not in the text form"},
    401: {"model": ErrorOut, "description": "Missing or wrong API key"},
    403: {"model": ErrorOut, "description": "PermissionDenied: only the platform admin sets"},
    404: {"model": ErrorOut, "description": "NamespaceNotFound (or not the caller's)"},
    422: {"model": ErrorOut, "description": "The request does not match the schema"},
}


@router.get(
    "/namespaces/{namespace}/egress",
    response_model=EgressBoundOut,
    responses=ERRORS,
    summary="What the namespace's functions may reach: its egress bound",
)
async def get_egress_bound(
    namespace: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> EgressBoundOut:
    view = await service.get_bound(
        session=session, principal=principal, host=runtime.egress, name=namespace
    )
    return EgressBoundOut.of(view)


@router.put(
    "/namespaces/{namespace}/egress",
    response_model=EgressBoundOut,
    responses=ERRORS,
    summary="Set the namespace's egress bound (platform admin)",
    description="Checked at each deploy: a policy asking for more is refused with 403 "
    "EgressNotAllowed. Versions already deployed keep their policies.",
)
async def set_egress_bound(
    namespace: str,
    body: EgressBoundSet,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> EgressBoundOut:
    view = await service.set_bound(
        session=session, principal=principal, host=runtime.egress, name=namespace, bound=body.bound
    )
    await session.commit()
    return EgressBoundOut.of(view)
