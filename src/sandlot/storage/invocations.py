"""Invocation records and their captured logs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import InvocationNotFound
from sandlot.domain.models import Invocation, InvocationPage
from sandlot.domain.states import InvocationState
from sandlot.storage.db import can_match
from sandlot.storage.tables import InvocationLogRow, InvocationRow


def _decode_result(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _invocation(row: InvocationRow) -> Invocation:
    return Invocation(
        id=row.id,
        namespace_id=row.namespace_id,
        function_id=row.function_id,
        function_name=row.function_name,
        version=row.version,
        trigger=row.trigger,
        state=InvocationState(row.state),
        cold_start=row.cold_start,
        created_at=row.created_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
        timings=row.timings,
        result=_decode_result(row.result_json),
        error=row.error,
        log_excerpt=row.log_excerpt,
        logs_truncated=row.logs_truncated,
    )


def _values(invocation: Invocation, result_json: str | None) -> dict[str, Any]:
    return {
        "id": invocation.id,
        "namespace_id": invocation.namespace_id,
        "function_id": invocation.function_id,
        "function_name": invocation.function_name,
        "version": invocation.version,
        "trigger": invocation.trigger,
        "state": invocation.state.value,
        "cold_start": invocation.cold_start,
        "created_at": invocation.created_at,
        "finished_at": invocation.finished_at,
        "duration_ms": invocation.duration_ms,
        "timings": dict(invocation.timings),
        "result_json": result_json,
        "error": invocation.error,
        "log_excerpt": invocation.log_excerpt,
        "logs_truncated": invocation.logs_truncated,
    }


# The tables themselves, for Core inserts (see `add_many`).
_INVOCATIONS = cast(Table, InvocationRow.__table__)
_INVOCATION_LOGS = cast(Table, InvocationLogRow.__table__)


class InvocationRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, records: Sequence[tuple[Invocation, str | None, str]]) -> None:
        """Insert finished invocations: (record, result as JSON text, whole logs).

        Core executemany inserts into the tables, not through the mapped classes: this runs
        for every invocation, and the ORM's bulk path (let alone ORM objects) costs several
        times more per row on the server's one event loop.
        """
        rows = [_values(invocation, result_json) for invocation, result_json, _ in records]
        logs = [
            {"invocation_id": invocation.id, "text": text}
            for invocation, _, text in records
            if text
        ]
        await self.session.execute(insert(_INVOCATIONS), rows)
        if logs:
            await self.session.execute(insert(_INVOCATION_LOGS), logs)

    async def get(self, namespace_id: str, invocation_id: str) -> Invocation:
        row = can_match(invocation_id) and await self.session.scalar(
            select(InvocationRow).where(
                InvocationRow.id == invocation_id, InvocationRow.namespace_id == namespace_id
            )
        )
        if not row:
            raise InvocationNotFound(
                f"no invocation with id {invocation_id!r}", invocation_id=invocation_id
            )
        return _invocation(row)

    async def logs(self, namespace_id: str, invocation_id: str) -> str:
        await self.get(namespace_id, invocation_id)  # 404 across namespaces
        row = await self.session.get(InvocationLogRow, invocation_id)
        return row.text if row else ""

    async def page(
        self,
        namespace_id: str,
        *,
        function_name: str | None,
        state: InvocationState | None,
        limit: int,
        cursor: str | None,
        function_id: str | None = None,
    ) -> InvocationPage:
        query = select(InvocationRow).where(InvocationRow.namespace_id == namespace_id)
        if function_name is not None:
            query = query.where(InvocationRow.function_name == function_name)
        if function_id is not None:
            query = query.where(InvocationRow.function_id == function_id)
        if state is not None:
            query = query.where(InvocationRow.state == state.value)
        if cursor is not None:
            query = query.where(InvocationRow.id < cursor)
        rows = list(
            await self.session.scalars(query.order_by(InvocationRow.id.desc()).limit(limit + 1))
        )
        more = len(rows) > limit
        items = [_invocation(row) for row in rows[:limit]]
        return InvocationPage(items=items, next_cursor=items[-1].id if more and items else None)
