"""The queue of asynchronous calls, which is the invocations table itself (DESIGN.md
"Durable work"): accepting a call is one row in state `queued`.

Written by hand, not with a queue library: procrastinate and pgqueuer are PostgreSQL-only,
and Sandlot's default database is SQLite; the queue entry must also be the invocation
record (one commit, no dual write), which no library's own job table is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import IdempotencyKeyRace
from sandlot.domain.models import Invocation, QueuedCall
from sandlot.domain.queue import ClaimedCall, DueCall, aged_from
from sandlot.domain.states import InvocationState
from sandlot.storage.invocations import invocation_of
from sandlot.storage.tables import InvocationLogRow, InvocationRow

_INVOCATIONS = cast(Table, InvocationRow.__table__)
_QUEUED = InvocationState.QUEUED.value
_RUNNING = InvocationState.RUNNING.value


class QueueRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue(self, call: QueuedCall) -> None:
        """Insert the call's row, `queued` at attempt 0. The caller's commit accepts it.

        Raises `IdempotencyKeyRace` when another call with its key was inserted first (the
        session must then be rolled back)."""
        try:
            await self._insert(call)
        except IntegrityError as exc:
            if call.idempotency_key is None:
                raise
            raise IdempotencyKeyRace("another call with this Idempotency-Key came first") from exc

    async def _insert(self, call: QueuedCall) -> None:
        await self.session.execute(
            insert(_INVOCATIONS).values(
                id=call.id,
                namespace_id=call.namespace_id,
                function_id=call.function_id,
                function_name=call.function_name,
                version=call.version,
                trigger=call.trigger,
                state=InvocationState.QUEUED.value,
                cold_start=False,
                created_at=call.created_at,
                timings={},
                log_excerpt="",
                logs_truncated=False,
                event_text=call.event,
                event_truncated=call.event_truncated,
                attempt=0,
                max_attempts=call.max_attempts,
                run_after=call.run_after,
                payload=call.payload,
                attempts=[],
                idempotency_key=call.idempotency_key,
                caused_by=call.caused_by,
                alias=call.alias,
            )
        )

    async def by_idempotency_key(
        self, namespace_id: str, function_id: str, key: str
    ) -> Invocation | None:
        row = await self.session.scalar(
            select(InvocationRow).where(
                InvocationRow.namespace_id == namespace_id,
                InvocationRow.function_id == function_id,
                InvocationRow.idempotency_key == key,
            )
        )
        return None if row is None else invocation_of(row)

    async def free_idempotency_key(
        self, namespace_id: str, function_id: str, key: str, *, before: datetime
    ) -> None:
        """Let a key be used again once its first call is older than the window."""
        await self.session.execute(
            update(InvocationRow)
            .where(
                InvocationRow.namespace_id == namespace_id,
                InvocationRow.function_id == function_id,
                InvocationRow.idempotency_key == key,
                InvocationRow.created_at < before,
            )
            .values(idempotency_key=None)
        )

    # the claimer's side (services.async_runner)

    def _locked(self, query: Select[Any]) -> Select[Any]:
        """On PostgreSQL, rows another claimer holds are skipped, not waited for. SQLite has
        one writer at a time and the claimer runs in the server's one process: no lock."""
        if self.session.get_bind().dialect.name == "postgresql":
            return query.with_for_update(skip_locked=True)
        return query

    async def due(self, now: datetime, limit: int, *, skip: Collection[str] = ()) -> list[DueCall]:
        """Queued calls whose time has come, oldest first, but none of the functions in
        `skip` (those this claimer has no room for: they must not hide the others' calls)."""
        query = select(
            InvocationRow.id,
            InvocationRow.namespace_id,
            InvocationRow.function_id,
            InvocationRow.function_name,
            InvocationRow.version,
            InvocationRow.created_at,
            InvocationRow.attempt,
            InvocationRow.attempts,
        ).where(InvocationRow.state == _QUEUED, InvocationRow.run_after <= now)
        if skip:
            query = query.where(InvocationRow.function_id.not_in(sorted(skip)))
        rows = await self.session.execute(
            query.order_by(InvocationRow.run_after, InvocationRow.id).limit(limit)
        )
        return [
            DueCall(
                id=row.id,
                namespace_id=row.namespace_id,
                function_id=row.function_id,
                function_name=row.function_name,
                version=row.version,
                created_at=row.created_at,
                attempt=row.attempt,
                aged_from=aged_from(row.created_at, row.attempts or ()),
            )
            for row in rows
        ]

    async def claim(
        self, leases: Mapping[str, datetime], *, owner: str, now: datetime
    ) -> list[ClaimedCall]:
        """Take the calls named in `leases` that are still queued (and, on PostgreSQL, that no
        other claimer is taking now): running, the next attempt, held by `owner` until its
        lease ends. The caller commits."""
        if not leases:
            return []
        rows = list(
            await self.session.scalars(
                self._locked(
                    select(InvocationRow).where(
                        InvocationRow.id.in_(sorted(leases)), InvocationRow.state == _QUEUED
                    )
                ).order_by(InvocationRow.run_after, InvocationRow.id)
            )
        )
        claimed = []
        for row in rows:
            lease_until = leases[row.id]
            await self.session.execute(
                update(InvocationRow)
                .where(InvocationRow.id == row.id, InvocationRow.state == _QUEUED)
                .values(
                    state=_RUNNING,
                    attempt=row.attempt + 1,
                    lease_owner=owner,
                    lease_until=lease_until,
                )
                .execution_options(synchronize_session=False)
            )
            claimed.append(_claimed(row, lease_until))
        return claimed

    async def end(
        self,
        invocation_id: str,
        attempt: int,
        values: Mapping[str, Any],
        *,
        logs: str = "",
        queued: bool = False,
    ) -> bool:
        """Write how an attempt ended, only if the row is still that attempt, running (or,
        with `queued`, still queued: a call that ends unrun). False: a later attempt, a
        cancel or a reaper came first, and nothing is written."""
        state = _QUEUED if queued else _RUNNING
        result = await self.session.execute(
            update(InvocationRow)
            .where(
                InvocationRow.id == invocation_id,
                InvocationRow.attempt == attempt,
                InvocationRow.state == state,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        if logs:
            # merge, not add: a redriven call ends again and replaces its earlier logs.
            await self.session.merge(InvocationLogRow(invocation_id=invocation_id, text=logs))
            await self.session.flush()
        return True

    async def expired(self, now: datetime, limit: int) -> list[ClaimedCall]:
        """Running asynchronous calls whose lease ended before `now`: their claimer is gone
        (killed, stopped, cut off) or far too late."""
        return await self._held(
            and_(InvocationRow.lease_until.is_not(None), InvocationRow.lease_until < now), limit
        )

    async def held_by(self, prefix: str, *, but: str, limit: int) -> list[ClaimedCall]:
        """Running calls held by an owner whose id starts with `prefix`, except `but`."""
        return await self._held(
            and_(
                InvocationRow.lease_owner.startswith(prefix, autoescape=True),
                InvocationRow.lease_owner != but,
            ),
            limit,
        )

    async def leased_to(self, owner: str, limit: int) -> list[ClaimedCall]:
        """Running calls leased to exactly `owner` (a worker gone silent: each is re-queued
        at once rather than when its lease would end)."""
        return await self._held(InvocationRow.lease_owner == owner, limit)

    async def _held(self, where: ColumnElement[bool], limit: int) -> list[ClaimedCall]:
        rows = await self.session.scalars(
            self._locked(
                select(InvocationRow)
                .where(InvocationRow.state == _RUNNING, where)
                .order_by(InvocationRow.id)
                .limit(limit)
            )
        )
        return [_claimed(row, row.lease_until or row.created_at) for row in rows]

    async def lost(self, held: Sequence[tuple[str, int]], owner: str) -> set[str]:
        """Of the (id, attempt) this claimer runs, those the row no longer gives it: the call
        was cancelled, or its lease reaped and handed on."""
        if not held:
            return set()
        ids = sorted({invocation_id for invocation_id, _ in held})
        rows = await self.session.execute(
            select(
                InvocationRow.id,
                InvocationRow.attempt,
                InvocationRow.state,
                InvocationRow.lease_owner,
            ).where(InvocationRow.id.in_(ids))
        )
        current = {row[0]: (row[1], row[2], row[3]) for row in rows}
        return {
            invocation_id
            for invocation_id, attempt in held
            if current.get(invocation_id) != (attempt, _RUNNING, owner)
        }

    async def cancel(self, namespace_id: str, invocation_id: str, now: datetime) -> bool:
        """End a queued or running asynchronous call `cancelled`; False if it had ended (or
        is a sync call, which has no lease)."""
        result = await self.session.execute(
            update(InvocationRow)
            .where(
                InvocationRow.id == invocation_id,
                InvocationRow.namespace_id == namespace_id,
                InvocationRow.max_attempts.is_not(None),
                InvocationRow.state.in_((_QUEUED, _RUNNING)),
            )
            .values(
                state=InvocationState.CANCELLED.value,
                finished_at=now,
                lease_owner=None,
                lease_until=None,
                error={"kind": "Cancelled", "message": "cancelled by a caller"},
            )
            .execution_options(synchronize_session=False)
        )
        return getattr(result, "rowcount", 0) == 1


def _claimed(row: InvocationRow, lease_until: datetime) -> ClaimedCall:
    return ClaimedCall(
        id=row.id,
        namespace_id=row.namespace_id,
        function_id=row.function_id,
        function_name=row.function_name,
        version=row.version,
        trigger=row.trigger,
        # As claimed: the row's own attempt is one more than it read (`claim` bumps it).
        attempt=row.attempt + 1 if row.state == _QUEUED else row.attempt,
        max_attempts=row.max_attempts or 1,
        created_at=row.created_at,
        payload=row.payload or "null",
        event=row.event_text,
        event_truncated=row.event_truncated,
        attempts=tuple(row.attempts or ()),
        aged_from=aged_from(row.created_at, row.attempts or ()),
        lease_until=lease_until,
        caused_by=row.caused_by,
        alias=row.alias,
    )
