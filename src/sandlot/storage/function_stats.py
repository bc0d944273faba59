"""The functions table's numbers for many functions in three queries, on both databases.

The same shapes as a function's metrics (storage/function_metrics.py), with the function as
one more grouping column: per-bucket counts by the edges join (each (function, bucket) is one
range of the index on (function_id, created_at, …)); the window's p50 by nearest rank from
ROW_NUMBER() and COUNT() windows partitioned by function; and each function's last call by a
correlated MAX(created_at), which both databases answer from the end of that index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from sandlot.domain.metrics import ERROR_STATES, BucketRange
from sandlot.storage.function_metrics import _edges
from sandlot.storage.tables import FunctionRow, InvocationRow

# Ids per statement: far below what either database accepts as bound parameters.
CHUNK = 500


class FunctionStatsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bucket_counts(
        self, function_ids: Sequence[str], buckets: BucketRange
    ) -> dict[str, dict[int, tuple[int, int]]]:
        """function id → bucket index → (invocations, errors), buckets with calls only."""
        found: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
        for ids in _chunks(function_ids):
            edges = _edges(buckets)
            row = InvocationRow
            on = and_(
                row.function_id.in_(ids),
                row.created_at >= edges.c.lo,
                row.created_at < edges.c.hi,
                *self._window_constants(buckets),
            )
            failed = func.sum(case((row.state.in_(ERROR_STATES), 1), else_=0))
            query = (
                select(row.function_id, edges.c.i, func.count(), failed)
                .select_from(edges)
                .join(row, on)
                .group_by(row.function_id, edges.c.i)
            )
            for function_id, index, calls, errors in await self.session.execute(query):
                found[function_id][int(index)] = (int(calls), int(errors or 0))
        return found

    async def medians(self, function_ids: Sequence[str], buckets: BucketRange) -> dict[str, float]:
        """function id → nearest-rank p50 of the durations in the window (finished calls)."""
        found: dict[str, float] = {}
        ms = InvocationRow.duration_ms
        for ids in _chunks(function_ids):
            window: dict[str, Any] = {
                "partition_by": InvocationRow.function_id,
                "order_by": ms.asc().nulls_last(),
            }
            ranked = (
                select(
                    InvocationRow.function_id,
                    ms.label("ms"),
                    func.row_number().over(**window).label("rn"),
                    func.count(ms).over(**window, rows=(None, None)).label("n"),
                )
                .where(
                    InvocationRow.function_id.in_(ids),
                    InvocationRow.created_at >= buckets.start,
                    InvocationRow.created_at < buckets.end,
                )
                .subquery()
            )
            # ceil(n / 2) in integers, as the metrics' percentiles: both databases agree.
            query = select(ranked.c.function_id, ranked.c.ms).where(
                ranked.c.n > 0, ranked.c.rn == (ranked.c.n * 50 + 99) // 100
            )
            for function_id, value in await self.session.execute(query):
                found[function_id] = float(value)
        return found

    async def last_calls(self, function_ids: Sequence[str]) -> dict[str, datetime]:
        """function id → when its newest call was accepted, for those ever called."""
        found: dict[str, datetime] = {}
        for ids in _chunks(function_ids):
            newest = (
                select(func.max(InvocationRow.created_at))
                .where(InvocationRow.function_id == FunctionRow.id)
                .scalar_subquery()
            )
            query = select(FunctionRow.id, newest).where(FunctionRow.id.in_(ids))
            for function_id, at in await self.session.execute(query):
                if at is not None:
                    found[function_id] = at
        return found

    def _window_constants(self, buckets: BucketRange) -> list[ColumnElement[bool]]:
        # As in the metrics: PostgreSQL's planner cannot see into the edges' VALUES and needs
        # the whole window as constants; SQLite would then loop the wrong way round.
        if self.session.get_bind().dialect.name != "postgresql":
            return []
        return [
            InvocationRow.created_at >= buckets.start,
            InvocationRow.created_at < buckets.end,
        ]


def _chunks(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[first : first + CHUNK] for first in range(0, len(ids), CHUNK)]
