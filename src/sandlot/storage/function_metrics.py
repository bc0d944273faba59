"""Per-bucket aggregates of one function's invocations, computed in SQL on both databases.

Percentiles are nearest-rank (the smallest duration with at least p% of the bucket's
durations at or below it), from ROW_NUMBER() and COUNT() windows partitioned by bucket:
the same exact answer on SQLite, which has no percentile function, and on PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Integer, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from sandlot.domain.metrics import ERROR_STATES, BucketRange, ErrorCount, MetricsBucket
from sandlot.storage.tables import InvocationRow

PERCENTILES = (50, 95, 99)


def _bucket_index(dialect: str, buckets: BucketRange) -> ColumnElement[Any]:
    """Which bucket a row's created_at falls in, 0 for the first. Whole epoch seconds are
    enough: bucket edges are whole minutes."""
    created = InvocationRow.created_at
    if dialect == "postgresql":
        seconds = func.floor(func.extract("epoch", created))
    else:
        # SQLite keeps the datetime as ISO text; strftime('%s') reads its whole seconds.
        seconds = func.strftime("%s", created)
    offset = cast(seconds, Integer) - literal(buckets.start_epoch, Integer)
    return (offset // literal(buckets.size_seconds, Integer)).label("bucket")


class FunctionMetricsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _rows(self, namespace_id: str, function_id: str, buckets: BucketRange) -> Any:
        dialect = self.session.get_bind().dialect.name
        # The range on created_at, next to function_id, is what ix_invocations_function_created
        # serves: a chart reads only its window's rows, however long the history.
        return select(_bucket_index(dialect, buckets)).where(
            InvocationRow.function_id == function_id,
            InvocationRow.namespace_id == namespace_id,
            InvocationRow.created_at >= buckets.start,
            InvocationRow.created_at < buckets.end,
        )

    async def buckets(
        self, namespace_id: str, function_id: str, buckets: BucketRange
    ) -> list[MetricsBucket]:
        rows = self._rows(namespace_id, function_id, buckets)
        counts = await self._counts(rows)
        errors = await self._errors(rows)
        percentiles = await self._percentiles(rows)
        out = []
        for index in range(buckets.count):
            invocations, cold = counts.get(index, (0, 0))
            kinds = tuple(errors.get(index, ()))
            p50, p95, p99 = percentiles.get(index, (None, None, None))
            out.append(
                MetricsBucket(
                    start=buckets.start + buckets.size * index,
                    invocations=invocations,
                    errors=sum(kind.count for kind in kinds),
                    errors_by_kind=kinds,
                    cold_starts=cold,
                    p50_ms=p50,
                    p95_ms=p95,
                    p99_ms=p99,
                )
            )
        return out

    async def _counts(self, rows: Any) -> dict[int, tuple[int, int]]:
        cold = func.sum(cast(InvocationRow.cold_start, Integer))
        query = rows.add_columns(func.count(), cold).group_by(_bucket_of(rows))
        result = await self.session.execute(query)
        return {int(b): (int(n), int(c or 0)) for b, n, c in result}

    async def _errors(self, rows: Any) -> dict[int, list[ErrorCount]]:
        kind = func.coalesce(InvocationRow.error["kind"].as_string(), "")
        query = (
            rows.add_columns(InvocationRow.state, kind.label("kind"), func.count())
            .where(InvocationRow.state.in_(ERROR_STATES))
            .group_by(_bucket_of(rows), InvocationRow.state, kind)
            .order_by(_bucket_of(rows), InvocationRow.state, kind)
        )
        found: dict[int, list[ErrorCount]] = defaultdict(list)
        for b, state, name, n in await self.session.execute(query):
            found[int(b)].append(ErrorCount(state=state, kind=name, count=int(n)))
        return found

    async def _percentiles(self, rows: Any) -> dict[int, tuple[float | None, ...]]:
        bucket = _bucket_of(rows)
        ranked = (
            rows.add_columns(
                InvocationRow.duration_ms.label("ms"),
                func.row_number()
                .over(partition_by=bucket, order_by=InvocationRow.duration_ms)
                .label("rn"),
                func.count().over(partition_by=bucket).label("n"),
            )
            .where(InvocationRow.duration_ms.is_not(None))
            .subquery()
        )
        picks = [
            # ceil(p * n / 100) in integers, so both databases agree to the row.
            func.max(_when(ranked.c.rn == (ranked.c.n * p + 99) // 100, ranked.c.ms))
            for p in PERCENTILES
        ]
        query = select(ranked.c.bucket, *picks).group_by(ranked.c.bucket)
        result = await self.session.execute(query)
        return {int(row[0]): tuple(row[1:]) for row in result}


def _bucket_of(rows: Any) -> ColumnElement[Any]:
    """The bucket expression of `rows` (its first column), for GROUP BY and PARTITION BY."""
    column: ColumnElement[Any] = rows.selected_columns[0]
    return column


def _when(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((condition, value))
