"""Sandboxed cold starts per second, with concurrent callers on both cores.

Baseline, for scale: fresh `python -I -S` processes per second with as many parallel
spawners, running the same trivial handler.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from bench import loads
from bench.baselines import fresh_python
from bench.cold import ANCHOR_TIMEOUT_S, Anchors, cold_method, delete_functions
from bench.context import Bench
from bench.results import Row, Target
from bench.workload import WORKLOADS

TRIVIAL = WORKLOADS["trivial"]


def _fresh_rate(parallel: int, seconds: float) -> float:
    deadline = time.monotonic() + seconds

    def spawner() -> int:
        done = 0
        while time.monotonic() < deadline:
            done += len(fresh_python.per_call(TRIVIAL, None, 1))
        return done

    started = time.monotonic()
    with ThreadPoolExecutor(parallel) as pool:
        total = sum(pool.map(lambda _: spawner(), range(parallel)))
    return total / (time.monotonic() - started)


def measure(bench: Bench) -> list[Row]:
    counts = bench.counts
    callers = counts.rate_connections
    row = Row(
        f"cold starts per second, trivial ({callers} callers)", "starts/s",
        Target(">=", 300.0, "measured"),
    )  # fmt: skip
    method = cold_method(callers)
    row.notes.append(f"method: {method.description}")
    bench.say("fresh python processes per second (baseline)")
    row.baseline = _fresh_rate(callers, counts.rate_seconds)
    row.baseline_name = f"fresh python/s, {callers} spawners"
    server = bench.sandlot("rate", method.env)
    names = [f"{TRIVIAL.function_name}-r{i}" for i in range(method.copies)]
    for function_name in names:
        why = bench.runnable(server, TRIVIAL, function_name, ANCHOR_TIMEOUT_S)
        if why is not None:
            delete_functions(server, names)
            row.notes.append(why)
            return [row]
    bench.say("Sandlot cold starts per second")
    with Anchors(server, names, method.anchored):
        result = loads.closed(
            server.port, "", TRIVIAL.event_json, connections=callers, auth=True,
            requests=1_000_000, seconds=counts.rate_seconds, warmup=1,
            paths=[loads.invoke_path(n) for n in names],
        )  # fmt: skip
    row.measured = len(result.cold_ms) / result.elapsed_s
    row.notes.append(
        f"{len(result.cold_ms)} cold of {len(result.latencies_ms)} calls in "
        f"{result.elapsed_s:.1f}s; cold p50 {_p50(result.cold_ms)} ms under this load"
    )
    row.notes += result.problems()
    return [row]


def _p50(values: list[float]) -> str:
    from bench.stats import p50

    value = p50(values)
    return "-" if value is None else f"{value:.1f}"
