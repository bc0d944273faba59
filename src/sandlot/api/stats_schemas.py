"""Response shapes of the functions table's numbers (GET /function-stats)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from sandlot.domain.function_stats import FunctionStats, NamespaceStats, StatsWindow


class FunctionStatsOut(BaseModel):
    name: str
    last_invocation_at: datetime | None = Field(
        description="When its newest call was accepted, ever (not only in the window); "
        "null: never called"
    )
    invocations: int = Field(description="Calls accepted in the window")
    errors: int = Field(
        description="Of those, the ones that ended failed, timed_out, out_of_memory, "
        "cancelled or dead"
    )
    error_rate: float = Field(description="errors / invocations; 0 when none")
    p50_ms: float | None = Field(
        description="Nearest-rank median duration in the window; null: none finished"
    )
    buckets: list[int] = Field(description="Calls per bucket, oldest first (12 of them)")

    @classmethod
    def of(cls, stats: FunctionStats) -> FunctionStatsOut:
        return cls(
            name=stats.name,
            last_invocation_at=stats.last_invocation_at,
            invocations=stats.invocations,
            errors=stats.errors,
            error_rate=stats.error_rate,
            p50_ms=stats.p50_ms,
            buckets=list(stats.buckets),
        )


class FunctionStatsList(BaseModel):
    window: StatsWindow
    bucket_seconds: int
    start: datetime
    end: datetime
    items: list[FunctionStatsOut] = Field(description="Every function of the namespace, by name")

    @classmethod
    def of(cls, stats: NamespaceStats) -> FunctionStatsList:
        return cls(
            window=stats.window,
            bucket_seconds=stats.range.size_seconds,
            start=stats.range.start,
            end=stats.range.end,
            items=[FunctionStatsOut.of(item) for item in stats.functions],
        )
