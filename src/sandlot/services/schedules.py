"""Schedules of a function: create, list, read, change (pause, resume, cron, event), delete.

What fires them is `services.scheduler`. A schedule belongs to the function row: deleting
the function takes its schedules with it (they are never listed or fired again).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.aliases import split_qualified
from sandlot.domain.errors import ScheduleNotFound
from sandlot.domain.models import Principal
from sandlot.domain.schedules import (
    DEFAULT_TIMEZONE,
    Schedule,
    check_cron,
    check_timezone,
    next_runs,
    next_slot,
)
from sandlot.services import audit
from sandlot.services.alias_users import check_exists
from sandlot.services.authz import authorize, authorize_function, in_scope
from sandlot.services.invocations import check_event
from sandlot.storage.db import storable
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.schedules import ScheduleRepo

PREVIEW_RUNS = 3


@dataclass(frozen=True)
class Change:
    """A PATCH: each field None is left as it is."""

    paused: bool | None = None
    cron: str | None = None
    timezone: str | None = None
    event: bytes | None = None


def new_schedule_id() -> str:
    return "sch_" + secrets.token_hex(12)


def preview(
    *, principal: Principal, cron: str, timezone: str, now: datetime | None = None
) -> tuple[str, list[datetime]]:
    """The expression as it will be stored, and its next runs: the console's live preview."""
    authorize(principal, Action.FUNCTION_READ)
    text = check_cron(cron)
    return text, next_runs(text, check_timezone(timezone), now or datetime.now(UTC), PREVIEW_RUNS)


def upcoming(schedule: Schedule, now: datetime | None = None) -> list[datetime]:
    """What an answer shows as its next runs (none while paused)."""
    if schedule.paused or schedule.next_run_at is None:
        return []
    zone = check_timezone(schedule.timezone)
    after = min(schedule.next_run_at, now or datetime.now(UTC))
    runs = next_runs(schedule.cron, zone, after, PREVIEW_RUNS + 1)
    return [run for run in runs if run >= schedule.next_run_at][:PREVIEW_RUNS]


async def create_schedule(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    cron: str,
    timezone: str | None,
    event: bytes,
    max_event_bytes: int,
    paused: bool = False,
    now: datetime | None = None,
) -> Schedule:
    """`name` may be qualified (`hello:prod`): each firing then calls that alias, resolved
    when the slot fires (so a rollback or a release moves the schedule's calls too)."""
    name, alias_name = split_qualified(name)
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    alias = await check_exists(session, function, alias_name)
    text = check_cron(cron)
    zone_name = timezone or DEFAULT_TIMEZONE
    zone = check_timezone(zone_name)
    body = check_event(event, max_event_bytes)
    at = now or datetime.now(UTC)
    schedule = Schedule(
        id=new_schedule_id(),
        namespace_id=principal.namespace_id,
        function_id=function.id,
        function_name=function.name,
        cron=text,
        timezone=zone_name,
        event=body.decode(),
        paused=paused,
        next_run_at=None if paused else next_slot(text, zone, at),
        last_run_at=None,
        last_invocation_id=None,
        skipped_slots=0,
        skipped_from=None,
        skipped_until=None,
        skipped_total=0,
        created_at=at,
        created_by=principal.actor,
        alias=alias,
    )
    await ScheduleRepo(session).add(schedule)
    await audit.record(
        session,
        principal=principal,
        action="schedule.create",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={
            "schedule": schedule.id,
            "cron": text,
            "timezone": zone_name,
            "paused": paused,
            "alias": alias,
        },
    )
    return schedule


async def list_schedules(
    *, session: AsyncSession, principal: Principal, name: str | None = None
) -> list[Schedule]:
    """One function's, or (name None) every schedule of the namespace the caller may see."""
    repo = ScheduleRepo(session)
    if name is not None:
        authorize_function(principal, Action.FUNCTION_READ, name)
        function = await FunctionRepo(session).get(principal.namespace_id, name)
        return await repo.of_namespace(principal.namespace_id, function.id)
    authorize(principal, Action.FUNCTION_READ)
    found = await repo.of_namespace(principal.namespace_id)
    return [schedule for schedule in found if in_scope(principal, schedule.function_name)]


async def get_schedule(
    *, session: AsyncSession, principal: Principal, name: str, schedule_id: str
) -> Schedule:
    authorize_function(principal, Action.FUNCTION_READ, name)
    return await _of_function(session, principal, name, schedule_id)


async def change_schedule(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    schedule_id: str,
    change: Change,
    max_event_bytes: int,
    now: datetime | None = None,
) -> Schedule:
    """Pause, resume, or a new cron, time zone or event. Resuming (or a new expression)
    starts from the next slot after now: slots while paused are not missed, just not run."""
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    current = await _of_function(session, principal, name, schedule_id, lock=True)
    cron = check_cron(change.cron) if change.cron is not None else current.cron
    zone_name = change.timezone if change.timezone is not None else current.timezone
    zone = check_timezone(zone_name)
    event = (
        check_event(change.event, max_event_bytes).decode()
        if change.event is not None
        else current.event
    )
    paused = change.paused if change.paused is not None else current.paused
    timing_changed = cron != current.cron or zone_name != current.timezone
    next_run_at = current.next_run_at
    if paused:
        next_run_at = None
    elif current.paused or timing_changed or next_run_at is None:
        next_run_at = next_slot(cron, zone, now or datetime.now(UTC))
    await ScheduleRepo(session).update(
        schedule_id,
        cron=cron,
        timezone=zone_name,
        event=event,
        paused=paused,
        next_run_at=next_run_at,
    )
    fields = [
        field
        for field, value in (
            ("paused", change.paused),
            ("cron", change.cron),
            ("timezone", change.timezone),
            ("event", change.event),
        )
        if value is not None
    ]
    await audit.record(
        session,
        principal=principal,
        action="schedule.change",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={"schedule": schedule_id, "changed": fields, "paused": paused, "cron": cron},
    )
    return await ScheduleRepo(session).get(principal.namespace_id, schedule_id)


async def delete_schedule(
    *, session: AsyncSession, principal: Principal, name: str, schedule_id: str
) -> None:
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    current = await _of_function(session, principal, name, schedule_id, lock=True)
    await ScheduleRepo(session).delete(current.id)
    await audit.record(
        session,
        principal=principal,
        action="schedule.delete",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={"schedule": schedule_id, "cron": current.cron},
    )


async def _of_function(
    session: AsyncSession, principal: Principal, name: str, schedule_id: str, *, lock: bool = False
) -> Schedule:
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    missing = ScheduleNotFound(
        f"function {name!r} has no schedule {schedule_id!r}", schedule=schedule_id[:64]
    )
    if not storable(schedule_id) or len(schedule_id) > 64:
        raise missing
    try:
        schedule = await ScheduleRepo(session).get(principal.namespace_id, schedule_id, lock=lock)
    except ScheduleNotFound:
        raise missing from None
    if schedule.function_id != function.id:
        raise missing
    return schedule
