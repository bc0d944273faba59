"""A function's aliases, rollback and deploy history. Callers use an alias by naming
`function:alias` where they name the function they call (api/invoke_path.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from sandlot.api.alias_schemas import (
    AliasIn,
    AliasList,
    AliasOut,
    HistoryEntry,
    HistoryPage,
    RollbackIn,
)
from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.schemas import ErrorOut
from sandlot.domain.actions import Action
from sandlot.domain.aliases import ALIAS_NAME
from sandlot.domain.ids import INVOCATION_ID_PATTERN
from sandlot.services import aliases as service

router = APIRouter(prefix="/functions", tags=["aliases"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "InvalidAliasName (also `latest` where it cannot be changed), InvalidAliasRoutes "
        "(weights not 1-100 or not summing to 100, a version named twice, too many)",
        401: "Missing or wrong credentials",
        403: "The caller's role may not do this",
        404: "FunctionNotFound, AliasNotFound",
        409: "AliasVersionNotReady, AliasInUse, NothingToRollBack, ReleaseInProgress",
        422: "The request does not match the schema",
    }.items()
}


@router.get(
    "/{name}/aliases",
    response_model=AliasList,
    responses=ERRORS,
    summary="A function's aliases, `latest` (built in) first",
)
async def list_aliases(name: str, session: SessionDep, principal: PrincipalDep) -> AliasList:
    function = await service.function_for(session, principal, name, Action.FUNCTION_READ)
    items = await service.list_aliases(session, function)
    return AliasList(items=[AliasOut.of(item) for item in items])


@router.get(
    "/{name}/aliases/{alias}", response_model=AliasOut, responses=ERRORS, summary="One alias"
)
async def get_alias(
    name: str, alias: str, session: SessionDep, principal: PrincipalDep
) -> AliasOut:
    function = await service.function_for(session, principal, name, Action.FUNCTION_READ)
    return AliasOut.of(await service.get_alias(session, function, alias))


@router.put(
    "/{name}/aliases/{alias}",
    response_model=AliasOut,
    responses={**ERRORS, 201: {"model": AliasOut, "description": "The alias was made"}},
    summary="Make an alias or point it elsewhere (one version, or a split by weight)",
    description="Callers then reach it as `name:alias`. The versions' instances are made "
    "ready before the alias moves; calls in flight finish on the version they started on.",
)
async def set_alias(
    name: str,
    alias: str,
    body: AliasIn,
    response: Response,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> AliasOut:
    function = await service.function_for(session, principal, name, Action.FUNCTION_WRITE)
    routes = service.routes_given(body.as_routes())
    service.check_move(alias, routes)
    await service.check_ready(session, function, routes)
    await runtime.activator.make_ready(function, {route.version for route in routes})
    info, created = await service.set_alias(
        session, principal=principal, function=function, name=alias, routes=routes
    )
    await session.commit()
    runtime.activator.routes_changed(function)
    response.status_code = 201 if created else 200
    return AliasOut.of(info)


@router.delete(
    "/{name}/aliases/{alias}",
    status_code=204,
    responses=ERRORS,
    summary="Delete an alias (not while a schedule, a URL or an active release uses it)",
)
async def delete_alias(
    name: str, alias: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    function = await service.function_for(session, principal, name, Action.FUNCTION_WRITE)
    await service.delete_alias(session, principal=principal, function=function, name=alias)
    await session.commit()
    runtime.activator.routes_changed(function)
    return Response(status_code=204)


@router.post(
    "/{name}/rollback",
    response_model=AliasOut,
    responses=ERRORS,
    summary="Point an alias (or `latest`) back at what it served before, or at a version",
    description="Without `to`, a rollback undoes the alias's newest change not undone yet "
    "(a release's steps count as one change), so a second rollback goes back further.",
)
async def rollback(
    name: str,
    body: RollbackIn,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> AliasOut:
    function = await service.function_for(session, principal, name, Action.FUNCTION_WRITE)
    target = await service.rollback_target(session, function, body.alias, body.to)
    await runtime.activator.make_ready(function, {route.version for route in target})
    info = await service.rollback(
        session, principal=principal, function=function, name=body.alias, target=target
    )
    await session.commit()
    runtime.activator.routes_changed(function)
    return AliasOut.of(info)


@router.get(
    "/{name}/history",
    response_model=HistoryPage,
    responses=ERRORS,
    summary="The deploy history: every move of an alias or of `latest`, newest first",
)
async def history(
    name: str,
    session: SessionDep,
    principal: PrincipalDep,
    alias: Annotated[
        str | None, Query(pattern=ALIAS_NAME.pattern, description="Only this alias's moves")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(pattern=INVOCATION_ID_PATTERN, description="next_cursor of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.HISTORY_LIMIT_MAX)] = 50,
) -> HistoryPage:
    function = await service.function_for(session, principal, name, Action.FUNCTION_READ)
    items, next_cursor = await service.history(
        session, function, alias=alias, limit=limit, cursor=cursor
    )
    return HistoryPage(items=[HistoryEntry.of(item) for item in items], next_cursor=next_cursor)
