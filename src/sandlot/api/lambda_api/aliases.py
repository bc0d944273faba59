"""Lambda API: CreateAlias, GetAlias, ListAliases, UpdateAlias, DeleteAlias.

On Sandlot's aliases (`services.aliases`), which split traffic by whole-percent weights
summing to 100 over up to ten versions. Lambda's alias is one `FunctionVersion` plus
`RoutingConfig.AdditionalVersionWeights` (fractions of one); here the primary version gets
what the additional weights leave. Read back, the version with the largest share is
`FunctionVersion` (the older one on a tie) and the others are additional weights.

A weight that is not a whole percent is refused by name rather than rounded: rounding would
send traffic the caller did not ask for (0.004 would become no traffic at all), and the
answer would then differ from the request, which tools that compare the two report as
drift. `Description` is accepted and not kept (Sandlot's aliases have none); `RevisionId` is
the id of the alias's newest move in the deploy history, so it changes with every change.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sandlot.api.deps import RuntimeDep, SessionDep
from sandlot.api.lambda_api.auth import LambdaPrincipal
from sandlot.api.lambda_api.errors import LambdaRoute
from sandlot.api.lambda_api.qualifiers import (
    LAMBDA_LATEST,
    FunctionName,
    is_version_number,
    parsed_body,
    unqualified,
    version_number,
)
from sandlot.domain.actions import Action
from sandlot.domain.aliases import MAX_ROUTES, TOTAL_WEIGHT, Route, Routes
from sandlot.domain.arns import function_arn
from sandlot.domain.errors import (
    AliasNotFound,
    Conflict,
    InvalidAliasRoutes,
    InvalidInput,
    VersionConflict,
)
from sandlot.domain.models import Function, Principal
from sandlot.services import aliases as service
from sandlot.services.aliases import AliasInfo
from sandlot.services.runtime import Runtime, Session

router = APIRouter(route_class=LambdaRoute)

MAX_ITEMS_DEFAULT = 50
# A float that is a whole percent up to this much off (0.07 * 100 = 7.000000000000001).
_PERCENT_SLACK = 1e-6

AliasName = Annotated[str, Path(alias="Name", min_length=1, max_length=128)]
MaxItems = Annotated[int, Query(alias="MaxItems", ge=1, le=10_000)]
Marker = Annotated[str | None, Query(alias="Marker", max_length=128)]
VersionFilter = Annotated[str | None, Query(alias="FunctionVersion", max_length=1024)]


class RoutingConfigIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    AdditionalVersionWeights: dict[str, float] | None = None


class CreateAliasIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Name: str = Field(min_length=1, max_length=128)
    FunctionVersion: str = Field(min_length=1, max_length=1024)
    Description: str | None = Field(default=None, max_length=256)
    RoutingConfig: RoutingConfigIn | None = None


class UpdateAliasIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    FunctionVersion: str | None = Field(default=None, min_length=1, max_length=1024)
    Description: str | None = Field(default=None, max_length=256)
    RoutingConfig: RoutingConfigIn | None = None
    RevisionId: str | None = Field(default=None, max_length=128)


@router.post("/functions/{FunctionName}/aliases")
async def create_alias(
    function_name: FunctionName,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
) -> JSONResponse:
    body = parsed_body(CreateAliasIn, request)
    name = unqualified(principal, runtime.settings.aws_region, function_name)
    function = await service.function_for(session, principal, name, Action.FUNCTION_WRITE)
    if await _exists(session, function, body.Name):
        raise Conflict(
            f"function {name!r} already has an alias {body.Name!r}: UpdateAlias changes it",
            function=name,
            alias=body.Name,
        )
    weights = body.RoutingConfig.AdditionalVersionWeights if body.RoutingConfig else None
    routes = with_primary(primary_version(body.FunctionVersion), weight_routes(weights or {}))
    info = await _set(runtime, session, principal, function, body.Name, routes)
    return JSONResponse(
        await _configuration(runtime, session, principal, function, info), status_code=201
    )


@router.get("/functions/{FunctionName}/aliases/{Name}")
async def get_alias(
    function_name: FunctionName,
    alias: AliasName,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
) -> JSONResponse:
    name = unqualified(principal, runtime.settings.aws_region, function_name)
    function = await service.function_for(session, principal, name, Action.FUNCTION_READ)
    info = await _own_alias(session, function, alias)
    return JSONResponse(await _configuration(runtime, session, principal, function, info))


@router.get("/functions/{FunctionName}/aliases")
async def list_aliases(
    function_name: FunctionName,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
    function_version: VersionFilter = None,
    marker: Marker = None,
    max_items: MaxItems = MAX_ITEMS_DEFAULT,
) -> JSONResponse:
    """By name; `FunctionVersion` keeps those that send that version any traffic (none
    follows `$LATEST`: Sandlot's aliases point at fixed versions). The marker is the name
    of the last alias of the page before."""
    name = unqualified(principal, runtime.settings.aws_region, function_name)
    function = await service.function_for(session, principal, name, Action.FUNCTION_READ)
    items = [item for item in await service.list_aliases(session, function) if not item.builtin]
    if function_version is not None:
        wanted = None if function_version == LAMBDA_LATEST else version_number(function_version)
        items = [item for item in items if wanted in item.versions]
    if marker is not None:
        items = [item for item in items if item.name > marker]
    page = items[:max_items]
    out: dict[str, Any] = {
        "Aliases": [
            await _configuration(runtime, session, principal, function, item) for item in page
        ]
    }
    if len(items) > max_items:
        out["NextMarker"] = page[-1].name
    return JSONResponse(out)


@router.put("/functions/{FunctionName}/aliases/{Name}")
async def update_alias(
    function_name: FunctionName,
    alias: AliasName,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
) -> JSONResponse:
    """What the request leaves out stays: without `FunctionVersion` the primary version,
    without `RoutingConfig` the additional weights (an empty map removes them)."""
    body = parsed_body(UpdateAliasIn, request)
    name = unqualified(principal, runtime.settings.aws_region, function_name)
    function = await service.function_for(session, principal, name, Action.FUNCTION_WRITE)
    current = await _own_alias(session, function, alias)
    if body.RevisionId is not None:
        revision = await revision_id(session, function, current)
        if body.RevisionId != revision:
            raise VersionConflict(
                f"alias {alias!r} of {name!r} changed since RevisionId {body.RevisionId!r} "
                f"(now {revision!r})",
                function=name,
                alias=alias,
            )
    primary = primary_of(current.routes)
    new_primary = primary_version(body.FunctionVersion) if body.FunctionVersion else primary.version
    if body.RoutingConfig is not None:
        extra = weight_routes(body.RoutingConfig.AdditionalVersionWeights or {})
    else:
        extra = [r for r in current.routes if r != primary and r.version != new_primary]
    info = await _set(
        runtime, session, principal, function, alias, with_primary(new_primary, extra)
    )
    return JSONResponse(await _configuration(runtime, session, principal, function, info))


@router.delete("/functions/{FunctionName}/aliases/{Name}")
async def delete_alias(
    function_name: FunctionName,
    alias: AliasName,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
) -> Response:
    name = unqualified(principal, runtime.settings.aws_region, function_name)
    function = await service.function_for(session, principal, name, Action.FUNCTION_WRITE)
    await _own_alias(session, function, alias)
    await service.delete_alias(session, principal=principal, function=function, name=alias)
    await session.commit()
    runtime.activator.routes_changed(function)
    return Response(status_code=204)


# Lambda's weights <-> Sandlot's routes ---------------------------------------------------


def primary_version(text: str) -> int:
    if text == LAMBDA_LATEST:
        raise InvalidAliasRoutes(
            "a Sandlot alias points at fixed versions, not at $LATEST (which every deploy "
            "moves): name a version number, or call the function unqualified",
            field="FunctionVersion",
        )
    return version_number(text)


def weight_routes(weights: dict[str, float]) -> list[Route]:
    if len(weights) >= MAX_ROUTES:
        raise InvalidAliasRoutes(
            f"an alias splits between at most {MAX_ROUTES} versions: at most "
            f"{MAX_ROUTES - 1} additional ones",
            field="AdditionalVersionWeights",
        )
    routes = []
    for key, weight in weights.items():
        if not is_version_number(key):
            raise InvalidInput(
                f"an additional version is a version number, not {key!r}",
                field="AdditionalVersionWeights",
            )
        routes.append(Route(version=version_number(key), weight=whole_percent(key, weight)))
    return routes


def whole_percent(version: str, weight: float) -> int:
    """A Lambda weight (a fraction of one) as the whole percent Sandlot routes by."""
    if not math.isfinite(weight) or not 0.0 <= weight <= 1.0:
        raise InvalidAliasRoutes(
            f"the weight of version {version} is {weight}; a weight is 0.0 to 1.0",
            field="AdditionalVersionWeights",
        )
    percent = round(weight * TOTAL_WEIGHT)
    if abs(weight * TOTAL_WEIGHT - percent) > _PERCENT_SLACK:
        raise InvalidAliasRoutes(
            f"the weight of version {version} is {weight * TOTAL_WEIGHT:g}%; Sandlot splits "
            f"traffic in whole percents (e.g. {math.floor(weight * 100) / 100:g} or "
            f"{math.ceil(weight * 100) / 100:g})",
            field="AdditionalVersionWeights",
        )
    if percent in (0, TOTAL_WEIGHT):
        raise InvalidAliasRoutes(
            f"a weight of {weight:g} for version {version} leaves one version no traffic: "
            "leave the version out, or make it the alias's FunctionVersion",
            field="AdditionalVersionWeights",
        )
    return percent


def with_primary(primary: int, extra: list[Route]) -> list[Route]:
    left = TOTAL_WEIGHT - sum(route.weight for route in extra)
    if left < 1:
        raise InvalidAliasRoutes(
            f"the additional weights sum to {TOTAL_WEIGHT - left}%, leaving version "
            f"{primary} (FunctionVersion) no traffic",
            field="AdditionalVersionWeights",
        )
    return [Route(version=primary, weight=left), *extra]


def primary_of(routes: Routes) -> Route:
    """The version with the largest share; on a tie the older one (a canary is newer)."""
    return max(routes, key=lambda route: (route.weight, -route.version))


def routing_config(routes: Routes) -> tuple[str, dict[str, Any] | None]:
    primary = primary_of(routes)
    extra = {
        str(route.version): route.weight / TOTAL_WEIGHT for route in routes if route != primary
    }
    return str(primary.version), ({"AdditionalVersionWeights": extra} if extra else None)


# Helpers -------------------------------------------------------------------------------------


async def _exists(session: Session, function: Function, alias: str) -> bool:
    try:
        await _own_alias(session, function, alias)
    except AliasNotFound:
        return False
    return True


async def _own_alias(session: Session, function: Function, alias: str) -> AliasInfo:
    """An alias made by a caller: `latest` is Sandlot's built-in, Lambda's `$LATEST`,
    which is a version in Lambda's terms and never an alias."""
    info = await service.get_alias(session, function, alias)
    if info.builtin:
        raise AliasNotFound(
            f"{alias!r} is built in (Lambda's $LATEST), not an alias",
            function=function.name,
            alias=alias,
        )
    return info


async def _set(
    runtime: Runtime,
    session: Session,
    principal: Principal,
    function: Function,
    alias: str,
    routes: list[Route],
) -> AliasInfo:
    """As `PUT /api/v1/functions/{name}/aliases/{alias}` does it: the versions are made
    ready before the alias moves, and callers see the move once it committed."""
    service.check_move(alias, routes)
    await service.check_ready(session, function, routes)
    await runtime.activator.make_ready(function, {route.version for route in routes})
    info, _ = await service.set_alias(
        session, principal=principal, function=function, name=alias, routes=routes
    )
    await session.commit()
    runtime.activator.routes_changed(function)
    return info


async def revision_id(session: Session, function: Function, info: AliasInfo) -> str:
    changes, _ = await service.history(session, function, alias=info.name, limit=1, cursor=None)
    if changes:
        return changes[0].id
    return f"{info.updated_at.timestamp():.6f}"  # an alias older than its history


async def _configuration(
    runtime: Runtime,
    session: Session,
    principal: Principal,
    function: Function,
    info: AliasInfo,
) -> dict[str, Any]:
    """Lambda's AliasConfiguration."""
    version, routing = routing_config(info.routes)
    out: dict[str, Any] = {
        "AliasArn": function_arn(
            runtime.settings.aws_region, principal.namespace, function.name, info.name
        ),
        "Name": info.name,
        "FunctionVersion": version,
        "Description": "",
        "RevisionId": await revision_id(session, function, info),
    }
    if routing is not None:
        out["RoutingConfig"] = routing
    return out
