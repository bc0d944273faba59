"""The queue of asynchronous calls, which is the invocations table itself (DESIGN.md
"Durable work"): accepting a call is one row in state `queued`.

Written by hand, not with a queue library: procrastinate and pgqueuer are PostgreSQL-only,
and Sandlot's default database is SQLite; the queue entry must also be the invocation
record (one commit, no dual write), which no library's own job table is.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import IdempotencyKeyRace
from sandlot.domain.models import Invocation, QueuedCall
from sandlot.domain.states import InvocationState
from sandlot.storage.invocations import invocation_of
from sandlot.storage.tables import InvocationRow

_INVOCATIONS = cast(Table, InvocationRow.__table__)


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
