"""Lambda API: PublishVersion, ListVersionsByFunction.

Every Sandlot deploy already makes an immutable, numbered version, so Lambda's `$LATEST`
(the one that changes) is Sandlot's `latest` and Lambda's published version "N" is Sandlot's
version N. PublishVersion therefore makes no version: it answers the newest ready one, after
the checks Lambda makes (`CodeSha256`, `RevisionId`), and refuses a function with none.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sandlot.api.deps import RuntimeDep, SessionDep
from sandlot.api.lambda_api.auth import LambdaPrincipal
from sandlot.api.lambda_api.errors import LambdaRoute
from sandlot.api.lambda_api.qualifiers import FunctionName, parsed_body, unqualified
from sandlot.api.lambda_api.shapes import function_configuration
from sandlot.domain.actions import Action
from sandlot.domain.errors import InvalidInput, VersionConflict, VersionNotReady
from sandlot.domain.models import Function, Principal, Version
from sandlot.domain.states import VersionState
from sandlot.services import functions as service
from sandlot.services.authz import authorize_function
from sandlot.services.runtime import Runtime

router = APIRouter(route_class=LambdaRoute)

MAX_ITEMS_DEFAULT = 50
MaxItems = Annotated[int, Query(alias="MaxItems", ge=1, le=10_000)]
Marker = Annotated[str | None, Query(alias="Marker", max_length=64)]


class PublishIn(BaseModel):
    # Fields a newer SDK adds are ignored, as Lambda ignores what it does not know.
    model_config = ConfigDict(extra="ignore")

    CodeSha256: str | None = Field(default=None, max_length=128)
    Description: str | None = Field(default=None, max_length=256)  # not kept: see README
    RevisionId: str | None = Field(default=None, max_length=128)


@router.post("/functions/{FunctionName}/versions")
async def publish_version(
    function_name: FunctionName,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
) -> JSONResponse:
    given = parsed_body(PublishIn, request)
    name = unqualified(principal, runtime.settings.aws_region, function_name)
    # Publishing is a change in Lambda, so it takes the role that may deploy.
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await service.get_function(session=session, principal=principal, name=name)
    versions = await service.list_versions(session=session, principal=principal, name=name)
    newest = next((v for v in versions if v.state is VersionState.READY), None)
    if newest is None:
        raise VersionNotReady(
            f"function {name!r} has no ready version to publish yet", function=name
        )
    answer = _configuration(runtime, principal, function, newest, qualified=True)
    _check_precondition("CodeSha256", given.CodeSha256, answer["CodeSha256"], name)
    _check_precondition("RevisionId", given.RevisionId, answer["RevisionId"], name)
    return JSONResponse(answer, status_code=201)


def _check_precondition(field: str, given: str | None, current: str, name: str) -> None:
    if given is not None and given != current:
        raise VersionConflict(
            f"{field} {given!r} does not match the newest ready version of {name!r} "
            f"({current!r}): it changed since you read it",
            function=name,
            field=field,
        )


@router.get("/functions/{FunctionName}/versions")
async def list_versions(
    function_name: FunctionName,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
    marker: Marker = None,
    max_items: MaxItems = MAX_ITEMS_DEFAULT,
) -> JSONResponse:
    """`$LATEST` first, then every version, oldest first; the marker is the position (0
    for `$LATEST`, else the version number) of the last item of the page before."""
    name = unqualified(principal, runtime.settings.aws_region, function_name)
    function = await service.get_function(session=session, principal=principal, name=name)
    versions = sorted(
        await service.list_versions(session=session, principal=principal, name=name),
        key=lambda version: version.number,
    )
    latest = await service.latest_version(session, function)
    items: list[tuple[int, dict[str, Any]]] = []
    if latest is not None:
        items.append((0, _configuration(runtime, principal, function, latest, qualified=False)))
    for version in versions:
        shown = _configuration(runtime, principal, function, version, qualified=True)
        items.append((version.number, shown))
    after = _marker(marker)
    remaining = [item for item in items if item[0] > after]
    page = remaining[:max_items]
    out: dict[str, Any] = {"Versions": [shown for _, shown in page]}
    if len(remaining) > max_items:
        out["NextMarker"] = str(page[-1][0])
    return JSONResponse(out)


def _marker(marker: str | None) -> int:
    if marker is None:
        return -1
    if not (marker.isascii() and marker.isdigit()):
        raise InvalidInput(f"not a marker this server gave: {marker!r}", field="Marker")
    return int(marker)


def _configuration(
    runtime: Runtime,
    principal: Principal,
    function: Function,
    version: Version,
    *,
    qualified: bool,
) -> dict[str, Any]:
    """Lambda's FunctionConfiguration of `version`, as "N" or (not qualified) `$LATEST`."""
    return function_configuration(
        region=runtime.settings.aws_region,
        namespace=principal.namespace,
        function=function,
        version=version,
        latest=not qualified,
    )
