"""Taking back the calls of a claimer that is gone: leases that expired, and what a previous
run of this data dir left running. Each is re-queued with back-off, its lost attempt counted,
or ended dead if that was its last."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.queue import Backoff, ClaimedCall, after_attempt
from sandlot.domain.states import InvocationState
from sandlot.storage.async_config import AsyncConfigRepo
from sandlot.storage.db import Database
from sandlot.storage.queue import QueueRepo

log = logging.getLogger(__name__)

_BATCH = 100
_EXPIRED = "the server running this attempt stopped answering (its lease expired)"
_CRASHED = "the server running this attempt stopped (killed or crashed) before it ended"
_LOST = "the worker running this attempt stopped answering (no heartbeat)"

# (session, namespace id, invocation id): the call has ended for good.
OnFinal = Callable[[AsyncSession, str, str], Awaitable[None]]


class Reaper:
    def __init__(
        self, database: Database, backoff: Backoff, on_final: OnFinal, wake: Callable[[], None]
    ) -> None:
        self.database = database
        self.backoff = backoff
        self.on_final = on_final
        self.wake = wake

    async def expired(self, *, skip: Collection[str] = ()) -> int:
        """Running calls whose lease ended (but those in `skip`)."""
        now = datetime.now(UTC)
        async with self.database.sessions.begin() as session:
            found = await QueueRepo(session).expired(now, _BATCH)
            lapsed = [call for call in found if call.id not in skip]
            return await self._requeue(session, lapsed, "LeaseExpired", _EXPIRED, now)

    async def previous_run(self, node: str, owner: str) -> int:
        """At start-up: the calls a previous run of this data dir held (`node` is the data
        dir's prefix of every owner, `owner` this run's). Only one server holds a data dir
        at a time (storage.datadir), so that run is dead and its calls need not wait for
        their leases to end."""
        now = datetime.now(UTC)
        total = 0
        while True:
            async with self.database.sessions.begin() as session:
                held = await QueueRepo(session).held_by(node, but=owner, limit=_BATCH)
                total += await self._requeue(session, held, "ServerCrashed", _CRASHED, now)
            if len(held) < _BATCH:
                break
        if total:
            log.info("%d asynchronous calls of the previous run queued again", total)
        return total

    async def worker_lost(self, owner: str) -> int:
        """The calls leased to a worker that stopped heartbeating: re-queued now, their lost
        attempt counted (kind `WorkerLost`). If that worker comes back, its late ends are
        fenced out by their attempt (`QueueRepo.end`) and its runner stops them."""
        now = datetime.now(UTC)
        total = 0
        while True:
            async with self.database.sessions.begin() as session:
                held = await QueueRepo(session).leased_to(owner, _BATCH)
                total += await self._requeue(session, held, "WorkerLost", _LOST, now)
            if len(held) < _BATCH:
                return total

    async def _requeue(
        self,
        session: AsyncSession,
        calls: list[ClaimedCall],
        kind: str,
        message: str,
        now: datetime,
    ) -> int:
        if not calls:
            return 0
        configs = await AsyncConfigRepo(session).many({c.function_id for c in calls})
        error = {"kind": kind, "message": message}
        for call in calls:
            values = after_attempt(
                call,
                state=InvocationState.FAILED,
                kind=kind,
                error=error,
                started_at=None,
                now=now,
                config=configs[call.function_id],
                backoff=self.backoff,
            )
            written = await QueueRepo(session).end(call.id, call.attempt, values)
            if written and values["state"] != InvocationState.QUEUED.value:
                await self.on_final(session, call.namespace_id, call.id)
        self.wake()
        return len(calls)
