"""Response shapes of a function's bucketed metrics."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from sandlot.domain.metrics import FunctionMetrics, MetricsBucket, MetricsWindow


class ErrorCountOut(BaseModel):
    state: str = Field(description="failed, timed_out, out_of_memory, cancelled or dead")
    kind: str = Field(description="The error's name (FunctionError, FunctionTimedOut…); '' if none")
    count: int


class MetricsBucketOut(BaseModel):
    start: datetime = Field(
        description="The bucket holds calls accepted in [start, start + bucket)"
    )
    invocations: int
    errors: int
    errors_by_kind: list[ErrorCountOut]
    cold_starts: int
    cold_start_share: float = Field(description="cold_starts / invocations; 0 when none")
    p50_ms: float | None = Field(description="Nearest-rank percentile; null: none finished")
    p95_ms: float | None
    p99_ms: float | None
    peak_concurrency: int = Field(
        description="The most calls running at once in the bucket (from their start and end)"
    )

    @classmethod
    def of(cls, bucket: MetricsBucket) -> MetricsBucketOut:
        return cls(
            start=bucket.start,
            invocations=bucket.invocations,
            errors=bucket.errors,
            errors_by_kind=[
                ErrorCountOut(state=e.state, kind=e.kind, count=e.count)
                for e in bucket.errors_by_kind
            ],
            cold_starts=bucket.cold_starts,
            cold_start_share=bucket.cold_start_share,
            p50_ms=bucket.p50_ms,
            p95_ms=bucket.p95_ms,
            p99_ms=bucket.p99_ms,
            peak_concurrency=bucket.peak_concurrency,
        )


class FunctionMetricsOut(BaseModel):
    function: str
    window: MetricsWindow
    bucket_seconds: int
    start: datetime
    end: datetime
    buckets: list[MetricsBucketOut] = Field(
        description="Every bucket, oldest first, empty ones too"
    )

    @classmethod
    def of(cls, metrics: FunctionMetrics) -> FunctionMetricsOut:
        return cls(
            function=metrics.function,
            window=metrics.window,
            bucket_seconds=metrics.range.size_seconds,
            start=metrics.range.start,
            end=metrics.range.end,
            buckets=[MetricsBucketOut.of(bucket) for bucket in metrics.buckets],
        )
