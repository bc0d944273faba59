"""Invocation records and their captured logs."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any, cast

from sqlalchemy import Select, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import InvocationNotFound
from sandlot.domain.models import Invocation, InvocationFilters, InvocationPage, InvocationStart
from sandlot.domain.states import InvocationState
from sandlot.storage.db import can_match
from sandlot.storage.tables import InvocationLogRow, InvocationRow


def _decode_result(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def invocation_of(row: InvocationRow) -> Invocation:
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
        event=row.event_text,
        event_truncated=row.event_truncated,
        attempt=row.attempt,
        max_attempts=row.max_attempts,
        run_after=row.run_after,
        attempts=tuple(row.attempts or ()),
        caused_by=row.caused_by,
        alias=row.alias,
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
        "event_text": invocation.event,
        "event_truncated": invocation.event_truncated,
        "alias": invocation.alias,
    }


def _running_values(start: InvocationStart) -> dict[str, Any]:
    return {
        "id": start.id,
        "namespace_id": start.namespace_id,
        "function_id": start.function_id,
        "function_name": start.function_name,
        "version": start.version,
        "trigger": start.trigger,
        "state": InvocationState.RUNNING.value,
        "cold_start": False,
        "created_at": start.created_at,
        "finished_at": None,
        "duration_ms": None,
        "timings": {},
        "result_json": None,
        "error": None,
        "log_excerpt": "",
        "logs_truncated": False,
        "event_text": start.event,
        "event_truncated": start.event_truncated,
        "alias": start.alias,
    }


def _filtered(query: Select[InvocationRow], filters: InvocationFilters) -> Select[InvocationRow]:
    if filters.version is not None:
        query = query.where(InvocationRow.version == filters.version)
    if filters.alias is not None:
        query = query.where(InvocationRow.alias == filters.alias)
    if filters.cold_start is not None:
        query = query.where(InvocationRow.cold_start == filters.cold_start)
    if filters.since is not None:
        query = query.where(InvocationRow.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(InvocationRow.created_at < filters.until)
    return query


# The tables themselves, for Core inserts (see `add_finished`).
_INVOCATIONS = cast(Table, InvocationRow.__table__)
_INVOCATION_LOGS = cast(Table, InvocationLogRow.__table__)
_RECORD_COLUMNS = [c.name for c in _INVOCATIONS.columns if c.name != "id"]


class InvocationRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        # ON CONFLICT is spelled alike on both, but each dialect has its own construct.
        dialect = self.session.get_bind().dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)

    async def add_finished(self, records: Sequence[tuple[Invocation, str | None, str]]) -> None:
        """Insert finished invocations: (record, result as JSON text, whole logs).

        A `running` row of the same call is replaced; a finished one is kept, so writing a
        record twice (a journal replayed after a crash) changes nothing. Core executemany
        statements, not the mapped classes: this runs for every invocation, and the ORM's
        bulk path costs several times more per row on the server's one event loop.
        """
        if not records:
            return
        rows = [_values(invocation, result_json) for invocation, result_json, _ in records]
        logs = [
            {"invocation_id": invocation.id, "text": text}
            for invocation, _, text in records
            if text
        ]
        upsert = self._insert(_INVOCATIONS)
        upsert = upsert.on_conflict_do_update(
            index_elements=["id"],
            set_={name: upsert.excluded[name] for name in _RECORD_COLUMNS},
            where=InvocationRow.state == InvocationState.RUNNING.value,
        )
        await self.session.execute(upsert, rows)
        if logs:
            insert_logs = self._insert(_INVOCATION_LOGS).on_conflict_do_nothing()
            await self.session.execute(insert_logs, logs)

    async def add_running(self, starts: Sequence[InvocationStart]) -> None:
        """Rows in state `running` for calls in flight, unless a row of theirs exists."""
        if starts:
            insert = self._insert(_INVOCATIONS).on_conflict_do_nothing()
            await self.session.execute(insert, [_running_values(start) for start in starts])

    async def drop_running(self, invocation_ids: Sequence[str]) -> None:
        """Remove the `running` rows of calls that were refused before they ran."""
        if invocation_ids:
            await self.session.execute(
                delete(InvocationRow).where(
                    InvocationRow.id.in_(invocation_ids),
                    InvocationRow.state == InvocationState.RUNNING.value,
                )
            )

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
        return invocation_of(row)

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
        after: str | None = None,
        function_names: Collection[str] | None = None,
        filters: InvocationFilters | None = None,
    ) -> InvocationPage:
        """Newest first, older than `cursor`; or with `after`, oldest first, newer than it.
        `function_names`, when given, keeps only calls of those functions (a limited key's)."""
        if function_id is not None and not can_match(function_id):
            return InvocationPage(items=[], next_cursor=None)
        query = select(InvocationRow).where(InvocationRow.namespace_id == namespace_id)
        if function_name is not None:
            query = query.where(InvocationRow.function_name == function_name)
        if function_id is not None:
            query = query.where(InvocationRow.function_id == function_id)
        if function_names is not None:
            query = query.where(InvocationRow.function_name.in_(sorted(function_names)))
        if state is not None:
            query = query.where(InvocationRow.state == state.value)
        if filters is not None:
            query = _filtered(query, filters)
        if after is not None:
            query = query.where(InvocationRow.id > after).order_by(InvocationRow.id.asc())
        else:
            if cursor is not None:
                query = query.where(InvocationRow.id < cursor)
            query = query.order_by(InvocationRow.id.desc())
        rows = list(await self.session.scalars(query.limit(limit + 1)))
        more = len(rows) > limit
        items = [invocation_of(row) for row in rows[:limit]]
        return InvocationPage(items=items, next_cursor=items[-1].id if more and items else None)
