"""API keys of the caller's namespace (admins only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.schemas import ErrorOut, KeyCreate, KeyCreated, KeyList, KeyOut
from sandlot.domain.models import ROLE_CAN_MANAGE_KEYS
from sandlot.services import auth

router = APIRouter(prefix="/keys", tags=["keys"])
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 401, 403, 404, 422)
}
# LastAdminKey: the namespace's last active admin key is never revoked.
REVOKE_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 409: {"model": ErrorOut}}


@router.post("", status_code=201, response_model=KeyCreated, responses=ERRORS, summary="New key")
async def create_key(
    body: KeyCreate, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> KeyCreated:
    auth.require_role(principal, ROLE_CAN_MANAGE_KEYS, "manage API keys")
    created, secret = await auth.create_key(
        session=session, principal=principal, name=body.name, role=body.role.value
    )
    await session.commit()
    runtime.authenticator.key_created(secret)
    return KeyCreated(**KeyOut.of(created).model_dump(), key=secret)


@router.get("", response_model=KeyList, responses=ERRORS, summary="List keys (never secrets)")
async def list_keys(session: SessionDep, principal: PrincipalDep) -> KeyList:
    auth.require_role(principal, ROLE_CAN_MANAGE_KEYS, "manage API keys")
    keys = await auth.list_keys(session=session, principal=principal)
    return KeyList(items=[KeyOut.of(key) for key in keys])


@router.delete("/{key_id}", status_code=204, responses=REVOKE_ERRORS, summary="Revoke a key")
async def revoke_key(
    key_id: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    auth.require_role(principal, ROLE_CAN_MANAGE_KEYS, "manage API keys")
    await auth.revoke_key(session=session, principal=principal, key_id=key_id, cache=runtime.keys)
    await session.commit()
    runtime.keys.clear()
    return Response(status_code=204)
