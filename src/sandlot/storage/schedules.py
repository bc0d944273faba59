"""Schedules and their fired slots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.aliases import LATEST
from sandlot.domain.errors import ScheduleNotFound
from sandlot.domain.schedules import Due, Schedule
from sandlot.storage.schedule_tables import ScheduleFiringRow, ScheduleRow
from sandlot.storage.tables import FunctionRow


def _schedule(row: ScheduleRow, function_name: str) -> Schedule:
    return Schedule(
        id=row.id,
        namespace_id=row.namespace_id,
        function_id=row.function_id,
        function_name=function_name,
        cron=row.cron,
        timezone=row.timezone,
        event=row.event,
        paused=row.paused,
        next_run_at=row.next_run_at,
        last_run_at=row.last_run_at,
        last_invocation_id=row.last_invocation_id,
        skipped_slots=row.skipped_slots,
        skipped_from=row.skipped_from,
        skipped_until=row.skipped_until,
        skipped_total=row.skipped_total,
        created_at=row.created_at,
        created_by=row.created_by,
        alias=row.alias or LATEST,
    )


def _of(rows: Sequence[Any]) -> list[Schedule]:
    return [_schedule(row[0], row[1]) for row in rows]


# Only schedules of live functions: a deleted function's schedules go with it.
_LIVE = select(ScheduleRow, FunctionRow.name).join(
    FunctionRow, (FunctionRow.id == ScheduleRow.function_id) & FunctionRow.deleted_at.is_(None)
)


class ScheduleRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, schedule: Schedule) -> None:
        self.session.add(
            ScheduleRow(
                id=schedule.id,
                namespace_id=schedule.namespace_id,
                function_id=schedule.function_id,
                cron=schedule.cron,
                timezone=schedule.timezone,
                event=schedule.event,
                paused=schedule.paused,
                next_run_at=schedule.next_run_at,
                skipped_slots=0,
                skipped_total=0,
                created_at=schedule.created_at,
                created_by=schedule.created_by,
                alias=None if schedule.alias == LATEST else schedule.alias,
            )
        )
        await self.session.flush()

    async def of_namespace(
        self, namespace_id: str, function_id: str | None = None
    ) -> list[Schedule]:
        query = _LIVE.where(ScheduleRow.namespace_id == namespace_id)
        if function_id is not None:
            query = query.where(ScheduleRow.function_id == function_id)
        rows = await self.session.execute(query.order_by(FunctionRow.name, ScheduleRow.created_at))
        return _of(rows.all())

    async def get(self, namespace_id: str, schedule_id: str, *, lock: bool = False) -> Schedule:
        query = _LIVE.where(ScheduleRow.namespace_id == namespace_id, ScheduleRow.id == schedule_id)
        if lock:
            query = query.with_for_update(of=ScheduleRow)
        found = (await self.session.execute(query)).first()
        if found is None:
            raise ScheduleNotFound(f"no schedule {schedule_id!r}", schedule=schedule_id)
        return _schedule(found[0], found[1])

    async def update(
        self,
        schedule_id: str,
        *,
        cron: str,
        timezone: str,
        event: str,
        paused: bool,
        next_run_at: datetime | None,
    ) -> None:
        row = await self.session.get(ScheduleRow, schedule_id)
        if row is None:
            raise ScheduleNotFound(f"no schedule {schedule_id!r}", schedule=schedule_id)
        row.cron, row.timezone, row.event = cron, timezone, event
        row.paused, row.next_run_at = paused, next_run_at
        await self.session.flush()

    async def delete(self, schedule_id: str) -> None:
        await self.session.execute(
            delete(ScheduleFiringRow).where(ScheduleFiringRow.schedule_id == schedule_id)
        )
        await self.session.execute(delete(ScheduleRow).where(ScheduleRow.id == schedule_id))

    # -- the scheduler -------------------------------------------------------------------------

    async def due_ids(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(schedule id, namespace id) of the active schedules whose next slot has come."""
        query = (
            select(ScheduleRow.id, ScheduleRow.namespace_id)
            .join(FunctionRow, FunctionRow.id == ScheduleRow.function_id)
            .where(
                FunctionRow.deleted_at.is_(None),
                ScheduleRow.paused.is_(False),
                ScheduleRow.next_run_at <= now,
            )
            .order_by(ScheduleRow.next_run_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(query)).all()]

    async def earliest_next_run(self) -> datetime | None:
        # Ordered rather than min(): the column's type turns SQLite's text back into UTC.
        query = (
            select(ScheduleRow.next_run_at)
            .join(FunctionRow, FunctionRow.id == ScheduleRow.function_id)
            .where(
                FunctionRow.deleted_at.is_(None),
                ScheduleRow.paused.is_(False),
                ScheduleRow.next_run_at.is_not(None),
            )
            .order_by(ScheduleRow.next_run_at)
            .limit(1)
        )
        found: datetime | None = await self.session.scalar(query)
        return found

    async def take_slot(
        self, *, schedule_id: str, slot: datetime, invocation_id: str, now: datetime, by: str
    ) -> bool:
        """Insert the slot's row; False if it was taken already (by another server, or
        before a restart): the caller then rolls back and moves on."""
        self.session.add(
            ScheduleFiringRow(
                schedule_id=schedule_id,
                slot_at=slot,
                invocation_id=invocation_id,
                fired_at=now,
                fired_by=by,
            )
        )
        try:
            await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def fired(self, schedule_id: str, due: Due, invocation_id: str) -> None:
        row = await self.session.get(ScheduleRow, schedule_id)
        if row is None:
            return
        row.last_run_at = due.slot
        row.last_invocation_id = invocation_id
        row.next_run_at = due.next_run_at
        row.skipped_slots = due.skipped
        row.skipped_from = due.skipped_from
        row.skipped_until = due.skipped_until
        row.skipped_total = row.skipped_total + due.skipped
        await self.session.flush()

    async def move_on(self, schedule_id: str, next_run_at: datetime) -> None:
        """A slot that could not fire (its function has no ready version): the next one."""
        row = await self.session.get(ScheduleRow, schedule_id)
        if row is not None:
            row.next_run_at = next_run_at
            await self.session.flush()
