"""The scheduler: fires each schedule's due slot as an asynchronous call, exactly once.

Exactly once, across restarts and across API servers on one PostgreSQL, is not left to a
timer: firing a slot is one transaction that locks the schedule's row (PostgreSQL; SQLite
has one writer, and one server per data dir), queues the call through
`async_invocations.accept` and inserts the slot's row under the primary key (schedule id,
slot time). A second server that got there too waits on the lock and then finds the slot
gone from `next_run_at`; should anything still race, the key refuses its insert and its
transaction, call included, rolls back. A crash before the commit leaves nothing behind,
so the slot fires after the restart; a crash after it leaves the slot taken.

After downtime only the most recent due slot fires; the earlier ones are counted as
skipped on the schedule (`domain.schedules.due`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from sandlot.domain.errors import SandlotError, ScheduleNotFound
from sandlot.domain.models import Principal, Role
from sandlot.domain.schedules import Schedule, check_timezone, due, next_slot
from sandlot.services.async_invocations import accept
from sandlot.services.invocations import Invoker
from sandlot.services.queue_wake import QueueWaker
from sandlot.services.timed_loop import TimedLoop
from sandlot.storage.db import Database
from sandlot.storage.namespaces import NamespaceRepo
from sandlot.storage.schedules import ScheduleRepo

log = logging.getLogger(__name__)

DEFAULT_MAX_SLEEP_S = 30.0
_BATCH = 100


@dataclass(frozen=True)
class Fired:
    schedule_id: str
    slot: datetime
    invocation_id: str
    skipped: int


class _SlotTaken(Exception):
    """Another server (or this one before a restart) fired the slot: roll back, move on."""


class Scheduler(TimedLoop):
    name = "sandlot-scheduler"

    def __init__(
        self,
        *,
        database: Database,
        invoker: Invoker,
        queue_waker: QueueWaker,
        max_sleep_s: float = DEFAULT_MAX_SLEEP_S,
    ) -> None:
        # Bounded, so a schedule made on another server is noticed within this long.
        super().__init__(max_sleep_s=max_sleep_s)
        self.database = database
        self.invoker = invoker
        self.queue_waker = queue_waker
        self.owner = f"{socket.gethostname()}:{os.getpid()}"[:64]

    async def run_once(self, now: datetime | None = None) -> list[Fired]:
        """Fire every slot due at `now` (default: the clock). Tests pass explicit times."""
        at = now or datetime.now(UTC)
        async with self.database.sessions() as session:
            due_ids = await ScheduleRepo(session).due_ids(at, _BATCH)
        fired = []
        for schedule_id, namespace_id in due_ids:
            one = await self._fire(schedule_id, namespace_id, at)
            if one is not None:
                fired.append(one)
        if fired:
            self.queue_waker.notify()
        return fired

    async def next_due(self) -> datetime | None:
        async with self.database.sessions() as session:
            return await ScheduleRepo(session).earliest_next_run()

    async def _fire(self, schedule_id: str, namespace_id: str, now: datetime) -> Fired | None:
        try:
            async with self.database.sessions() as session, session.begin():
                repo = ScheduleRepo(session)
                schedule = await repo.get(namespace_id, schedule_id, lock=True)
                if schedule.paused or schedule.next_run_at is None or schedule.next_run_at > now:
                    return None  # fired (or changed) by someone else since the query
                return await self._take(repo, schedule, now)
        except _SlotTaken:
            log.info("scheduler: schedule %s's slot was fired elsewhere", schedule_id)
        except SandlotError as error:
            await self._cannot_fire(schedule_id, namespace_id, now, error)
        return None

    async def _take(self, repo: ScheduleRepo, schedule: Schedule, now: datetime) -> Fired:
        zone = check_timezone(schedule.timezone)
        assert schedule.next_run_at is not None
        slot = due(schedule.cron, zone, schedule.next_run_at, now)
        assert slot is not None  # next_run_at <= now
        accepted = await accept(
            session=repo.session,
            invoker=self.invoker,
            principal=await self._principal(repo, schedule),
            name=schedule.called,
            version=None,
            body=schedule.event.encode(),
            trigger="schedule",
        )
        invocation_id = accepted.invocation.id
        if not await repo.take_slot(
            schedule_id=schedule.id,
            slot=slot.slot,
            invocation_id=invocation_id,
            now=now,
            by=self.owner,
        ):
            raise _SlotTaken
        await repo.fired(schedule.id, slot, invocation_id)
        return Fired(schedule.id, slot.slot, invocation_id, slot.skipped)

    async def _principal(self, repo: ScheduleRepo, schedule: Schedule) -> Principal:
        """Who a firing calls as: the schedule itself, with no more than an invoker's role."""
        namespace = await NamespaceRepo(repo.session).get(schedule.namespace_id)
        return Principal(
            key_id=f"schedule:{schedule.id}",
            namespace_id=namespace.id,
            namespace=namespace.name,
            role=Role.INVOKER,
        )

    async def _cannot_fire(
        self, schedule_id: str, namespace_id: str, now: datetime, error: SandlotError
    ) -> None:
        """The function cannot take the call (no ready version, a quota): the slot is lost,
        said in the log, and the schedule moves on rather than retrying it every pass."""
        log.warning("scheduler: schedule %s did not fire: %s: %s", schedule_id, error.name, error)
        with contextlib.suppress(ScheduleNotFound):  # deleted meanwhile: nothing to move
            await self._move_on(schedule_id, namespace_id, now)

    async def _move_on(self, schedule_id: str, namespace_id: str, now: datetime) -> None:
        async with self.database.sessions() as session, session.begin():
            repo = ScheduleRepo(session)
            schedule = await repo.get(namespace_id, schedule_id, lock=True)
            zone = check_timezone(schedule.timezone)
            await repo.move_on(schedule_id, next_slot(schedule.cron, zone, now))
