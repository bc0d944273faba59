"""Bucketed metrics of one function, for the console's charts and `sandlot metrics`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import InvalidInput
from sandlot.domain.metrics import FunctionMetrics, MetricsWindow, bucket_range
from sandlot.domain.models import Principal
from sandlot.services.authz import authorize_function
from sandlot.services.recorder import InvocationRecorder
from sandlot.storage.function_metrics import FunctionMetricsRepo
from sandlot.storage.functions import FunctionRepo

_EARLIEST = datetime(1970, 1, 8, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


async def function_metrics(
    *,
    session: AsyncSession,
    recorder: InvocationRecorder,
    principal: Principal,
    name: str,
    window: MetricsWindow,
    until: datetime | None = None,
) -> FunctionMetrics:
    """Every bucket of the window ending at `until` (default now), empty ones included, so
    a chart is continuous. Buckets go by when a call was accepted (`created_at`)."""
    authorize_function(principal, Action.FUNCTION_READ, name)
    if until is not None and until.tzinfo is None:
        raise InvalidInput("'until' needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    if until is not None and not _EARLIEST <= until <= _LATEST:
        # Past these, a window's edges leave what datetimes (and the databases) can hold.
        raise InvalidInput("'until' must be between the years 1970 and 9000")
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    await flush_recorded(recorder)
    buckets = bucket_range(window, until or datetime.now(UTC))
    rows = await FunctionMetricsRepo(session).buckets(function.id, buckets)
    return FunctionMetrics(function=name, window=window, range=buckets, buckets=tuple(rows))


async def flush_recorded(recorder: InvocationRecorder) -> None:
    """Calls just answered are still buffered; write them first so a chart shows them. A
    database that cannot take them (a full disk) still answers with what it has."""
    try:
        await recorder.run_once()
    except Exception:  # the records stay buffered and journaled; /readyz names the problem
        return
