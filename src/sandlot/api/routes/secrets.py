"""Secrets of the caller's namespace: set, list, show and delete; never read back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.schemas import ErrorOut
from sandlot.api.secret_schemas import RotationOut, SecretList, SecretOut, SecretPut
from sandlot.api.uploads import read_body
from sandlot.domain.secrets import SECRET_MAX_BYTES, SECRET_NAME_RE
from sandlot.services import secrets as service

# The rule is documented here and checked by the domain: a name that breaks it is the named
# 400 InvalidSecretName (on a set) or a 404 (on a read), never a bare 422.
SecretName = Annotated[
    str,
    Path(
        description="An environment-variable name, not one the runtime reserves",
        json_schema_extra={"pattern": SECRET_NAME_RE.pattern},
    ),
]

_MAX_BODY_BYTES = SECRET_MAX_BYTES * 6 + 1024

router = APIRouter(prefix="/secrets", tags=["secrets"])
# The key is the platform's, not one namespace's: a path of its own, which no secret's name
# can shadow.
key_router = APIRouter(prefix="/secret-key", tags=["secrets"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "InvalidSecretName (not an env-var name, or reserved), SecretTooLarge (over 64 KB)",
        401: "Missing or wrong credentials",
        403: "The caller's role may not do this",
        404: "No such secret in the caller's namespace",
        409: "SecretInUse: live functions name it (they are listed); or a concurrent set",
        422: "The request does not match the schema",
    }.items()
}


@router.put(
    "/{name}",
    response_model=SecretOut,
    responses={**ERRORS, 413: {"model": ErrorOut, "description": "PayloadTooLarge"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SecretPut.model_json_schema()}},
        }
    },
    summary="Set a secret: a new version; functions that use it get it on their next start",
    description="Warm instances, spares and zygotes of functions that name the secret are "
    "replaced: the next call starts with the new value, without a redeploy.",
)
async def set_secret(
    name: SecretName,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> SecretOut:
    body = await _secret_body(request)
    changed = await service.set_secret(
        session=session,
        principal=principal,
        keyring=runtime.keyring,
        name=name,
        value=body.value,
    )
    await session.commit()
    await service.replace_stale(
        stale=changed.stale,
        catalog=runtime.catalog,
        pool=runtime.pool,
        activator=runtime.activator,
    )
    view = await service.get_secret(session=session, principal=principal, name=name)
    return SecretOut.of(view)


async def _secret_body(request: Request) -> SecretPut:
    """The body, read within a bound (a value's 64 KB, JSON-escaped at worst six bytes a
    character): a huge body is refused before it is all in memory."""
    data = await read_body(request, _MAX_BODY_BYTES, "secret's body")
    try:
        return SecretPut.model_validate_json(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from None


@router.get("", response_model=SecretList, responses=ERRORS, summary="List secrets (no values)")
async def list_secrets(session: SessionDep, principal: PrincipalDep) -> SecretList:
    views = await service.list_secrets(session=session, principal=principal)
    return SecretList(items=[SecretOut.of(view) for view in views])


@router.get(
    "/{name}", response_model=SecretOut, responses=ERRORS, summary="A secret's metadata (no value)"
)
async def get_secret(name: SecretName, session: SessionDep, principal: PrincipalDep) -> SecretOut:
    return SecretOut.of(await service.get_secret(session=session, principal=principal, name=name))


@router.delete(
    "/{name}",
    status_code=204,
    responses=ERRORS,
    summary="Delete a secret that no live function names",
)
async def delete_secret(name: SecretName, session: SessionDep, principal: PrincipalDep) -> Response:
    await service.delete_secret(session=session, principal=principal, name=name)
    await session.commit()
    return Response(status_code=204)


@key_router.post(
    "/rotate",
    response_model=RotationOut,
    responses={**ERRORS, 503: {"model": ErrorOut, "description": "SecretUndecryptable"}},
    summary="Re-encrypt every secret under a new key, while functions keep running "
    "(platform admin)",
    description="With the key file, the server makes the new key itself; with "
    "SANDLOT_SECRET_KEY, set the new key there and the old one in "
    "SANDLOT_SECRET_PREVIOUS_KEYS, restart, then call this.",
)
async def rotate_key(runtime: RuntimeDep, principal: PrincipalDep) -> RotationOut:
    return RotationOut.of(await runtime.rotator.rotate(principal))
