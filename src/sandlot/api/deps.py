"""FastAPI dependencies: the runtime, a database session, and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request, Security
from fastapi.security import APIKeyCookie, HTTPBearer

from sandlot.api.credentials import NAMESPACE_PATTERN, request_credentials
from sandlot.domain.limits import VERSION_NUMBER_MAX
from sandlot.domain.models import Principal
from sandlot.services.authenticator import Caller
from sandlot.services.runtime import Runtime, Session
from sandlot.services.session_tokens import CSRF_HEADER, NAMESPACE_HEADER, SESSION_COOKIE


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


class _SessionCookie(APIKeyCookie):
    """Declares the session cookie in the OpenAPI document; the authenticator reads it."""

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        return request.cookies.get(SESSION_COOKIE)


SESSION = _SessionCookie(
    name=SESSION_COOKIE,
    scheme_name="SessionCookie",
    description="A browser session from POST /api/v1/auth/login. A request that changes "
    f"something must also send the session's CSRF token in `{CSRF_HEADER}`. Ignored when "
    "an Authorization header is sent.",
    auto_error=False,
)


async def get_caller(
    request: Request,
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Security(BEARER)],
    session_token: Annotated[str | None, Security(SESSION)],
) -> Caller:
    """Who is calling, before a namespace is chosen (for routes about the caller)."""
    del authorization, session_token  # declared for the document; read from the request
    return await runtime.authenticator.identify(request_credentials(request))


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_principal(
    runtime: RuntimeDep,
    caller: CallerDep,
    namespace: Annotated[
        str | None,
        Header(
            alias=NAMESPACE_HEADER,
            pattern=NAMESPACE_PATTERN,
            description="The namespace to act in: one you are a member of (the platform "
            "admin: any). Default: your `default` membership, else your first; a key acts "
            "in its own namespace.",
        ),
    ] = None,
) -> Principal:
    return await runtime.authenticator.act_in(caller, namespace)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


# Bounded as stored: a larger number would overflow the database's integer column.
VersionNumber = Annotated[
    int, Path(ge=1, le=VERSION_NUMBER_MAX, description="A version number, from 1")
]
VersionQuery = Annotated[
    int | None,
    Query(ge=1, le=VERSION_NUMBER_MAX, description="A version number; default: latest"),
]
