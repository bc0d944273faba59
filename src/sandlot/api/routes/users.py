"""Users (the platform admin manages them) and passwords."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from sandlot.api.deps import CallerDep, PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.identity_schemas import (
    MembershipOut,
    PasswordChange,
    UserCreate,
    UserDetail,
    UserList,
    UserOut,
    UserPatch,
)
from sandlot.api.schemas import ErrorOut
from sandlot.domain.errors import NamespaceNotFound
from sandlot.domain.models import Principal
from sandlot.services import users
from sandlot.services.authenticator import Authenticator, Caller
from sandlot.services.session_tokens import hash_token

router = APIRouter(prefix="/users", tags=["users"])
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 401, 403, 404, 422, 429)
}
CREATE_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 409: {"model": ErrorOut}}
Login = Annotated[str, Path(max_length=64, description="The user's login name")]


@router.post(
    "", status_code=201, response_model=UserOut, responses=CREATE_ERRORS, summary="New user"
)
async def create_user(body: UserCreate, session: SessionDep, principal: PrincipalDep) -> UserOut:
    created = await users.create_user(
        session=session,
        principal=principal,
        login=body.login,
        password=body.password,
        display_name=body.display_name,
        platform_admin=body.platform_admin,
    )
    await session.commit()
    return UserOut.of(created)


@router.get("", response_model=UserList, responses=ERRORS, summary="List users")
async def list_users(session: SessionDep, principal: PrincipalDep) -> UserList:
    found = await users.list_users(session=session, principal=principal)
    return UserList(items=[UserOut.of(user) for user in found])


@router.get("/{login}", response_model=UserDetail, responses=ERRORS, summary="One user")
async def get_user(login: Login, session: SessionDep, principal: PrincipalDep) -> UserDetail:
    user, memberships = await users.get_user(session=session, principal=principal, login=login)
    return UserDetail(
        **UserOut.of(user).model_dump(),
        memberships=[MembershipOut.of(membership) for membership in memberships],
    )


@router.patch(
    "/{login}",
    response_model=UserOut,
    responses=ERRORS,
    summary="Change a display name; disable (ends sessions, stops keys) or enable",
)
async def update_user(
    login: Login,
    body: UserPatch,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> UserOut:
    updated = await users.update_user(
        session=session,
        principal=principal,
        login=login,
        display_name=body.display_name,
        disabled=body.disabled,
    )
    await session.commit()
    runtime.authenticator.forget_user(updated.id)
    return UserOut.of(updated)


@router.post(
    "/{login}/password",
    status_code=204,
    responses=ERRORS,
    summary="Set a password: your own (with the current one; your other sessions end), or "
    "anyone's (platform admin; their sessions end)",
)
async def set_password(
    login: Login,
    body: PasswordChange,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: CallerDep,
) -> Response:
    user = await users.set_password(
        session=session,
        principal=await _principal_or_none(runtime.authenticator, caller),
        caller_user_id=caller.session.stored.user_id if caller.session else None,
        login=login,
        new_password=body.new_password,
        current_password=body.current_password,
        current_session=hash_token(caller.session_token) if caller.session_token else None,
    )
    await session.commit()
    runtime.authenticator.forget_user(user.id)
    return Response(status_code=204)


async def _principal_or_none(authenticator: Authenticator, caller: Caller) -> Principal | None:
    """The caller in their default namespace; None for a user who is a member of none yet
    (they may still change their own password)."""
    try:
        return await authenticator.act_in(caller, None)
    except NamespaceNotFound:
        return None
