"""API keys of the caller's namespace."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.schemas import ErrorOut, KeyCreate, KeyCreated, KeyList, KeyOut
from sandlot.services import auth
from sandlot.services.lambda_auth import access_key_id

router = APIRouter(prefix="/keys", tags=["keys"])
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "InvalidRole, a bad function name or expiry",
        401: "Missing or wrong credentials",
        403: "RoleTooHigh (above your own role), or the caller may not manage keys",
        404: "ApiKeyNotFound",
        422: "The request does not match the schema",
    }.items()
}
# LastAdminKey: the namespace's last active admin key is never revoked.
REVOKE_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 409: {"model": ErrorOut}}


@router.post(
    "",
    status_code=201,
    response_model=KeyCreated,
    responses=ERRORS,
    summary="New key in your namespace, with a role no higher than yours",
)
async def create_key(
    body: KeyCreate, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> KeyCreated:
    request = auth.KeyRequest(
        name=body.name,
        role=body.role,
        functions=body.functions,
        expires_at=body.expires_at,
        expires_in_days=body.expires_in_days,
    )
    created, secret = await auth.create_key(
        session=session, principal=principal, request=request, keyring=runtime.keyring
    )
    await session.commit()
    runtime.authenticator.key_created(secret)
    return KeyCreated(
        **KeyOut.of(created).model_dump(),
        key=secret,
        aws_access_key_id=access_key_id(created.prefix),
        aws_region=runtime.settings.aws_region,
    )


@router.get(
    "",
    response_model=KeyList,
    responses=ERRORS,
    summary="List keys (never secrets): owners see the namespace's, others their own",
)
async def list_keys(session: SessionDep, principal: PrincipalDep) -> KeyList:
    keys = await auth.list_keys(session=session, principal=principal)
    return KeyList(items=[KeyOut.of(key) for key in keys])


@router.delete(
    "/{key_id}",
    status_code=204,
    responses=REVOKE_ERRORS,
    summary="Revoke a key: your own, or (owners) any of the namespace's",
)
async def revoke_key(
    key_id: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    await auth.revoke_key(session=session, principal=principal, key_id=key_id, cache=runtime.keys)
    await session.commit()
    runtime.keys.clear()
    return Response(status_code=204)
