"""Each function's retry policy for its asynchronous calls (`function_async_configs`)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.queue import DEFAULT_ASYNC_CONFIG, AsyncConfig
from sandlot.storage.tables import FunctionAsyncConfigRow


def _config_of(row: FunctionAsyncConfigRow) -> AsyncConfig:
    return AsyncConfig(
        max_attempts=row.max_attempts,
        retry_on_error=row.retry_on_error,
        max_event_age_s=row.max_event_age_s,
    )


class AsyncConfigRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, function_id: str) -> AsyncConfig:
        row = await self.session.get(FunctionAsyncConfigRow, function_id)
        return DEFAULT_ASYNC_CONFIG if row is None else _config_of(row)

    async def many(self, function_ids: Collection[str]) -> dict[str, AsyncConfig]:
        """Each function's policy, the defaults for those without a row."""
        rows = await self.session.scalars(
            select(FunctionAsyncConfigRow).where(
                FunctionAsyncConfigRow.function_id.in_(sorted(function_ids))
            )
        )
        found = {row.function_id: _config_of(row) for row in rows}
        return {fid: found.get(fid, DEFAULT_ASYNC_CONFIG) for fid in function_ids}

    async def put(self, function_id: str, config: AsyncConfig) -> None:
        row = await self.session.get(FunctionAsyncConfigRow, function_id)
        if row is None:
            row = FunctionAsyncConfigRow(function_id=function_id)
            self.session.add(row)
        row.max_attempts = config.max_attempts
        row.retry_on_error = config.retry_on_error
        row.max_event_age_s = config.max_event_age_s
        row.updated_at = datetime.now(UTC)
        await self.session.flush()
