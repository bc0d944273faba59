"""Functions and their versions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep, VersionNumber
from sandlot.api.diff_schemas import VersionDiffOut
from sandlot.api.files_schemas import VersionFileOut, VersionFilesOut
from sandlot.api.schemas import ErrorOut, FunctionList, FunctionOut, VersionList, VersionOut
from sandlot.api.uploads import (
    CREATE_REQUEST_BODY,
    UPDATE_REQUEST_BODY,
    deploy_input,
    expected_version,
)
from sandlot.domain.errors import InvalidInput
from sandlot.domain.limits import VERSION_NUMBER_MAX
from sandlot.services import functions as service
from sandlot.services import version_diff, version_files
from sandlot.services.version_files import FILE_TEXT_MAX_BYTES, FILES_TEXT_MAX_BYTES

router = APIRouter(prefix="/functions", tags=["functions"])

Against = Annotated[
    int | None,
    Query(
        ge=1,
        le=VERSION_NUMBER_MAX,
        description="The version to compare with; default: the one before",
    ),
]

_DEPLOY_STATES = (
    "A version becomes `ready` only once its handler has imported inside its own sandbox. "
    "Without requirements the answer waits for that check, so `config.state` is already "
    "`ready` or `failed` (with the traceback in `config.error`); with requirements it is "
    "`pending`: follow the build log. `latest_version` moves only to a ready version."
)

_IF_MATCH = (
    'The version this deploy supersedes, as an ETag ("3"), like the `expect_version` field: '
    "409 VersionConflict when another deploy made a newer one first"
)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "Bad input: name, limits, zip, handler",
        401: "Missing or wrong API key",
        403: "The key's role may not do this, or a quota of the namespace would be exceeded "
        "(QuotaExceeded: functions, code_mb, env_kb, memory_mb), or the egress policy asks "
        "for more than the namespace's bound (EgressNotAllowed)",
        404: "No such function or version",
        409: "The name is taken; this host cannot enforce the egress policy "
        "(EgressUnavailable); or (VersionConflict) the deploy expected to supersede another "
        "version than the newest",
        413: "The upload is too large",
        422: "The request does not match the schema",
    }.items()
}


@router.post(
    "",
    status_code=201,
    response_model=FunctionOut,
    responses=ERRORS,
    openapi_extra={"requestBody": CREATE_REQUEST_BODY},
    summary="Create a function from a zip; this makes version 1",
    description=_DEPLOY_STATES,
)
async def create_function(
    request: Request, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> FunctionOut:
    given = await deploy_input(
        request,
        runtime.settings.max_upload_bytes,
        creating=True,
        max_files=runtime.settings.max_archive_files,
    )
    if not given.name:
        raise InvalidInput("a function needs a 'name'")
    if given.code is None:
        raise InvalidInput(
            "a new function needs its code: a zip in 'code' or 'code_base64', or 'files'"
        )
    deployed = await service.create_function(
        session=session,
        principal=principal,
        name=given.name,
        code=given.code,
        changes=given.changes,
        code_store=runtime.code,
        python_version=runtime.builder.python_version,
        quota_defaults=runtime.quota_defaults,
        egress_host=runtime.egress,
    )
    await session.commit()
    service.after_commit(runtime.builder, deployed)
    deployed = await service.settled(session=session, builder=runtime.builder, deployed=deployed)
    return FunctionOut.of(
        deployed.function, principal.namespace, deployed.version, warnings=deployed.warnings
    )


@router.put(
    "/{name}",
    response_model=FunctionOut,
    responses=ERRORS,
    openapi_extra={"requestBody": UPDATE_REQUEST_BODY},
    summary="New code and/or configuration: a new immutable version",
    description=_DEPLOY_STATES
    + " Without new code, the new version takes the newest version's code. `env` replaces "
    "the whole environment; `env_set` (an object) and `env_unset` (a list of names) change "
    "the newest version's one key at a time. Code and configuration identical to the "
    "newest version (unless it failed) make no version: the answer says `unchanged: true`. "
    "The answer's ETag (\"N\") is the newest version, for the next deploy's If-Match.",
)
async def update_function(
    name: str,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: Annotated[str | None, Header(max_length=100, description=_IF_MATCH)] = None,
) -> FunctionOut:
    given = await deploy_input(
        request,
        runtime.settings.max_upload_bytes,
        creating=False,
        max_files=runtime.settings.max_archive_files,
    )
    deployed = await service.update_function(
        expect_version=expected_version(if_match, given.expect_version),
        session=session,
        principal=principal,
        name=name,
        code=given.code,
        changes=given.changes,
        code_store=runtime.code,
        python_version=runtime.builder.python_version,
        quota_defaults=runtime.quota_defaults,
        egress_host=runtime.egress,
    )
    response.headers["ETag"] = f'"{deployed.version.number}"'
    if deployed.unchanged:  # nothing was written: nothing to commit, build or wait for
        return FunctionOut.of(
            deployed.function, principal.namespace, deployed.version, unchanged=True
        )
    await session.commit()
    service.after_commit(runtime.builder, deployed)
    deployed = await service.settled(session=session, builder=runtime.builder, deployed=deployed)
    return FunctionOut.of(
        deployed.function, principal.namespace, deployed.version, warnings=deployed.warnings
    )


@router.get("", response_model=FunctionList, responses=ERRORS, summary="List functions")
async def list_functions(session: SessionDep, principal: PrincipalDep) -> FunctionList:
    items = []
    for function in await service.list_functions(session=session, principal=principal):
        latest = await service.latest_version(session, function)
        items.append(FunctionOut.of(function, principal.namespace, latest))
    return FunctionList(items=items)


@router.get("/{name}", response_model=FunctionOut, responses=ERRORS, summary="One function")
async def get_function(name: str, session: SessionDep, principal: PrincipalDep) -> FunctionOut:
    function = await service.get_function(session=session, principal=principal, name=name)
    latest = await service.latest_version(session, function)
    return FunctionOut.of(function, principal.namespace, latest)


@router.delete(
    "/{name}",
    status_code=204,
    responses=ERRORS,
    summary="Delete a function and stop its instances; its history is kept",
)
async def delete_function(
    name: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    await service.delete_function(
        session=session, principal=principal, name=name, pool=runtime.pool
    )
    await session.commit()
    runtime.catalog.invalidate(principal.namespace_id, name)
    runtime.recorder.tail.end_function(principal.namespace_id, name)
    return Response(status_code=204)


@router.get("/{name}/versions", response_model=VersionList, responses=ERRORS, summary="Versions")
async def list_versions(name: str, session: SessionDep, principal: PrincipalDep) -> VersionList:
    versions = await service.list_versions(session=session, principal=principal, name=name)
    return VersionList(items=[VersionOut.of(version) for version in versions])


@router.get(
    "/{name}/versions/{number}", response_model=VersionOut, responses=ERRORS, summary="A version"
)
async def get_version(
    name: str, number: VersionNumber, session: SessionDep, principal: PrincipalDep
) -> VersionOut:
    version = await service.get_version(
        session=session, principal=principal, name=name, number=number
    )
    return VersionOut.of(version)


@router.get(
    "/{name}/versions/{number}/diff",
    response_model=VersionDiffOut,
    responses=ERRORS,
    summary="What changed in a version: its configuration (env and secrets by name only) "
    "and a diff of its code",
    description="Against `against`, by default the version before it; version 1 with no "
    "`against` is compared with nothing (every file added).",
)
async def diff_version(
    name: str,
    number: VersionNumber,
    session: SessionDep,
    principal: PrincipalDep,
    against: Against = None,
) -> VersionDiffOut:
    diff = await version_diff.diff_versions(
        session=session, principal=principal, name=name, number=number, against=against
    )
    return VersionDiffOut.of(diff)


@router.get(
    "/{name}/versions/{number}/code",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"application/zip": {}}, "description": "The zip"}},
    summary="Download a version's code",
)
async def download_code(
    name: str, number: VersionNumber, session: SessionDep, principal: PrincipalDep
) -> Response:
    data = await service.get_code(session=session, principal=principal, name=name, number=number)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}-v{number}.zip"'},
    )


@router.get(
    "/{name}/versions/{number}/build-log",
    response_class=PlainTextResponse,
    responses={
        **ERRORS,
        200: {
            "content": {"text/plain": {}, "text/event-stream": {}},
            "description": "The build log; with follow=true, server-sent events: `log` "
            "events carry lines, one `end` event carries the version's final state",
        },
    },
    summary="A version's dependency build log, optionally followed live",
)
async def get_build_log(
    name: str,
    number: VersionNumber,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    follow: bool = False,
) -> Response:
    view = await service.build_log(session=session, principal=principal, name=name, number=number)
    if not follow:
        live = runtime.builder.live_log(view.function_id, number)
        return PlainTextResponse(live.text if live and not view.stored else view.stored)

    async def events() -> AsyncIterator[str]:
        async for event, data in service.follow_build(runtime.builder, view):
            yield f"event: {event}\ndata: {data}\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get(
    "/{name}/versions/{number}/files",
    response_model=VersionFilesOut,
    responses=ERRORS,
    summary="A version's files, with the text of those that are UTF-8",
    description=f"For reading and editing in a browser: the same role as downloading the "
    f"code. Each file's text is sent up to {FILE_TEXT_MAX_BYTES} bytes, and one answer's "
    f"texts up to {FILES_TEXT_MAX_BYTES} bytes; a file past either is listed with "
    "`truncated` and no text, a binary file with `binary` and no text.",
)
async def list_files(
    name: str, number: VersionNumber, session: SessionDep, principal: PrincipalDep
) -> VersionFilesOut:
    files = await version_files.version_files(
        session=session, principal=principal, name=name, number=number
    )
    return VersionFilesOut(files=[VersionFileOut.of(item) for item in files])
