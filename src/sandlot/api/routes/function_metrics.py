"""A function's bucketed metrics (the console's Metrics tab, `sandlot metrics`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.metrics_schemas import FunctionMetricsOut
from sandlot.api.schemas import ErrorOut
from sandlot.api.stats_schemas import FunctionStatsList
from sandlot.domain.function_stats import StatsWindow
from sandlot.domain.metrics import MetricsWindow
from sandlot.services import function_metrics as service
from sandlot.services import function_stats

router = APIRouter(prefix="/functions", tags=["functions"])


@router.get(
    "/{name}/metrics",
    response_model=FunctionMetricsOut,
    responses={
        400: {
            "model": ErrorOut,
            "description": "InvalidInput: `until` without a time zone, or outside 1970 to 9000",
        },
        401: {"model": ErrorOut, "description": "Missing or wrong API key"},
        404: {"model": ErrorOut, "description": "FunctionNotFound (also another namespace's)"},
        422: {"model": ErrorOut, "description": "A window other than 1h, 24h, 7d"},
    },
    summary="Invocations, errors by kind, p50/p95/p99 duration and cold starts per time bucket",
    description="Buckets: 1h → 60 of 1 minute, 24h → 96 of 15 minutes, 7d → 84 of 2 hours, "
    "aligned to the epoch, the last one holding `until`. Empty buckets are listed with zeros.",
)
async def get_metrics(
    name: str,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    window: MetricsWindow = MetricsWindow.HOUR,
    until: Annotated[
        datetime | None,
        Query(description="The window ends with the bucket holding this time (default: now)"),
    ] = None,
) -> FunctionMetricsOut:
    metrics = await service.function_metrics(
        session=session,
        recorder=runtime.recorder,
        principal=principal,
        name=name,
        window=window,
        until=until,
    )
    return FunctionMetricsOut.of(metrics)


# Not under /functions: every name matching ^[a-z][a-z0-9-]*$ is a function's, "stats" too.
stats_router = APIRouter(tags=["functions"])


@stats_router.get(
    "/function-stats",
    response_model=FunctionStatsList,
    responses={
        400: {
            "model": ErrorOut,
            "description": "InvalidInput: `until` without a time zone, or outside 1970 to 9000",
        },
        401: {"model": ErrorOut, "description": "Missing or wrong API key"},
        403: {"model": ErrorOut, "description": "PermissionDenied"},
        404: {
            "model": ErrorOut,
            "description": "NamespaceNotFound: X-Sandlot-Namespace names one you cannot act in",
        },
        422: {"model": ErrorOut, "description": "A window other than 1h"},
    },
    summary="Every function's calls, errors, error rate, p50 and last call, for the "
    "functions table",
    description="One request for the whole namespace (for a key limited to some functions, "
    "those): 12 buckets of 5 minutes over the last hour, aligned to the "
    "epoch, the last one holding `until`. `last_invocation_at` is the newest call ever.",
)
async def get_function_stats(
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    window: StatsWindow = StatsWindow.HOUR,
    until: Annotated[
        datetime | None,
        Query(description="The window ends with the bucket holding this time (default: now)"),
    ] = None,
) -> FunctionStatsList:
    stats = await function_stats.namespace_stats(
        session=session,
        recorder=runtime.recorder,
        principal=principal,
        window=window,
        until=until,
    )
    return FunctionStatsList.of(stats)
