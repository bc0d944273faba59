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
    server_ms: list[float]  # X-Sandlot-Duration-Ms of the 200 answers that sent it
    cold_phases: list[dict[str, float]]  # Server-Timing of cold answers
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

    def server_note(self) -> str:
        """How much of the client's p50 the server itself accounts for (the rest is HTTP,
        routing, auth and the client), and where a cold start's time went."""
        parts: list[str] = []
        server = stats.p50(self.server_ms)
        if server is not None and self.p50 is not None:
            parts.append(f"server-reported p50 {server:.3f} of {self.p50:.3f} ms")
        if self.cold_phases:
            medians = {
                name: stats.p50([p.get(name, 0.0) for p in self.cold_phases])
                for name in ("queue", "start", "init", "handler")
            }
            parts.append(
                "cold phases p50: " + ", ".join(f"{k} {v:.2f}" for k, v in medians.items() if v)
            )
        return "; ".join(parts)

    def problems(self) -> list[str]:
        """Anything that was not a plain 200, for a row's notes."""
        out = [f"{n} answers with status {s}" for s, n in self.statuses.items() if s != "200"]
        return [*out, f"client errors: {self.errors[:2]}"] if self.errors else out


def to_result(samples: dict[str, Any]) -> LoadResult:
    ok = [
        (us / 1000.0, cold, server)
        for us, cold, status, server in zip(
            samples["latencies_us"],
            samples["cold"],
            samples["status"],
            samples["server_ms"],
            strict=True,
        )
        if status == 200
    ]
    elapsed = float(samples["elapsed_s"]) or 1e-9
    return LoadResult(
        latencies_ms=[ms for ms, _, _ in ok],
        cold_ms=[ms for ms, cold, _ in ok if cold],
        server_ms=[server for _, _, server in ok if server >= 0],
        cold_phases=samples["cold_phases"],
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
    think_s: float = 0.0,
) -> LoadResult:
    spec = Spec(
        host="127.0.0.1", port=port, path=path, body=body, headers=AUTH if auth else {},
        connections=connections, requests=requests, seconds=seconds, warmup=warmup,
        paths=paths or [], think_s=think_s,
    )  # fmt: skip
    return to_result(run_load(spec))
