"""FastAPI dependencies: the runtime, a database session, and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import HTTPBearer

from sandlot.domain.limits import VERSION_NUMBER_MAX
from sandlot.domain.models import Principal
from sandlot.services.runtime import Runtime, Session


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[Session]:
    """A session per request. Routes that change data commit explicitly; anything not
    committed is rolled back when the request ends."""
    async with runtime.database.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


class _BearerHeader(HTTPBearer):
    """Declares the bearer scheme in the OpenAPI document (so /docs has an Authorize button
    and "Try it out" sends the key) but hands over the raw header: `services.auth` words
    every problem with it, here and on the lean invoke route alike."""

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        return request.headers.get("authorization")


BEARER = _BearerHeader(
    scheme_name="ApiKey",
    bearerFormat="Sandlot API key",
    description="An API key, sent as `Authorization: Bearer <key>`",
    auto_error=False,
)


async def get_principal(
    request: Request,
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Security(BEARER)],
) -> Principal:
    client = request.client.host if request.client else None
    principal = await runtime.authenticator.authenticate(authorization, client)
    # Per request, not cached with the key: the audit log says where each change came from.
    return replace(principal, address=client)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


# Bounded as stored: a larger number would overflow the database's integer column.
VersionNumber = Annotated[
    int, Path(ge=1, le=VERSION_NUMBER_MAX, description="A version number, from 1")
]
VersionQuery = Annotated[
    int | None,
    Query(ge=1, le=VERSION_NUMBER_MAX, description="A version number; default: latest"),
]
