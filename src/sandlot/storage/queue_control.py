"""What a caller does to queued work after it is accepted: redrive or discard dead letters.

Every change is guarded by the state it expects (`WHERE state = 'dead'`, and for a redrive
the attempt it read), so two callers racing, or a caller racing the runner, change a row at
most once and the loser learns it changed nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.states import InvocationState
from sandlot.storage.tables import InvocationLogRow, InvocationRow

_INVOCATIONS = cast(Table, InvocationRow.__table__)
_DEAD = InvocationState.DEAD.value
# One statement names at most this many rows: well under SQLite's bound-parameter limit.
_CHUNK = 500


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def redriven_attempts(row: InvocationRow, now: datetime) -> list[dict[str, Any]]:
    """The row's attempts, kept across a redrive, the last one marked with when it was
    redriven, so that the history reads each round of attempts in order. The runner keeps
    every attempt's end there, the last too; a call that ended dead unrun (too old, its
    function gone) has no entry for its end yet, and gets one from the row."""
    kept = [dict(entry) for entry in row.attempts or []]
    if not kept or kept[-1].get("attempt") != row.attempt or "redriven_at" in kept[-1]:
        kept.append(
            {
                "attempt": row.attempt,
                "state": _DEAD,
                "error": row.error,
                "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            }
        )
    kept[-1]["redriven_at"] = now.isoformat()
    return kept


class QueueControlRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def dead_ids(self, namespace_id: str, function_id: str) -> list[str]:
        ids = await self.session.scalars(
            select(InvocationRow.id)
            .where(
                InvocationRow.namespace_id == namespace_id,
                InvocationRow.function_id == function_id,
                InvocationRow.state == _DEAD,
            )
            .order_by(InvocationRow.id)
        )
        return list(ids)

    async def redrive(self, namespace_id: str, invocation_id: str, now: datetime) -> bool:
        """Queue a dead row again at attempt 0, due now; False if it is not dead (or not
        there, or redriven or discarded by someone else between the read and the write)."""
        row: InvocationRow | None = await self.session.scalar(
            select(InvocationRow).where(
                InvocationRow.namespace_id == namespace_id,
                InvocationRow.id == invocation_id,
                InvocationRow.state == _DEAD,
            )
        )
        if row is None:
            return False
        attempts = redriven_attempts(row, now)
        result = await self.session.execute(
            update(_INVOCATIONS)
            .where(
                _INVOCATIONS.c.id == row.id,
                _INVOCATIONS.c.state == _DEAD,
                _INVOCATIONS.c.attempt == row.attempt,
            )
            .values(
                state=InvocationState.QUEUED.value,
                attempt=0,
                attempts=attempts,
                run_after=now,
                lease_until=None,
                lease_owner=None,
                error=None,
                result_json=None,
                finished_at=None,
                duration_ms=None,
            )
        )
        self.session.expire(row)  # a later read in this session sees the row as written
        return _rowcount(result) == 1

    async def discard(self, namespace_id: str, invocation_ids: Sequence[str]) -> int:
        """Delete these rows that are still dead, with their logs; how many went."""
        gone = 0
        for start in range(0, len(invocation_ids), _CHUNK):
            chunk = list(invocation_ids[start : start + _CHUNK])
            still_dead = select(InvocationRow.id).where(
                InvocationRow.namespace_id == namespace_id,
                InvocationRow.id.in_(chunk),
                InvocationRow.state == _DEAD,
            )
            doomed = list(await self.session.scalars(still_dead))
            if not doomed:
                continue
            await self.session.execute(
                delete(InvocationLogRow).where(InvocationLogRow.invocation_id.in_(doomed))
            )
            result = await self.session.execute(
                delete(_INVOCATIONS).where(
                    _INVOCATIONS.c.id.in_(doomed), _INVOCATIONS.c.state == _DEAD
                )
            )
            gone += _rowcount(result)
        return gone
