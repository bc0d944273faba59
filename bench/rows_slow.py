"""Warm calls while slow clients hold connections (slowloris), against warm calls without.

The same server, the same load generator, interleaved (without, with, without, with) so that
drift on a shared machine hits both sides alike. The slow clients (bench/slowloris.py, their
own process) hold N connections that trickle a header or a body one byte a second, and
reopen whenever the server cuts them off, as an attacker would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict

import httpx

from bench import loads
from bench.context import Bench
from bench.loads import LoadResult
from bench.procs import REPO
from bench.results import Row, Target
from bench.rows_warm import _merge
from bench.slowloris import Spec
from bench.workload import WORKLOADS

TRIVIAL = WORKLOADS["trivial"]


def measure(bench: Bench) -> list[Row]:
    counts = bench.counts
    n = counts.slow_connections
    row = Row(f"warm: p50 latency with {n} slow connections open, trivial", "ms", Target("<=", 1.2))
    server = bench.warm()
    why = bench.runnable(server, TRIVIAL)
    if why is not None:
        row.notes.append(why)
        return [row]
    path = loads.invoke_path(TRIVIAL.function_name)
    sides: dict[str, list[LoadResult]] = {"without": [], "with": []}
    tallies: list[dict[str, int]] = []
    held: list[float] = []
    halves = 2
    for _ in range(halves):
        sides["without"].append(_calls(server.port, path, bench))
        slow = _start_slow_clients(server.port, path, n)
        try:
            # Past the server's header timeout (10 s) before measuring, so that the server is
            # cutting slow connections off, and the clients reopening them, while it serves.
            time.sleep(0 if bench.smoke else 11)
            held.append(_open_connections(server.url))
            sides["with"].append(_calls(server.port, path, bench))
        finally:
            tallies.append(_stop(slow))
    with_slow, without = _merge(sides["with"]), _merge(sides["without"])
    row.measured, row.baseline = with_slow.p50, without.p50
    row.baseline_name = "same server, no slow connections"
    row.notes.append(
        f"p99 {_ms(with_slow.p99)} vs {_ms(without.p99)} ms; the server held "
        f"{min(held):.0f} to {max(held):.0f} connections while measured; slow connections "
        f"opened {sum(t['opened'] for t in tallies)}, cut off by the server "
        f"{sum(t['cut_off'] for t in tallies)}"
    )
    row.notes += with_slow.problems() + [f"baseline: {p}" for p in without.problems()]
    return [row]


def _calls(port: int, path: str, bench: Bench) -> LoadResult:
    counts = bench.counts
    return loads.closed(
        port, path, TRIVIAL.event_json, connections=1, auth=True,
        requests=counts.warm_requests // 2, seconds=counts.warm_seconds / 2,
    )  # fmt: skip


def _start_slow_clients(port: int, path: str, connections: int) -> subprocess.Popen[str]:
    spec = Spec(
        host="127.0.0.1", port=port, connections=connections, interval_s=1.0,
        body_path=path, headers=loads.AUTH,
    )  # fmt: skip
    slow = subprocess.Popen(
        [sys.executable, "-m", "bench.slowloris", json.dumps(asdict(spec))],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    assert slow.stdout is not None
    if slow.stdout.readline().strip() != "ready":
        slow.kill()
        raise RuntimeError("the slow clients did not open their connections")
    return slow


def _stop(slow: subprocess.Popen[str]) -> dict[str, int]:
    slow.terminate()
    out, _ = slow.communicate(timeout=60)
    tally: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return tally


def _open_connections(url: str) -> float:
    """The server's own count of open connections (sandlot_http_connections)."""
    text = httpx.get(f"{url}/metrics", headers=loads.AUTH, timeout=10).text
    line = next(line for line in text.splitlines() if line.startswith("sandlot_http_connections "))
    return float(line.split()[1])


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
