"""Releases: progressive moves of an alias to a new version, judged step by step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.release_schemas import ReleaseIn, ReleaseList, ReleaseOut
from sandlot.api.schemas import ErrorOut
from sandlot.domain.releases import ReleaseState
from sandlot.services import releases as service
from sandlot.services.runtime import Runtime

router = APIRouter(tags=["releases"])

RELEASE_ID = Path(pattern=r"^rel_[0-9a-hjkmnp-tv-z]{26}$", description="The release's id")
ReleaseId = Annotated[str, RELEASE_ID]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        401: "Missing or wrong credentials",
        403: "The caller's role may not do this",
        404: "FunctionNotFound, or ReleaseNotFound (in the caller's namespace)",
        422: "The request does not match the schema",
    }.items()
}
_START_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {
        "model": ErrorOut,
        "description": "InvalidReleasePlan: steps not increasing or not ending at 100, an "
        "interval under 30 s, `latest` as the alias, an alias that splits traffic or is on "
        "the version already",
    },
    404: {"model": ErrorOut, "description": "FunctionNotFound, AliasNotFound"},
    409: {
        "model": ErrorOut,
        "description": "ReleaseInProgress (another runs on the alias), AliasVersionNotReady",
    },
}
_CONTROL_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {"model": ErrorOut, "description": "ReleaseNotActive: it has ended (or runs already)"},
}


def _wake(runtime: Runtime) -> None:
    if runtime.release_driver is not None:
        runtime.release_driver.wake()


@router.post(
    "/functions/{name}/releases",
    status_code=201,
    response_model=ReleaseOut,
    responses=_START_ERRORS,
    summary="Start a release: move an alias to a version in steps",
    description="The alias must point wholly at one version (the old one). Its traffic "
    "moves to the new version by the steps' percents; after each interval the new "
    "version's error rate (and p99 duration, with `max_p99_ratio`) over the step is compared "
    "with the old one's. Worse by more than the plan allows: the alias goes back to the old "
    "version by itself (state `rolled_back`, with the reason). Fewer than `min_calls` calls "
    "on the new version: the step waits another interval.",
)
async def start(
    name: str, body: ReleaseIn, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> ReleaseOut:
    release = await service.start_release(
        session=session,
        principal=principal,
        activator=runtime.activator,
        name=name,
        request=service.ReleaseRequest(
            alias=body.alias,
            version=body.version,
            steps=body.steps,
            interval_s=body.interval_s,
            max_error_rate=body.max_error_rate,
            max_p99_ratio=body.max_p99_ratio,
            min_calls=body.min_calls,
        ),
    )
    await session.commit()
    runtime.activator.routes_changed(await service.function_of(session, principal, name))
    _wake(runtime)
    return ReleaseOut.of(release)


@router.get(
    "/functions/{name}/releases",
    response_model=ReleaseList,
    responses=ERRORS,
    summary="A function's releases, newest first",
)
async def list_releases(
    name: str,
    session: SessionDep,
    principal: PrincipalDep,
    state: Annotated[ReleaseState | None, Query(description="Only those in this state")] = None,
) -> ReleaseList:
    found = await service.list_releases(
        session=session, principal=principal, name=name, state=state.value if state else None
    )
    return ReleaseList(items=[ReleaseOut.of(release) for release in found])


@router.get(
    "/functions/{name}/releases/{release_id}",
    response_model=ReleaseOut,
    responses=ERRORS,
    summary="One release, with its verdicts",
)
async def get(
    name: str, release_id: ReleaseId, session: SessionDep, principal: PrincipalDep
) -> ReleaseOut:
    release = await service.get_release(
        session=session, principal=principal, name=name, release_id=release_id
    )
    return ReleaseOut.of(release)


async def _control(
    command: str,
    name: str,
    release_id: str,
    runtime: Runtime,
    session: SessionDep,
    principal: PrincipalDep,
) -> ReleaseOut:
    release = await service.control_release(
        session=session,
        principal=principal,
        activator=runtime.activator,
        name=name,
        release_id=release_id,
        command=command,
    )
    await session.commit()
    if command in ("promote", "abort"):
        runtime.activator.routes_changed(await service.function_of(session, principal, name))
    _wake(runtime)
    return ReleaseOut.of(release)


# The four controls differ only in their command and their words: one route each, from one
# handler factory, so that each keeps its own OpenAPI summary.
_CONTROLS: dict[str, tuple[str, str | None]] = {
    "pause": (
        "Pause a running release",
        "The alias stays where it is; nothing is judged until it is resumed.",
    ),
    "resume": (
        "Resume a paused release",
        "Its step starts a fresh interval: calls made while it was paused are not judged.",
    ),
    "promote": ("Promote a release: the alias moves wholly to the new version now", None),
    "abort": ("Abort a release: the alias moves wholly back to the old version now", None),
}


def _control_route(command: str) -> Callable[..., Awaitable[ReleaseOut]]:
    async def control(
        name: str,
        release_id: ReleaseId,
        runtime: RuntimeDep,
        session: SessionDep,
        principal: PrincipalDep,
    ) -> ReleaseOut:
        return await _control(command, name, release_id, runtime, session, principal)

    return control


for _command, (_summary, _description) in _CONTROLS.items():
    router.add_api_route(
        f"/functions/{{name}}/releases/{{release_id}}/{_command}",
        _control_route(_command),
        methods=["POST"],
        name=_command,
        response_model=ReleaseOut,
        responses=_CONTROL_ERRORS,
        summary=_summary,
        description=_description,
    )
