"""Queue rows moved the way a runner in any process would move them, written straight to the
server's database: for tests of what callers do with async calls, apart from the runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from sandlot.storage.tables import InvocationRow
from tests.conftest import Api

CRASHED = {"kind": "FunctionCrashed", "message": "the process died"}


async def _set(api: Api, invocation_id: str, **values: Any) -> None:
    async with api.runtime.database.sessions() as session:
        await session.execute(
            update(InvocationRow).where(InvocationRow.id == invocation_id).values(**values)
        )
        await session.commit()


async def end_as(api: Api, invocation_id: str, state: str, *, result: str | None = None) -> None:
    await _set(
        api,
        invocation_id,
        state=state,
        attempt=1,
        result_json=result,
        finished_at=datetime.now(UTC),
        duration_ms=1.0,
    )


async def make_dead(api: Api, invocation_id: str) -> None:
    """Dead after three attempts that crashed, as the runner leaves it: each attempt's end
    in `attempts`, the last one's error on the row too."""
    now = datetime.now(UTC)
    earlier = [
        {"attempt": n, "state": "failed", "error": CRASHED, "finished_at": now.isoformat()}
        for n in (1, 2, 3)
    ]
    await _set(
        api,
        invocation_id,
        state="dead",
        attempt=3,
        attempts=earlier,
        error=CRASHED,
        finished_at=now,
        lease_until=None,
        lease_owner=None,
    )


async def age(api: Api, invocation_id: str, hours: float) -> None:
    """Accepted `hours` ago (for the Idempotency-Key's 24-hour window)."""
    await _set(api, invocation_id, created_at=datetime.now(UTC) - timedelta(hours=hours))


async def row_count(api: Api) -> int:
    async with api.runtime.database.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(InvocationRow))
    return int(count or 0)
