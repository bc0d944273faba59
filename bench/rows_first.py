"""First call of a new version against `python -c "import <deps>; import main"`.

Each sample deploys a new version of the function (same code, so the same environment) and
times its first invocation through HTTP from the bench process; the deploy is not timed. A
deploy checks that the handler imports by starting the version's zygote and keeps it, so
this first call is a cold start forked from that zygote, not an import (the import's cost
is in the deploy row, `rows_envs.measure_zero_config`).
"""

from __future__ import annotations

import time

from bench import sandlot_api, stats
from bench.baselines import fresh_python
from bench.context import Bench
from bench.results import Row, Target
from bench.workload import Workload


def measure(bench: Bench) -> list[Row]:
    return [_one(bench, workload) for workload in bench.workloads]


def _one(bench: Bench, workload: Workload) -> Row:
    counts = bench.counts
    row = Row(f"first start of a version, {workload.name}", "ms", Target("<=", 1.2))
    try:
        deps = bench.deps(workload)
    except RuntimeError as exc:
        row.notes.append(f"baseline has no packages: {exc}")
    else:
        imports = fresh_python.import_only(workload, deps, counts.import_samples)
        row.baseline, row.baseline_name = stats.p50(imports), "python -I -S -c 'import ...'"
    server = bench.warm()
    why = bench.runnable(server, workload)
    if why is not None:
        row.notes.append(why)
        return row
    bench.say(f"{workload.name}: first starts of new versions")
    times: list[float] = []
    warm = 0
    with sandlot_api.client(server.url) as http:
        for _ in range(counts.first_samples):
            deployed = sandlot_api.deploy(http, workload)
            started = time.perf_counter()
            answer = sandlot_api.invoke(http, deployed.name, workload.event_json)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                row.notes.append(f"invoke answered {answer.status_code}: {answer.text[:200]}")
                continue
            if answer.headers.get("x-sandlot-cold-start") != "true":
                warm += 1  # not a first start; never counted
                continue
            times.append(elapsed)
    row.measured = stats.p50(times)
    row.notes.append(f"{len(times)} first starts (p99 {_fmt(stats.p99(times))} ms)")
    if warm:
        row.notes.append(f"{warm} first calls were not cold starts, left out")
    return row


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
