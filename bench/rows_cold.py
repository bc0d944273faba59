"""Cold starts through HTTP, against a fresh Python process and a runc container per call.

Sandlot's number is the client-side latency of a call that the server says was a cold start
(X-Sandlot-Cold-Start: true), one caller with `THINK_S` between its calls: each cold start,
like each baseline run, begins on an idle machine, not while the previous call's instance is
still being torn down and the next spare made (that is the cold-starts-per-second row's
business). The p50 of the same calls sent back to back is in the notes. The baselines run the
same handler with the same packages, one process or container per call, timed from the bench
process until the result was printed and the process was gone.
"""

from __future__ import annotations

from bench import loads, stats
from bench.baselines import fresh_python, runc
from bench.cold import ANCHOR_TIMEOUT_S, Anchors, ColdMethod, cold_method, delete_functions
from bench.context import Bench
from bench.results import Row, Target
from bench.workload import Workload

THINK_S = 0.02


def _copies(workload: Workload, count: int) -> list[str]:
    return [f"{workload.function_name}-c{i}" for i in range(count)]


def measure(bench: Bench) -> list[Row]:
    method = cold_method(1)
    bench.run_notes.append(f"cold-start method: {method.description}")
    rows: list[Row] = []
    runc_problem = runc.unavailable()
    for workload in bench.workloads:
        rows += _one(bench, workload, method, runc_problem)
    return rows


def _one(
    bench: Bench,
    workload: Workload,
    method: ColdMethod,
    runc_problem: str | None,
) -> list[Row]:
    counts = bench.counts
    name = workload.name
    p50_row = Row(f"cold: p50, {name}", "ms", Target("<=", 5.0, "measured"))
    p99_row = Row(f"cold: p99, {name}", "ms", Target("<=", 15.0, "measured"))
    vs_fresh = Row(f"cold vs fresh python per call, {name}", "ms", Target("<=", 0.1))
    vs_runc = Row(f"cold vs runc container per call, {name}", "ms", Target("<=", 0.05))
    rows = [p50_row, p99_row, vs_fresh, vs_runc]

    try:
        deps = bench.deps(workload)
    except RuntimeError as exc:
        deps = None
        for row in (vs_fresh, vs_runc):
            row.notes.append(f"baseline has no packages: {exc}")
    else:
        bench.say(f"{name}: fresh python per call")
        fresh = fresh_python.per_call(workload, deps, counts.fresh_samples)
        vs_fresh.baseline, vs_fresh.baseline_name = stats.p50(fresh), "python -I -S per call"
        vs_fresh.notes.append(f"baseline p99 {stats.p99(fresh):.1f} ms, {len(fresh)} runs")
        if runc_problem is None:
            bench.say(f"{name}: runc per call")
            try:
                times = runc.per_call(workload, deps, counts.runc_samples, bench.work_dir)
            except RuntimeError as exc:
                vs_runc.notes.append(f"runc could not run here: {exc}")
            else:
                vs_runc.baseline, vs_runc.baseline_name = stats.p50(times), "runc run per call"
                vs_runc.notes.append(f"baseline p99 {stats.p99(times):.1f} ms, {len(times)} runs")
        else:
            vs_runc.notes.append(f"runc unavailable: {runc_problem}")

    server = bench.sandlot("cold", method.env)
    names = _copies(workload, method.copies)
    for function_name in names:
        why = bench.runnable(server, workload, function_name, ANCHOR_TIMEOUT_S)
        if why is not None:
            delete_functions(server, names)  # free the instance cap for the next workload
            for row in rows:
                row.notes.append(why)
            return rows
    bench.say(f"{name}: Sandlot cold starts through HTTP")
    paths = [loads.invoke_path(n) for n in names]
    with Anchors(server, names, method.anchored):
        result = loads.closed(
            server.port, "", workload.event_json, connections=1, auth=True,
            requests=counts.cold_samples, seconds=counts.cold_samples * 2.0 + 10,
            warmup=method.copies, paths=paths, think_s=THINK_S,
        )  # fmt: skip
        back_to_back = loads.closed(
            server.port, "", workload.event_json, connections=1, auth=True,
            requests=counts.cold_samples, seconds=counts.cold_samples * 2.0 + 10,
            warmup=method.copies, paths=paths,
        )  # fmt: skip
    cold = result.cold_ms
    for row in rows:
        row.notes += result.problems()
    if len(cold) < len(result.latencies_ms):
        p50_row.notes.append(f"{len(result.latencies_ms) - len(cold)} calls were warm, left out")
    p50_row.measured, p99_row.measured = stats.p50(cold), stats.p99(cold)
    p50_row.notes.append(
        f"{len(cold)} cold calls, 1 caller, {THINK_S * 1000:.0f} ms apart; back to back: "
        f"p50 {_ms(stats.p50(back_to_back.cold_ms))}, p99 {_ms(stats.p99(back_to_back.cold_ms))}"
    )
    p99_row.notes.append(result.server_note())
    vs_fresh.measured = vs_runc.measured = stats.p50(cold)
    return rows


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"
