"""Warm invocation through HTTP against the bare FastAPI echo endpoint, and with the
invocation journal against the same server without it (`SANDLOT_JOURNAL=false`).

Every server is measured by the same load generator in the same run, interleaved (echo,
Sandlot, Sandlot without journal, and again) so that drift of a shared, noisy machine hits
them alike. p50 at one keep-alive connection; throughput at N connections.
"""

from __future__ import annotations

from bench import loads
from bench.context import Bench
from bench.loads import LoadResult
from bench.results import Row, Target
from bench.workload import WORKLOADS

TRIVIAL = WORKLOADS["trivial"]


def _merge(parts: list[LoadResult]) -> LoadResult:
    elapsed = sum(p.elapsed_s for p in parts)
    latencies = [ms for p in parts for ms in p.latencies_ms]
    statuses: dict[str, int] = {}
    for part in parts:
        for status, count in part.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return LoadResult(
        latencies_ms=latencies,
        cold_ms=[ms for p in parts for ms in p.cold_ms],
        server_ms=[ms for p in parts for ms in p.server_ms],
        cold_phases=[phase for p in parts for phase in p.cold_phases],
        rps=len(latencies) / elapsed if elapsed else 0.0,
        elapsed_s=elapsed,
        statuses=statuses,
        errors=[e for p in parts for e in p.errors],
    )


def measure(bench: Bench) -> list[Row]:
    counts = bench.counts
    p50_row = Row("warm: p50 latency, trivial (1 connection)", "ms", Target("<=", 1.3))
    rps_row = Row(
        f"warm: throughput, trivial ({counts.connections} connections)", "req/s", Target(">=", 1.0)
    )
    abs_row = Row("warm: p50 latency, absolute (for scale)", "ms", Target("<=", 0.5, "measured"))
    journal_p50 = Row(
        "warm: p50 latency, journal on vs off (1 connection)", "ms", Target("<=", 1.1)
    )
    journal_rps = Row(
        f"warm: throughput, journal on vs off ({counts.connections} connections)",
        "req/s",
        Target(">=", 0.9),
    )
    rows = [p50_row, rps_row, abs_row, journal_p50, journal_rps]
    server, bare = bench.warm(), bench.warm_without_journal()
    why = bench.runnable(server, TRIVIAL) or bench.runnable(bare, TRIVIAL)
    if why is not None:
        for row in rows:
            row.notes.append(why)
        return rows
    echo = bench.echo_server()
    body = TRIVIAL.event_json
    path = loads.invoke_path(TRIVIAL.function_name)
    targets = (
        ("echo", echo.port, "/echo", False),
        ("sandlot", server.port, path, True),
        ("no-journal", bare.port, path, True),
    )
    single: dict[str, list[LoadResult]] = {label: [] for label, *_ in targets}
    multi: dict[str, list[LoadResult]] = {label: [] for label, *_ in targets}
    halves = 2
    for _ in range(halves):
        for label, port, route, auth in targets:
            single[label].append(
                loads.closed(port, route, body, connections=1, auth=auth,
                             requests=counts.warm_requests // halves,
                             seconds=counts.warm_seconds / halves)
            )  # fmt: skip
            multi[label].append(
                loads.closed(port, route, body, connections=counts.connections, auth=auth,
                             requests=counts.warm_requests * 4 // halves,
                             seconds=counts.warm_seconds / halves)
            )  # fmt: skip
    s1, e1, b1 = (_merge(single[label]) for label in ("sandlot", "echo", "no-journal"))
    sn, en, bn = (_merge(multi[label]) for label in ("sandlot", "echo", "no-journal"))
    p50_row.measured, p50_row.baseline, p50_row.baseline_name = s1.p50, e1.p50, "FastAPI echo"
    p50_row.notes.append(
        f"p99 {_ms(s1.p99)} vs {_ms(e1.p99)} ms; {len(s1.latencies_ms)} vs "
        f"{len(e1.latencies_ms)} calls; cold starts among them: {len(s1.cold_ms)}"
    )
    rps_row.measured, rps_row.baseline, rps_row.baseline_name = sn.rps, en.rps, "FastAPI echo"
    p50_row.notes.append(s1.server_note())
    rps_row.notes.append(f"p50 under load {_ms(sn.p50)} vs {_ms(en.p50)} ms")
    abs_row.measured = s1.p50
    abs_row.notes.append("the issue's 'for scale' figure: Sandlot's own p50, no ratio")
    without = "the same server, SANDLOT_JOURNAL=false"
    journal_p50.measured, journal_p50.baseline, journal_p50.baseline_name = s1.p50, b1.p50, without
    journal_p50.notes.append(f"p99 {_ms(s1.p99)} vs {_ms(b1.p99)} ms")
    journal_rps.measured, journal_rps.baseline, journal_rps.baseline_name = sn.rps, bn.rps, without
    journal_rps.notes.append(f"p50 under load {_ms(sn.p50)} vs {_ms(bn.p50)} ms")
    for row, result in ((p50_row, s1), (rps_row, sn)):
        row.notes += result.problems()
    for row, result in ((p50_row, e1), (rps_row, en), (journal_p50, b1), (journal_rps, bn)):
        row.notes += [f"baseline: {p}" for p in result.problems()]
    return rows


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
