"""What a function URL costs against `/invoke`: the same server, function and key, the same
event sent as the body, measured in turns. The URL side also builds the HTTP API payload 2.0
event, carries it (larger) to the instance and turns the answer back into a response."""

from __future__ import annotations

from bench import loads, sandlot_api
from bench.context import Bench
from bench.loads import LoadResult
from bench.results import Row, Target
from bench.rows_warm import _merge
from bench.workload import Workload

URL_ECHO = Workload("url_echo", {"name": "Ada"})


def measure(bench: Bench) -> list[Row]:
    counts = bench.counts
    p50_row = Row("function URL vs /invoke: p50 latency (1 connection)", "ms", Target("<=", 1.10))
    rps_row = Row(
        f"function URL vs /invoke: throughput ({counts.connections} connections)",
        "req/s",
        Target(">=", 0.90),
    )
    rows = [p50_row, rps_row]
    server = bench.warm()
    why = bench.runnable(server, URL_ECHO)
    if why is None:
        with sandlot_api.client(server.url) as http:
            answer = http.put(
                f"{sandlot_api.API}/functions/{URL_ECHO.function_name}/url", json={"auth": "key"}
            )
            if answer.status_code != 200:
                why = f"PUT .../url: {answer.status_code} {answer.text[:200]}"
    if why is not None:
        for row in rows:
            row.notes.append(why)
        return rows
    paths = {
        "url": f"/fn/default/{URL_ECHO.function_name}/",
        "invoke": loads.invoke_path(URL_ECHO.function_name),
    }
    single: dict[str, list[LoadResult]] = {"url": [], "invoke": []}
    multi: dict[str, list[LoadResult]] = {"url": [], "invoke": []}
    turns = 4
    for turn in range(turns):
        order = ["url", "invoke"] if turn % 2 == 0 else ["invoke", "url"]  # neither always first
        for label in order:
            single[label].append(
                loads.closed(server.port, paths[label], URL_ECHO.event_json, connections=1,
                             auth=True, requests=counts.warm_requests // turns,
                             seconds=counts.warm_seconds / turns)
            )  # fmt: skip
            multi[label].append(
                loads.closed(server.port, paths[label], URL_ECHO.event_json,
                             connections=counts.connections, auth=True,
                             requests=counts.warm_requests * 4 // turns,
                             seconds=counts.warm_seconds / turns)
            )  # fmt: skip
    s_url, s_inv = _merge(single["url"]), _merge(single["invoke"])
    m_url, m_inv = _merge(multi["url"]), _merge(multi["invoke"])
    baseline = "the same function via POST /api/v1/functions/{name}/invoke"
    p50_row.measured, p50_row.baseline, p50_row.baseline_name = s_url.p50, s_inv.p50, baseline
    p50_row.notes.append(f"{len(s_url.latencies_ms)} vs {len(s_inv.latencies_ms)} calls")
    rps_row.measured, rps_row.baseline, rps_row.baseline_name = m_url.rps, m_inv.rps, baseline
    for row, url, invoke in ((p50_row, s_url, s_inv), (rps_row, m_url, m_inv)):
        row.notes += url.problems() + [f"baseline: {p}" for p in invoke.problems()]
    return rows
