"""The functions table's numbers: every function of the namespace (that the caller may see)
over a recent window, in one request."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import InvalidInput
from sandlot.domain.function_stats import FunctionStats, NamespaceStats, StatsWindow, stats_range
from sandlot.domain.models import Principal
from sandlot.services.authz import authorize, in_scope
from sandlot.services.function_metrics import flush_recorded
from sandlot.services.recorder import InvocationRecorder
from sandlot.storage.function_stats import FunctionStatsRepo
from sandlot.storage.functions import FunctionRepo

_EARLIEST = datetime(1970, 1, 8, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


async def namespace_stats(
    *,
    session: AsyncSession,
    recorder: InvocationRecorder,
    principal: Principal,
    window: StatsWindow,
    until: datetime | None = None,
) -> NamespaceStats:
    """Per function, by name: its last call, and over the window its calls, errors, p50 and
    calls per bucket. Buckets go by when a call was accepted, as in a function's metrics."""
    authorize(principal, Action.FUNCTION_READ)
    if until is not None and until.tzinfo is None:
        raise InvalidInput("'until' needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    if until is not None and not _EARLIEST <= until <= _LATEST:
        raise InvalidInput("'until' must be between the years 1970 and 9000")
    functions = [
        function
        for function in await FunctionRepo(session).in_namespace(principal.namespace_id)
        if in_scope(principal, function.name)
    ]
    await flush_recorded(recorder)
    buckets = stats_range(window, until or datetime.now(UTC))
    ids = [function.id for function in functions]
    repo = FunctionStatsRepo(session)
    counts = await repo.bucket_counts(ids, buckets)
    medians = await repo.medians(ids, buckets)
    last = await repo.last_calls(ids)
    out = []
    for function in sorted(functions, key=lambda f: f.name):
        per_bucket = counts.get(function.id, {})
        calls = [per_bucket.get(index, (0, 0)) for index in range(buckets.count)]
        out.append(
            FunctionStats(
                name=function.name,
                last_invocation_at=last.get(function.id),
                invocations=sum(n for n, _ in calls),
                errors=sum(e for _, e in calls),
                p50_ms=medians.get(function.id),
                buckets=tuple(n for n, _ in calls),
            )
        )
    return NamespaceStats(window=window, range=buckets, functions=tuple(out))
