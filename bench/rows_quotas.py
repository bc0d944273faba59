"""What quotas cost a warm call: the same server and function, with the namespace's
concurrency, rate and memory quotas set (every check runs; the rate bucket never runs dry)
and with no limits at all (the server's defaults are "none"), measured in turns.

The limits are switched through `PUT /api/v1/namespaces/default/quota` between turns, so
that both sides run the very same process, function and instance.
"""

from __future__ import annotations

from bench import loads, sandlot_api
from bench.context import Bench
from bench.loads import LoadResult
from bench.results import Row, Target
from bench.rows_warm import _merge
from bench.workload import WORKLOADS

TRIVIAL = WORKLOADS["trivial"]
QUOTAS = ("functions", "memory_mb", "concurrency", "rate_per_minute", "code_mb", "env_kb")
NO_DEFAULTS = {f"SANDLOT_QUOTA_{name.upper()}": "none" for name in QUOTAS}
# High enough never to refuse a call of the bench, low enough that every check runs.
ON = {
    "functions": 1000,
    "memory_mb": 1_000_000,
    "concurrency": 1000,
    "rate_per_minute": 2**31 - 1,
    "code_mb": 100_000,
    "env_kb": 100_000,
}
OFF: dict[str, int | None] = dict.fromkeys(QUOTAS)


def measure(bench: Bench) -> list[Row]:
    counts = bench.counts
    p50_row = Row("warm: p50 latency, quotas on vs off (1 connection)", "ms", Target("<=", 1.05))
    rps_row = Row(
        f"warm: throughput, quotas on vs off ({counts.connections} connections)",
        "req/s",
        Target(">=", 0.95),
    )
    rows = [p50_row, rps_row]
    server = bench.sandlot("quotas", NO_DEFAULTS)
    why = bench.runnable(server, TRIVIAL)
    if why is not None:
        for row in rows:
            row.notes.append(why)
        return rows
    path = loads.invoke_path(TRIVIAL.function_name)
    single: dict[str, list[LoadResult]] = {"on": [], "off": []}
    multi: dict[str, list[LoadResult]] = {"on": [], "off": []}
    turns = 4
    with sandlot_api.client(server.url) as http:
        for turn in range(turns):
            sides = [("on", ON), ("off", OFF)]
            for label, limits in sides if turn % 2 == 0 else sides[::-1]:  # neither always first
                answer = http.put(f"{sandlot_api.API}/namespaces/default/quota", json=limits)
                answer.raise_for_status()
                single[label].append(
                    loads.closed(server.port, path, TRIVIAL.event_json, connections=1,
                                 auth=True, requests=counts.warm_requests // turns,
                                 seconds=counts.warm_seconds / turns)
                )  # fmt: skip
                multi[label].append(
                    loads.closed(server.port, path, TRIVIAL.event_json,
                                 connections=counts.connections, auth=True,
                                 requests=counts.warm_requests * 4 // turns,
                                 seconds=counts.warm_seconds / turns)
                )  # fmt: skip
    s_on, s_off = _merge(single["on"]), _merge(single["off"])
    m_on, m_off = _merge(multi["on"]), _merge(multi["off"])
    baseline = "the same server and function, no limits"
    p50_row.measured, p50_row.baseline, p50_row.baseline_name = s_on.p50, s_off.p50, baseline
    p50_row.notes.append(f"{len(s_on.latencies_ms)} vs {len(s_off.latencies_ms)} calls")
    rps_row.measured, rps_row.baseline, rps_row.baseline_name = m_on.rps, m_off.rps, baseline
    for row, on, off in ((p50_row, s_on, s_off), (rps_row, m_on, m_off)):
        row.notes += on.problems() + [f"baseline: {p}" for p in off.problems()]
    return rows
