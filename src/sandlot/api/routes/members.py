"""Members of a namespace and their roles (owners and the platform admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.namespace_schemas import MemberAdd, MemberList, MemberOut, MemberUpdate
from sandlot.api.schemas import ErrorOut
from sandlot.services import members as service

router = APIRouter(prefix="/namespaces/{namespace}/members", tags=["members"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "InvalidRole: not owner, developer, invoker or viewer",
        401: "Missing or wrong credentials",
        403: "RoleTooHigh (above your own role), or your role may not manage members",
        404: "NamespaceNotFound, UserNotFound, MemberNotFound",
        409: "MemberAlreadyExists; LastNamespaceOwner (a namespace keeps an owner)",
        422: "The request does not match the schema",
    }.items()
}


@router.get("", response_model=MemberList, responses=ERRORS, summary="Members and roles")
async def list_members(namespace: str, session: SessionDep, principal: PrincipalDep) -> MemberList:
    members = await service.list_members(session=session, principal=principal, namespace=namespace)
    return MemberList(items=[MemberOut.of(member) for member in members])


@router.post(
    "", status_code=201, response_model=MemberOut, responses=ERRORS, summary="Add a member"
)
async def add_member(
    namespace: str,
    body: MemberAdd,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> MemberOut:
    member = await service.add_member(
        session=session, principal=principal, namespace=namespace, login=body.login, role=body.role
    )
    await session.commit()
    runtime.authenticator.forget_user(member.user_id)  # their sessions see it at once
    return MemberOut.of(member)


@router.patch(
    "/{login}", response_model=MemberOut, responses=ERRORS, summary="Change a member's role"
)
async def set_member_role(
    namespace: str,
    login: str,
    body: MemberUpdate,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> MemberOut:
    member = await service.set_member_role(
        session=session, principal=principal, namespace=namespace, login=login, role=body.role
    )
    await session.commit()
    # Keys above the new role were revoked; the member's sessions act with the new role.
    runtime.authenticator.forget_user(member.user_id)
    return MemberOut.of(member)


@router.delete("/{login}", status_code=204, responses=ERRORS, summary="Remove a member")
async def remove_member(
    namespace: str, login: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    removed = await service.remove_member(
        session=session, principal=principal, namespace=namespace, login=login
    )
    await session.commit()
    # The member's keys were revoked, and their sessions lose the namespace at once.
    runtime.authenticator.forget_user(removed.user_id)
    return Response(status_code=204)
