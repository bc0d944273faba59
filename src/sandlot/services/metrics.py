"""Prometheus metrics: one registry per app, so several apps (tests) never collide."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from sandlot.worker.interface import InvokeOutcome, PoolStats

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1, 2.5, 5, 10, 30, 60, 300, 900,
)  # fmt: skip


PHASES = ("queue", "start", "zygote", "fork", "layers", "init", "handler")
# Parts of a cold start: starting the version's zygote (its first start only), forking from
# it, the per-instance sandbox layers, importing the handler.
_START_PARTS = ("zygote", "fork", "layers", "init")


class _PoolCollector(Collector):
    """Reads the pool's live numbers at scrape time instead of updating gauges per call."""

    def __init__(self, stats: Callable[[], PoolStats]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.stats()
        live = GaugeMetricFamily(
            "sandlot_instances", "Live function instances", labels=["function"]
        )
        for function, count in sorted(stats.per_function.items()):
            live.add_metric([function], count)
        yield live
        yield GaugeMetricFamily(
            "sandlot_instances_busy", "Instances running an invocation", value=stats.busy
        )
        yield GaugeMetricFamily(
            "sandlot_instances_memory_mb",
            "Memory reserved by live instances",
            value=stats.memory_mb,
        )
        yield GaugeMetricFamily(
            "sandlot_memory_charged_mb",
            "Memory charged against the worker's cap: instances, spares and zygotes",
            value=stats.charged_mb,
        )


@dataclass
class HttpStats:
    """What the HTTP server's connections did; plain counters, bumped by the protocol."""

    open_connections: int = 0
    refused_connections: int = 0
    header_timeouts: int = 0
    body_timeouts: int = 0


class _HttpCollector(Collector):
    def __init__(self, stats: HttpStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        stats = self.stats
        yield GaugeMetricFamily(
            "sandlot_http_connections", "Open HTTP connections", value=stats.open_connections
        )
        yield CounterMetricFamily(
            "sandlot_http_refused_connections",
            "Connections past the cap, answered 503 TooManyConnections",
            value=stats.refused_connections,
        )
        timeouts = CounterMetricFamily(
            "sandlot_http_timeouts",
            "Requests cut off because their headers or body came too slowly",
            labels=["phase"],
        )
        timeouts.add_metric(["headers"], stats.header_timeouts)
        timeouts.add_metric(["body"], stats.body_timeouts)
        yield timeouts


class _EgressCollector(Collector):
    """The kernel's counts of denied connection attempts, read at scrape time."""

    def __init__(self, denied: Callable[[], dict[tuple[str, str], int]]) -> None:
        self.denied = denied

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "sandlot_egress_denied",
            "Connection attempts (packets) a function's egress policy denied",
            labels=["namespace", "function"],
        )
        for (namespace, function), count in sorted(self.denied().items()):
            family.add_metric([namespace, function], count)
        yield family


class Metrics:
    def __init__(
        self,
        pool_stats: Callable[[], PoolStats],
        egress_denied: Callable[[], dict[tuple[str, str], int]] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        if egress_denied is not None:
            self.registry.register(_EgressCollector(egress_denied))
        self.invocations = Counter(
            "sandlot_invocations",
            "Invocations by function and outcome",
            ["function", "outcome"],
            registry=self.registry,
        )
        self.cold_starts = Counter(
            "sandlot_cold_starts",
            "Invocations that started an instance",
            ["function"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "sandlot_invocation_duration_seconds",
            "Whole invocation time as the server saw it",
            ["function"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.phase = Histogram(
            "sandlot_invocation_phase_seconds",
            "Time in each phase of an invocation (zygote, fork, layers, init: parts of start)",
            ["phase"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_PoolCollector(pool_stats))
        self.http = HttpStats()
        self.registry.register(_HttpCollector(self.http))
        self.auth_failures = Counter(
            "sandlot_auth_failures",
            "Requests refused for their credentials: missing, malformed or unknown",
            ["reason"],
            registry=self.registry,
        )
        self.auth_rate_limited = Counter(
            "sandlot_auth_rate_limited",
            "Requests refused with 429 because their address presented too many wrong keys",
            registry=self.registry,
        )
        self.quota_refusals = Counter(
            "sandlot_quota_refusals",
            "Calls refused because their namespace was at a quota (rate, concurrency, memory)",
            ["namespace", "quota"],
            registry=self.registry,
        )

        self._phases = {name: self.phase.labels(name) for name in PHASES}
        # Each function's children, so that a call looks them up in one dict: `labels()`
        # takes a lock and builds a key on every use, and no child is ever removed.
        self._calls: dict[tuple[str, str], Counter] = {}
        self._durations: dict[str, Histogram] = {}

    def observe(self, function: str, outcome: InvokeOutcome) -> None:
        # Labelled children are looked up once per call; this runs on every invocation.
        key = (function, outcome.state.value)
        calls = self._calls.get(key)
        if calls is None:
            calls = self._calls[key] = self.invocations.labels(*key)
        calls.inc()
        timings = outcome.timings
        duration = self._durations.get(function)
        if duration is None:
            duration = self._durations[function] = self.duration.labels(function)
        duration.observe(timings.total_ms / 1000)
        phases = self._phases
        phases["queue"].observe(timings.queue_ms / 1000)
        phases["handler"].observe(timings.handler_ms / 1000)
        if outcome.cold_start:
            self.cold_starts.labels(function).inc()
            phases["start"].observe(timings.start_ms / 1000)
            for part in _START_PARTS:
                milliseconds = getattr(timings, f"{part}_ms")
                if milliseconds:
                    phases[part].observe(milliseconds / 1000)
