"""A function's public URL: show, set and delete its configuration. The URL itself is
served by the lean route in api/url_path.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.function_url_schemas import CorsOut, FunctionUrlIn, FunctionUrlOut
from sandlot.api.schemas import ErrorOut
from sandlot.services import function_urls as service

router = APIRouter(prefix="/functions", tags=["function URLs"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        401: "Missing or wrong credentials",
        403: "The caller's role may not do this",
        400: "InvalidAliasName: the alias in `name:alias` is not valid",
        404: "FunctionNotFound: no such function in the caller's namespace; AliasNotFound "
        "(setting the URL of an alias the function does not have)",
        422: "The request does not match the schema",
    }.items()
}


def _out(settings: service.UrlSettings, runtime: RuntimeDep, request: Request) -> FunctionUrlOut:
    base = runtime.settings.public_url or str(request.base_url)
    stored = settings.url
    out = FunctionUrlOut(
        function=settings.function,
        alias=settings.alias,
        enabled=stored is not None,
        path=settings.path,
        url=base.rstrip("/") + settings.path,
    )
    if stored is None:
        return out
    return out.model_copy(
        update={
            "auth": stored.config.auth,
            "cors": CorsOut.of(stored.config.cors),
            "created_at": stored.created_at,
            "updated_at": stored.updated_at,
            "updated_by": stored.updated_by,
        }
    )


@router.get(
    "/{name}/url",
    response_model=FunctionUrlOut,
    responses=ERRORS,
    summary="A function's public URL",
    description="`enabled` says whether it has one; `url` is where it is (or would be). "
    "`{name}` = `hello:prod` is the URL of alias `prod`, `/fn/{namespace}/hello:prod/`.",
)
async def get_function_url(
    name: str, request: Request, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> FunctionUrlOut:
    settings = await service.get_url(session=session, principal=principal, name=name)
    return _out(settings, runtime, request)


@router.put(
    "/{name}/url",
    response_model=FunctionUrlOut,
    responses={
        **ERRORS,
        400: {
            "model": ErrorOut,
            "description": "InvalidFunctionUrl: a CORS value not valid; InvalidAliasName",
        },
    },
    summary="Give a function a public URL, or change its auth and CORS",
    description="Any method on `/fn/{namespace}/{function}/{path}` then runs the function "
    "with an AWS HTTP API payload 2.0 event (trigger `url`).",
)
async def set_function_url(
    name: str,
    body: FunctionUrlIn,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> FunctionUrlOut:
    cors = body.cors.model_dump() if body.cors is not None else None
    settings = await service.set_url(
        session=session, principal=principal, name=name, auth=body.auth, cors=cors
    )
    await session.commit()
    runtime.function_urls.forget(principal.namespace, service.canonical(name))
    return _out(settings, runtime, request)


@router.delete(
    "/{name}/url",
    status_code=204,
    responses=ERRORS,
    summary="Take a function's public URL down",
    description="From then on the URL answers 404, as if it had never been. Deleting a URL "
    "that is not there succeeds too.",
)
async def delete_function_url(
    name: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    await service.delete_url(session=session, principal=principal, name=name)
    await session.commit()
    runtime.function_urls.forget(principal.namespace, service.canonical(name))
    return Response(status_code=204)
