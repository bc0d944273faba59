"""Per-bucket aggregates of one function's invocations, computed in SQL on both databases.

The buckets are a VALUES list of their edges joined to the invocations on
`created_at >= lo AND created_at < hi`: each bucket is then one range of the index on
(function_id, created_at, …), and no row's timestamp is parsed or divided (on SQLite, where
timestamps are text, that parsing cost more than everything else).

Percentiles are nearest-rank (the smallest duration with at least p% of the bucket's
durations at or below it), from ROW_NUMBER() and COUNT() windows partitioned by bucket:
the same exact answer on SQLite, which has no percentile function, and on PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    union_all,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE

from sandlot.domain.metrics import (
    ERROR_STATES,
    RUNNING_LOOKBACK,
    BucketRange,
    ErrorCount,
    MetricsBucket,
)
from sandlot.storage.tables import InvocationRow, UtcDateTime

PERCENTILES = (50, 95, 99)


def _edges(buckets: BucketRange) -> CTE:
    data = [
        (index, buckets.start + buckets.size * index, buckets.start + buckets.size * (index + 1))
        for index in range(buckets.count)
    ]
    return (
        values(
            column("i", Integer),
            column("lo", UtcDateTime()),
            column("hi", UtcDateTime()),
            name="edges",
        )
        .data(data)
        .cte("edges")
    )  # WITH edges(i, lo, hi) AS (VALUES …): SQLite has no other form


def _in_buckets(
    dialect: str, edges: CTE, buckets: BucketRange, function_id: str, *columns: Any
) -> Select[Any]:
    """Rows of the function with the index of their bucket. By function_id alone: it is unique
    across namespaces (a UUID), the caller has resolved it within the principal's namespace,
    and a namespace_id test would cost a table read per row that the index would not serve."""
    on = and_(
        InvocationRow.function_id == function_id,
        InvocationRow.created_at >= edges.c.lo,
        InvocationRow.created_at < edges.c.hi,
    )
    if dialect == "postgresql":
        # The whole window as constants too: PostgreSQL's planner cannot see into the edges,
        # and without these it guessed a third of the table and scanned all of it. Not on
        # SQLite, which would then loop over the rows outside and the edges inside.
        on = and_(on, InvocationRow.created_at >= buckets.start)
        on = and_(on, InvocationRow.created_at < buckets.end)
    return select(edges.c.i, *columns).select_from(edges).join(InvocationRow, on)


class FunctionMetricsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def buckets(self, function_id: str, buckets: BucketRange) -> list[MetricsBucket]:
        edges = _edges(buckets)
        counts = await self._counts_and_percentiles(edges, buckets, function_id)
        errors = await self._errors(edges, buckets, function_id)
        peaks = await self._peaks(edges, function_id, buckets)
        out = []
        for index in range(buckets.count):
            invocations, cold, p50, p95, p99 = counts.get(index, (0, 0, None, None, None))
            kinds = tuple(errors.get(index, ()))
            out.append(
                MetricsBucket(
                    start=buckets.start + buckets.size * index,
                    invocations=int(invocations or 0),
                    errors=sum(kind.count for kind in kinds),
                    errors_by_kind=kinds,
                    cold_starts=int(cold or 0),
                    p50_ms=p50,
                    p95_ms=p95,
                    p99_ms=p99,
                    peak_concurrency=peaks[index],
                )
            )
        return out

    async def _counts_and_percentiles(
        self, edges: CTE, buckets: BucketRange, function_id: str
    ) -> dict[int, tuple[Any, ...]]:
        """(invocations, cold starts, p50, p95, p99) per bucket that has calls.

        One sort per bucket: every window below has the same partition and order (durations
        ascending, NULLs last on both databases, so ranks 1…n are the n durations), and the
        counts take the whole partition as their frame. Only the rows at the wanted ranks
        (and each bucket's first, which carries the counts when nothing has finished) leave
        the subquery, so the final GROUP BY sees a few rows per bucket, not all of them.
        """
        ms = InvocationRow.duration_ms
        window: dict[str, Any] = {"partition_by": edges.c.i, "order_by": ms.asc().nulls_last()}
        whole = {**window, "rows": (None, None)}
        ranked = _in_buckets(
            self._dialect,
            edges,
            buckets,
            function_id,
            ms.label("ms"),
            func.row_number().over(**window).label("rn"),
            func.count(ms).over(**whole).label("n"),
            func.count().over(**whole).label("calls"),
            func.sum(cast(InvocationRow.cold_start, Integer)).over(**whole).label("cold"),
        ).subquery()
        # ceil(p * n / 100) in integers, so both databases agree to the row.
        ranks = {p: (ranked.c.n * p + 99) // 100 for p in PERCENTILES}
        picks = [func.max(case((ranked.c.rn == rank, ranked.c.ms))) for rank in ranks.values()]
        query = (
            select(ranked.c.i, func.max(ranked.c.calls), func.max(ranked.c.cold), *picks)
            .where(or_(ranked.c.rn == 1, *(ranked.c.rn == rank for rank in ranks.values())))
            .group_by(ranked.c.i)
        )
        result = await self.session.execute(query)
        return {int(row[0]): tuple(row[1:]) for row in result}

    async def _peaks(self, edges: CTE, function_id: str, buckets: BucketRange) -> list[int]:
        """The most calls running at once per bucket, by a sweep: +1 at each call's start, -1
        at its end (ends first at equal times: [start, end) intervals), a running sum in time
        order, and per bucket its highest level and its net change. A bucket without events
        keeps the level it started with, which is where the net changes come in. Events are
        put in buckets by arithmetic, not the edges join: their times come from two columns
        and only one of them is indexed."""
        row = InvocationRow
        calls = (
            select(row.created_at, row.finished_at)
            .where(
                row.function_id == function_id,
                row.created_at >= buckets.start - RUNNING_LOOKBACK,
                row.created_at < buckets.end,
                or_(row.finished_at.is_(None), row.finished_at > buckets.start),
            )
            .cte("calls")
        )
        events = union_all(
            select(calls.c.created_at.label("t"), literal(1, Integer).label("d")),
            select(calls.c.finished_at, literal(-1, Integer)).where(
                calls.c.finished_at.is_not(None), calls.c.finished_at < buckets.end
            ),
        ).subquery()
        level = func.sum(events.c.d).over(order_by=(events.c.t, events.c.d), rows=(None, 0))
        swept = select(events.c.t, events.c.d, level.label("level")).subquery()
        # Events before the window (bucket -1) only bring its starting level.
        bucket = case(
            (swept.c.t < buckets.start, -1),
            else_=(self._epoch(swept.c.t) - buckets.start_epoch) // buckets.size_seconds,
        ).label("bucket")
        query = select(bucket, func.max(swept.c.level), func.sum(swept.c.d)).group_by(bucket)
        per_bucket = {i: (top, net) for i, top, net in await self.session.execute(query)}
        running = int(per_bucket.pop(-1, (0, 0))[1] or 0)
        peaks = []
        for index in range(buckets.count):
            top, net = per_bucket.get(index, (None, 0))
            peaks.append(max(running, int(top)) if top is not None else running)
            running += int(net or 0)
        return peaks

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _epoch(self, at: Any) -> ColumnElement[int]:
        """Whole seconds since the epoch (bucket edges are whole minutes)."""
        if self._dialect == "postgresql":
            return cast(func.floor(func.extract("epoch", at)), Integer)
        return cast(func.strftime("%s", at), Integer)  # SQLite keeps datetimes as text

    async def _errors(
        self, edges: CTE, buckets: BucketRange, function_id: str
    ) -> dict[int, list[ErrorCount]]:
        kind = func.coalesce(InvocationRow.error["kind"].as_string(), "").label("kind")
        query = (
            _in_buckets(
                self._dialect, edges, buckets, function_id, InvocationRow.state, kind, func.count()
            )
            .where(InvocationRow.state.in_(ERROR_STATES))
            .group_by(edges.c.i, InvocationRow.state, kind)
            .order_by(edges.c.i, InvocationRow.state, kind)
        )
        found: dict[int, list[ErrorCount]] = defaultdict(list)
        for index, state, name, count in await self.session.execute(query):
            found[int(index)].append(ErrorCount(state=state, kind=name, count=int(count)))
        return found
