"""FastAPI dependencies: the runtime, a database session, and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request

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


async def get_principal(
    request: Request,
    runtime: RuntimeDep,
    authorization: Annotated[
        str | None, Header(description="`Bearer <API key>`", include_in_schema=False)
    ] = None,
) -> Principal:
    client = request.client.host if request.client else None
    return await runtime.authenticator.authenticate(authorization, client)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
