"""Request and response bodies of schedules."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from sandlot.domain.schedules import CRON_MAX, DEFAULT_TIMEZONE, TIMEZONE_MAX, Schedule

_CRON = "Five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, …"


class ScheduleCreate(BaseModel):
    cron: str = Field(max_length=CRON_MAX * 2, description=_CRON, examples=["*/5 * * * *"])
    timezone: str = Field(
        default=DEFAULT_TIMEZONE,
        max_length=TIMEZONE_MAX * 2,
        description="An IANA time zone the expression is read in",
        examples=["Europe/Berlin"],
    )
    event: Any = Field(default=None, description="The event each firing sends (any JSON)")
    paused: bool = Field(default=False, description="Create it paused")


class ScheduleChange(BaseModel):
    paused: bool | None = Field(default=None, description="Pause (true) or resume (false)")
    cron: str | None = Field(default=None, max_length=CRON_MAX * 2, description=_CRON)
    timezone: str | None = Field(default=None, max_length=TIMEZONE_MAX * 2)
    event: Any = Field(default=None, description="A new event (omit to keep it)")


class ScheduleOut(BaseModel):
    id: str
    function: str
    alias: str = Field(description="The alias each firing calls (`latest`: the newest version)")
    cron: str
    timezone: str
    event: Any = Field(description="What each firing sends")
    paused: bool
    next_run_at: datetime | None = Field(description="The next slot; null while paused")
    next_runs: list[datetime] = Field(description="The next 3 slots (none while paused)")
    last_run_at: datetime | None = Field(description="The slot of the last firing")
    last_invocation_id: str | None = Field(description="The asynchronous call it made")
    skipped_slots: int = Field(
        description="At the last firing: how many earlier due slots were skipped (missed "
        "while no scheduler ran); only the most recent fires"
    )
    skipped_from: datetime | None
    skipped_until: datetime | None
    skipped_total: int = Field(description="Slots skipped over the schedule's life")
    note: str | None = Field(description="Said when the last firing skipped missed slots")
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, schedule: Schedule, next_runs: list[datetime]) -> ScheduleOut:
        return cls(
            id=schedule.id,
            function=schedule.function_name,
            alias=schedule.alias,
            cron=schedule.cron,
            timezone=schedule.timezone,
            event=json.loads(schedule.event),
            paused=schedule.paused,
            next_run_at=schedule.next_run_at,
            next_runs=next_runs,
            last_run_at=schedule.last_run_at,
            last_invocation_id=schedule.last_invocation_id,
            skipped_slots=schedule.skipped_slots,
            skipped_from=schedule.skipped_from,
            skipped_until=schedule.skipped_until,
            skipped_total=schedule.skipped_total,
            note=_note(schedule),
            created_at=schedule.created_at,
            created_by=schedule.created_by,
        )


def _note(schedule: Schedule) -> str | None:
    if not schedule.skipped_slots or schedule.skipped_from is None:
        return None
    many = "slot was" if schedule.skipped_slots == 1 else "slots were"
    until = schedule.skipped_until or schedule.skipped_from
    ran = schedule.last_run_at.isoformat() if schedule.last_run_at else "none"
    return (
        f"{schedule.skipped_slots} missed {many} skipped ({schedule.skipped_from.isoformat()} "
        f"to {until.isoformat()}); only the most recent, {ran}, ran"
    )


class ScheduleList(BaseModel):
    items: list[ScheduleOut]


class SchedulePreview(BaseModel):
    cron: str = Field(description="The expression as it would be stored")
    timezone: str
    next_runs: list[datetime] = Field(description="The next 3 slots from now")
