"""Load runs shaped for the rows: latency at one connection, throughput at N, cold calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench import stats
from bench.loadgen import Spec
from bench.procs import run_load
from bench.sandlot_server import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def invoke_path(function_name: str) -> str:
    return f"/api/v1/functions/{function_name}/invoke"


@dataclass(frozen=True)
class LoadResult:
    latencies_ms: list[float]  # answered 200
    cold_ms: list[float]  # answered 200 with X-Sandlot-Cold-Start: true
    rps: float
    elapsed_s: float
    statuses: dict[str, int]
    errors: list[str]

    @property
    def p50(self) -> float | None:
        return stats.p50(self.latencies_ms)

    @property
    def p99(self) -> float | None:
        return stats.p99(self.latencies_ms)

    def problems(self) -> list[str]:
        """Anything that was not a plain 200, for a row's notes."""
        out = [f"{n} answers with status {s}" for s, n in self.statuses.items() if s != "200"]
        return [*out, f"client errors: {self.errors[:2]}"] if self.errors else out


def to_result(samples: dict[str, Any]) -> LoadResult:
    ok = [
        (us / 1000.0, cold)
        for us, cold, status in zip(
            samples["latencies_us"], samples["cold"], samples["status"], strict=True
        )
        if status == 200
    ]
    elapsed = float(samples["elapsed_s"]) or 1e-9
    return LoadResult(
        latencies_ms=[ms for ms, _ in ok],
        cold_ms=[ms for ms, cold in ok if cold],
        rps=len(ok) / elapsed,
        elapsed_s=elapsed,
        statuses=samples["statuses"],
        errors=samples["errors"],
    )


def closed(
    port: int,
    path: str,
    body: str,
    *,
    connections: int,
    requests: int,
    seconds: float,
    warmup: int = 20,
    auth: bool = False,
    paths: list[str] | None = None,
) -> LoadResult:
    spec = Spec(
        host="127.0.0.1", port=port, path=path, body=body, headers=AUTH if auth else {},
        connections=connections, requests=requests, seconds=seconds, warmup=warmup,
        paths=paths or [],
    )  # fmt: skip
    return to_result(run_load(spec))
