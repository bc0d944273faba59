"""Lambda API: PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency.

Lambda reserves `ReservedConcurrentExecutions` for a function out of its account's pool (and
caps it there); Sandlot has no account pool to reserve from, so the value is the function's
cap, `max_concurrency` (calls past it wait a bounded time, then 429), within the namespace's
concurrency quota. Sandlot keeps it per version, so a put or a delete is a configuration
change: a new version with the same code, which becomes `latest` once its handler imported.
Aliases pointing at older versions keep those versions' caps until they move. Lambda's 0
(stop every call) has no Sandlot counterpart and is refused by name. Without a value of its
own, a function has the server's default cap (`SANDLOT_DEFAULT_MAX_CONCURRENCY`), and Get
answers no value, as Lambda does for a function without a reservation.

These operations carry their own API dates in their paths (2017-10-31, 2019-09-30), so this
router is mounted at the root, not under `/2015-03-31`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sandlot.api.deps import RuntimeDep, SessionDep
from sandlot.api.lambda_api.auth import LambdaPrincipal
from sandlot.api.lambda_api.errors import LambdaRoute
from sandlot.api.lambda_api.qualifiers import FunctionName, parsed_body, unqualified
from sandlot.domain.errors import InvalidLimit
from sandlot.domain.limits import MAX_CONCURRENCY_MAX
from sandlot.domain.models import Principal, VersionConfig
from sandlot.services import functions as service
from sandlot.services.functions import ConfigChanges
from sandlot.services.runtime import Runtime, Session

router = APIRouter(route_class=LambdaRoute)

PUT_PATH = "/2017-10-31/functions/{FunctionName}/concurrency"
GET_PATH = "/2019-09-30/functions/{FunctionName}/concurrency"


class ConcurrencyIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ReservedConcurrentExecutions: int = Field(ge=0)


class _Unreserved(ConfigChanges):
    """The newest version's configuration without a cap of its own (the server's default).
    `ConfigChanges` keeps what it is given None for, so clearing a value needs this."""

    def apply(self, base: VersionConfig) -> VersionConfig:
        return super().apply(replace(base, max_concurrency=None))


@router.put(PUT_PATH)
async def put_concurrency(
    function_name: FunctionName,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
) -> JSONResponse:
    name = unqualified(principal, runtime.settings.aws_region, function_name)
    value = parsed_body(ConcurrencyIn, request).ReservedConcurrentExecutions
    if not 1 <= value <= MAX_CONCURRENCY_MAX:
        raise InvalidLimit(
            f"ReservedConcurrentExecutions is {value}; Sandlot caps a function at 1 to "
            f"{MAX_CONCURRENCY_MAX} concurrent calls and has no setting that stops every call",
            field="ReservedConcurrentExecutions",
        )
    await _configure(runtime, session, principal, name, ConfigChanges(max_concurrency=value))
    return JSONResponse({"ReservedConcurrentExecutions": value})


@router.get(GET_PATH)
async def get_concurrency(
    function_name: FunctionName,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
) -> JSONResponse:
    """The newest version's cap: what the next deploy keeps, and what a put just set."""
    name = unqualified(principal, runtime.settings.aws_region, function_name)
    versions = await service.list_versions(session=session, principal=principal, name=name)
    cap = versions[0].config.max_concurrency if versions else None
    out: dict[str, Any] = {} if cap is None else {"ReservedConcurrentExecutions": cap}
    return JSONResponse(out)


@router.delete(PUT_PATH)
async def delete_concurrency(
    function_name: FunctionName,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
) -> Response:
    name = unqualified(principal, runtime.settings.aws_region, function_name)
    await _configure(runtime, session, principal, name, _Unreserved())
    return Response(status_code=204)


async def _configure(
    runtime: Runtime, session: Session, principal: Principal, name: str, changes: ConfigChanges
) -> None:
    """A configuration change as `PUT /api/v1/functions/{name}` makes it (without code)."""
    deployed = await service.update_function(
        session=session,
        principal=principal,
        name=name,
        code=None,
        changes=changes,
        code_store=runtime.code,
        python_version=runtime.builder.python_version,
        quota_defaults=runtime.quota_defaults,
        egress_host=runtime.egress,
    )
    if deployed.unchanged:
        return
    await session.commit()
    service.after_commit(runtime.builder, deployed)
    await service.settled(session=session, builder=runtime.builder, deployed=deployed)
