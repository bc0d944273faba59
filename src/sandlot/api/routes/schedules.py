"""Schedules: a function's cron-timed asynchronous calls."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.schedule_schemas import (
    ScheduleChange,
    ScheduleCreate,
    ScheduleList,
    ScheduleOut,
    SchedulePreview,
)
from sandlot.api.schemas import ErrorOut
from sandlot.domain.schedules import CRON_MAX, DEFAULT_TIMEZONE, Schedule
from sandlot.services import schedules as service
from sandlot.services.runtime import Runtime

router = APIRouter(tags=["schedules"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        401: "Missing or wrong credentials",
        403: "The caller's role may not do this",
        404: "FunctionNotFound, or ScheduleNotFound (in the caller's namespace)",
        422: "The request does not match the schema",
    }.items()
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {
        "model": ErrorOut,
        "description": "InvalidSchedule (with croniter's reason), InvalidTimezone, InvalidEvent, "
        "InvalidAliasName",
    },
    413: {"model": ErrorOut, "description": "EventTooLarge (over SANDLOT_MAX_EVENT_BYTES)"},
}


def _out(schedule: Schedule) -> ScheduleOut:
    return ScheduleOut.of(schedule, service.upcoming(schedule))


def _event(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _wake(runtime: Runtime) -> None:
    if runtime.scheduler is not None:
        runtime.scheduler.wake()


@router.get(
    "/schedules",
    response_model=ScheduleList,
    responses=ERRORS,
    summary="Every schedule of the caller's namespace",
    description="By function name, then by creation. A key limited to some functions sees "
    "only theirs.",
)
async def list_all(session: SessionDep, principal: PrincipalDep) -> ScheduleList:
    found = await service.list_schedules(session=session, principal=principal)
    return ScheduleList(items=[_out(schedule) for schedule in found])


@router.get(
    "/schedules/preview",
    response_model=SchedulePreview,
    responses=_WRITE_ERRORS,
    summary="The next runs of a cron expression, without saving anything",
    description="What the console shows while a schedule is typed: the expression as it "
    "would be stored and its next 3 slots from now, in UTC.",
)
async def preview(
    principal: PrincipalDep,
    cron: Annotated[str, Query(max_length=CRON_MAX * 2, description="The cron expression")],
    timezone: Annotated[str, Query(max_length=128)] = DEFAULT_TIMEZONE,
) -> SchedulePreview:
    text, runs = service.preview(principal=principal, cron=cron, timezone=timezone)
    return SchedulePreview(cron=text, timezone=timezone, next_runs=runs)


@router.get(
    "/functions/{name}/schedules",
    response_model=ScheduleList,
    responses=ERRORS,
    summary="A function's schedules",
)
async def list_of_function(name: str, session: SessionDep, principal: PrincipalDep) -> ScheduleList:
    found = await service.list_schedules(session=session, principal=principal, name=name)
    return ScheduleList(items=[_out(schedule) for schedule in found])


@router.post(
    "/functions/{name}/schedules",
    status_code=201,
    response_model=ScheduleOut,
    responses=_WRITE_ERRORS,
    summary="Create a schedule",
    description="Each slot of the cron expression, read in the time zone, fires one "
    "asynchronous call of the function's latest version (or, for `{name}` = `hello:prod`, "
    "of the version alias `prod` points at when the slot fires) with trigger `schedule`, "
    "exactly once. After downtime only the most recent missed slot fires; the schedule counts the "
    "skipped ones. A wall-clock time in a spring-forward gap fires at the gap's end; one "
    "in a fall-back repeat fires at its first occurrence.",
)
async def create(
    name: str,
    body: ScheduleCreate,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> ScheduleOut:
    schedule = await service.create_schedule(
        session=session,
        principal=principal,
        name=name,
        cron=body.cron,
        timezone=body.timezone,
        event=_event(body.event),
        max_event_bytes=runtime.settings.max_event_bytes,
        paused=body.paused,
    )
    await session.commit()
    _wake(runtime)
    return _out(schedule)


@router.get(
    "/functions/{name}/schedules/{schedule_id}",
    response_model=ScheduleOut,
    responses=ERRORS,
    summary="One schedule",
)
async def get(
    name: str, schedule_id: str, session: SessionDep, principal: PrincipalDep
) -> ScheduleOut:
    schedule = await service.get_schedule(
        session=session, principal=principal, name=name, schedule_id=schedule_id
    )
    return _out(schedule)


@router.patch(
    "/functions/{name}/schedules/{schedule_id}",
    response_model=ScheduleOut,
    responses=_WRITE_ERRORS,
    summary="Pause, resume or change a schedule",
    description="`paused: true` pauses it; `false` resumes it from the next slot after now "
    "(slots while it was paused are not run). A new `cron` or `timezone` also starts from "
    "the next slot after now. Fields left out stay as they are.",
)
async def change(
    name: str,
    schedule_id: str,
    body: ScheduleChange,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> ScheduleOut:
    schedule = await service.change_schedule(
        session=session,
        principal=principal,
        name=name,
        schedule_id=schedule_id,
        change=service.Change(
            paused=body.paused,
            cron=body.cron,
            timezone=body.timezone,
            event=_event(body.event) if "event" in body.model_fields_set else None,
        ),
        max_event_bytes=runtime.settings.max_event_bytes,
    )
    await session.commit()
    _wake(runtime)
    return _out(schedule)


@router.delete(
    "/functions/{name}/schedules/{schedule_id}",
    status_code=204,
    responses=ERRORS,
    summary="Delete a schedule",
    description="Calls it already queued stay queued.",
)
async def delete(
    name: str, schedule_id: str, session: SessionDep, principal: PrincipalDep
) -> Response:
    await service.delete_schedule(
        session=session, principal=principal, name=name, schedule_id=schedule_id
    )
    await session.commit()
    return Response(status_code=204)
