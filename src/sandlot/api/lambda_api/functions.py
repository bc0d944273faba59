"""Lambda API: CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction, on Sandlot's services.

How Lambda's model maps onto Sandlot's:
- Every Sandlot deploy makes an immutable version, so `Publish` changes nothing but the
  answer: with it, the answer is the new version "N"; without, `$LATEST`.
- `$LATEST` is the newest version (ready or still building: its `LastUpdateStatus` says
  which); a number N is Sandlot's version N.
- `RevisionId` is the id of the newest version; an update that names another one is
  `PreconditionFailedException` (another update came first).
- Accepted and not kept: `Role` (echoed in the answer to the request that gave it),
  `Description`, `Tags`, `TracingConfig`, `KMSKeyArn`, `Runtime` (any python3.x: Sandlot runs
  this server's Python, and the answer's `Runtime` says which). Refused by name, not
  supported: code in S3 or images, `VpcConfig`, `Layers`, `FileSystemConfigs`,
  `DeadLetterConfig`, `ImageConfig`, `CodeSigningConfigArn`, `SnapStart`, architectures other
  than x86_64, ephemeral storage other than 512 MB, deleting one version (`Qualifier`).
- A `Qualifier` that is an alias reads as the version the alias sends most calls to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from sandlot.api.deps import RuntimeDep, SessionDep
from sandlot.api.lambda_api.auth import LambdaPrincipal, signed_body
from sandlot.api.lambda_api.errors import LambdaError, LambdaRoute
from sandlot.api.lambda_api.function_inputs import (
    NOT_SUPPORTED,
    CreateFunctionIn,
    UpdateCodeIn,
    UpdateConfigurationIn,
    changes_of,
    check_architectures,
    parsed,
    zip_of,
)
from sandlot.api.lambda_api.shapes import FunctionRef, function_configuration, function_ref
from sandlot.domain.errors import VersionConflict, VersionNotFound
from sandlot.domain.models import Function, Principal, Version
from sandlot.services import aliases
from sandlot.services import functions as service
from sandlot.services.functions import ConfigChanges, Deployed
from sandlot.services.runtime import Runtime, Session

router = APIRouter(route_class=LambdaRoute)

MAX_ITEMS = 50


# -- the routes ------------------------------------------------------------------------------


@router.post("/functions", status_code=201)
async def create_function(
    request: Request, runtime: RuntimeDep, session: SessionDep, principal: LambdaPrincipal
) -> JSONResponse:
    body = parsed(CreateFunctionIn, signed_body(request))
    if body.PackageType not in (None, "Zip"):
        raise LambdaError(f"PackageType {body.PackageType!r} {NOT_SUPPORTED}: upload a zip")
    if body.CodeSigningConfigArn:
        raise LambdaError(f"CodeSigningConfigArn {NOT_SUPPORTED}")
    check_architectures(body.Architectures)
    if not body.Handler:
        raise LambdaError("a zip function needs a Handler, e.g. 'lambda_function.handler'")
    ref = _ref(runtime, principal, body.FunctionName)
    if ref.qualifier is not None:
        raise LambdaError("CreateFunction takes a function name without a qualifier")
    deployed = await service.create_function(
        session=session,
        principal=principal,
        name=ref.name,
        code=zip_of(body.Code),
        changes=changes_of(body),
        code_store=runtime.code,
        python_version=runtime.builder.python_version,
        quota_defaults=runtime.quota_defaults,
        egress_host=runtime.egress,
    )
    deployed = await _committed(runtime, session, deployed)
    answer = _configuration(runtime, principal, deployed, publish=body.Publish, role=body.Role)
    return JSONResponse(answer, status_code=201)


@router.get("/functions")
async def list_functions(
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
    marker: Annotated[str | None, Query(alias="Marker", max_length=200)] = None,
    max_items: Annotated[int, Query(alias="MaxItems", ge=1, le=10000)] = MAX_ITEMS,
    function_version: Annotated[str | None, Query(alias="FunctionVersion")] = None,
    master_region: Annotated[str | None, Query(alias="MasterRegion")] = None,
) -> dict[str, Any]:
    """Names in order; `Marker` is the last name of the previous page. `FunctionVersion=ALL`
    lists each function's versions after its `$LATEST`, as Lambda does."""
    if function_version not in (None, "ALL"):
        raise LambdaError("FunctionVersion must be ALL")
    if master_region is not None:
        raise LambdaError(f"MasterRegion (Lambda@Edge) {NOT_SUPPORTED}")
    items: list[dict[str, Any]] = []
    next_marker = None
    for function in await service.list_functions(session=session, principal=principal):
        if marker is not None and function.name <= marker:
            continue
        if len(items) >= max_items:
            next_marker = items[-1]["FunctionName"]
            break
        versions = await service.list_versions(
            session=session, principal=principal, name=function.name
        )
        if not versions:
            continue
        items.append(_shape(runtime, principal, function, versions[0], latest=True))
        if function_version == "ALL":
            items.extend(
                _shape(runtime, principal, function, version, latest=False)
                for version in reversed(versions)
            )
    answer: dict[str, Any] = {"Functions": items}
    if next_marker is not None:
        answer["NextMarker"] = next_marker
    return answer


@router.get("/functions/{function_name}")
async def get_function(
    function_name: str,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
    qualifier: Annotated[str | None, Query(alias="Qualifier", max_length=128)] = None,
) -> dict[str, Any]:
    ref = _ref(runtime, principal, function_name, qualifier)
    found = await _resolved(session, principal, ref)
    version = found.version
    answer: dict[str, Any] = {
        "Configuration": _answer(runtime, principal, found),
        # No S3 here: the zip is served by Sandlot's own API to a caller who may read it
        # (with `Authorization: Bearer <key>`), not by a presigned URL.
        "Code": {"Location": _code_url(request, found.function.name, version.number)},
    }
    if version.config.max_concurrency is not None:
        answer["Concurrency"] = {"ReservedConcurrentExecutions": version.config.max_concurrency}
    return answer


@router.get("/functions/{function_name}/configuration")
async def get_function_configuration(
    function_name: str,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
    qualifier: Annotated[str | None, Query(alias="Qualifier", max_length=128)] = None,
) -> dict[str, Any]:
    ref = _ref(runtime, principal, function_name, qualifier)
    return _answer(runtime, principal, await _resolved(session, principal, ref))


@router.put("/functions/{function_name}/code")
async def update_function_code(
    function_name: str,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
) -> dict[str, Any]:
    body = parsed(UpdateCodeIn, signed_body(request))
    if body.DryRun:
        raise LambdaError(f"DryRun {NOT_SUPPORTED}")
    check_architectures(body.Architectures)
    ref = _unqualified(runtime, principal, function_name)
    deployed = await service.update_function(
        session=session,
        principal=principal,
        name=ref.name,
        code=zip_of(body),
        changes=ConfigChanges(),
        code_store=runtime.code,
        python_version=runtime.builder.python_version,
        quota_defaults=runtime.quota_defaults,
        egress_host=runtime.egress,
        expect_version=await _expected(session, principal, ref.name, body.RevisionId),
    )
    deployed = await _committed(runtime, session, deployed)
    return _configuration(runtime, principal, deployed, publish=body.Publish)


@router.put("/functions/{function_name}/configuration")
async def update_function_configuration(
    function_name: str,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
) -> dict[str, Any]:
    body = parsed(UpdateConfigurationIn, signed_body(request))
    ref = _unqualified(runtime, principal, function_name)
    deployed = await service.update_function(
        session=session,
        principal=principal,
        name=ref.name,
        code=None,
        changes=changes_of(body),
        code_store=runtime.code,
        python_version=runtime.builder.python_version,
        quota_defaults=runtime.quota_defaults,
        egress_host=runtime.egress,
        expect_version=await _expected(session, principal, ref.name, body.RevisionId),
    )
    deployed = await _committed(runtime, session, deployed)
    return _configuration(runtime, principal, deployed, publish=False, role=body.Role)


@router.delete("/functions/{function_name}", status_code=204)
async def delete_function(
    function_name: str,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: LambdaPrincipal,
    qualifier: Annotated[str | None, Query(alias="Qualifier", max_length=128)] = None,
) -> Response:
    ref = _ref(runtime, principal, function_name, qualifier)
    if not ref.is_latest:
        raise LambdaError(
            f"deleting one version {NOT_SUPPORTED}: Sandlot keeps every version of a "
            "function; delete the whole function (no Qualifier)"
        )
    await service.delete_function(
        session=session, principal=principal, name=ref.name, pool=runtime.pool
    )
    await session.commit()
    runtime.catalog.invalidate(principal.namespace_id, ref.name)
    runtime.recorder.tail.end_function(principal.namespace_id, ref.name)
    return Response(status_code=204)


# -- parsing ---------------------------------------------------------------------------------


def _ref(
    runtime: Runtime, principal: Principal, raw: str, qualifier: str | None = None
) -> FunctionRef:
    return function_ref(
        raw,
        region=runtime.settings.aws_region,
        namespace=principal.namespace,
        qualifier=qualifier,
    )


def _unqualified(runtime: Runtime, principal: Principal, raw: str) -> FunctionRef:
    ref = _ref(runtime, principal, raw)
    if not ref.is_latest:
        raise LambdaError("only $LATEST can be updated: versions are immutable")
    return ref


async def _expected(
    session: Session, principal: Principal, name: str, revision: str | None
) -> int | None:
    """The version number a RevisionId names: the update must supersede that version."""
    if revision is None:
        return None
    versions = await service.list_versions(session=session, principal=principal, name=name)
    newest = versions[0] if versions else None
    for version in versions:
        if version.id == revision:
            return version.number
    raise VersionConflict(
        f"RevisionId {revision!r} is not the current revision of {name!r}"
        + (f" ({newest.id})" if newest else ""),
        function=name,
    )


# -- answering -------------------------------------------------------------------------------


async def _committed(runtime: Runtime, session: Session, deployed: Deployed) -> Deployed:
    if deployed.unchanged:  # nothing was written: nothing to commit, build or wait for
        return deployed
    await session.commit()
    service.after_commit(runtime.builder, deployed)
    return await service.settled(session=session, builder=runtime.builder, deployed=deployed)


@dataclass(frozen=True)
class Resolved:
    function: Function
    version: Version
    latest: bool
    alias: str | None = None  # the alias the caller named, if it named one


async def _resolved(session: Session, principal: Principal, ref: FunctionRef) -> Resolved:
    function = await service.get_function(session=session, principal=principal, name=ref.name)
    if ref.is_latest:
        versions = await service.list_versions(session=session, principal=principal, name=ref.name)
        if not versions:
            raise VersionNotFound(f"{ref.name!r} has no version yet", function=ref.name)
        return Resolved(function, versions[0], latest=True)
    number = ref.version_number
    alias = None
    if number is None:
        assert ref.qualifier is not None
        alias = ref.qualifier
        # An alias reads as the version it sends most calls to (its first, when even).
        found = await aliases.get_alias(session, function, alias)
        number = max(found.routes, key=lambda route: route.weight).version
    version = await service.get_version(
        session=session, principal=principal, name=ref.name, number=number
    )
    return Resolved(function, version, latest=False, alias=alias)


def _shape(
    runtime: Runtime,
    principal: Principal,
    function: Function,
    version: Version,
    *,
    latest: bool,
    role: str | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    """Lambda's FunctionConfiguration of `version`, in this server's region and the
    caller's namespace (its account)."""
    return function_configuration(
        region=runtime.settings.aws_region,
        namespace=principal.namespace,
        function=function,
        version=version,
        latest=latest,
        role=role,
        alias=alias,
    )


def _answer(runtime: Runtime, principal: Principal, found: Resolved) -> dict[str, Any]:
    return _shape(
        runtime, principal, found.function, found.version, latest=found.latest, alias=found.alias
    )


def _configuration(
    runtime: Runtime,
    principal: Principal,
    deployed: Deployed,
    *,
    publish: bool,
    role: str | None = None,
) -> dict[str, Any]:
    return _shape(
        runtime, principal, deployed.function, deployed.version, latest=not publish, role=role
    )


def _code_url(request: Request, name: str, number: int) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/v1/functions/{name}/versions/{number}/code"
