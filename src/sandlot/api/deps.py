"""FastAPI dependencies: the runtime, a database session, and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request

from sandlot.domain.limits import VERSION_NUMBER_MAX
from sandlot.domain.models import Principal
from sandlot.services import auth
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
    runtime: RuntimeDep,
    authorization: Annotated[
        str | None, Header(description="`Bearer <API key>`", include_in_schema=False)
    ] = None,
) -> Principal:
    key = auth.bearer_key(authorization)
    return await auth.authenticate(sessions=runtime.database.sessions, key=key, cache=runtime.keys)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


# Bounded as stored: a larger number would overflow the database's integer column.
VersionNumber = Annotated[
    int, Path(ge=1, le=VERSION_NUMBER_MAX, description="A version number, from 1")
]
VersionQuery = Annotated[
    int | None,
    Query(ge=1, le=VERSION_NUMBER_MAX, description="A version number; default: latest"),
]
