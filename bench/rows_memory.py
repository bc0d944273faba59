"""Memory of idle warm instances: PSS from /proc/<pid>/smaps_rollup.

After a few concurrent bursts leave K warm instances of a function idle, every process that
belongs to them is found under the server process: the instance process itself (its
environment names the function) and its ancestors below the server (sandbox launcher, the
pid namespace's init, a zygote once there is one). The row's value is their total PSS
divided by K: what one more idle instance costs, helpers included, with shared pages split
fairly (which is what PSS does). The instance process alone is in the notes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench import loads, stats
from bench.context import Bench
from bench.loadgen import Spec
from bench.procs import run_load
from bench.results import Row, Target
from bench.sandlot_server import Sandlot
from bench.workload import WORKLOADS, Workload

TARGET_MB = {"trivial": 1.0, "numpy_matmul": 2.0}


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The command name can hold spaces and parentheses: split after the last ')'.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents[int(entry.name)] = int(fields[1])
    return parents


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _function_of(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(b"SANDLOT_FUNCTION_NAME="):
            return item.split(b"=", 1)[1].decode()
    return None


def instance_processes(server_pid: int, function_name: str) -> tuple[list[int], set[int]]:
    """The function's instance pids and their helper pids, below `server_pid`."""
    parents = _parents()
    instances: list[int] = []
    helpers: set[int] = set()
    for pid in parents:
        chain: list[int] = []
        cursor = parents.get(pid, 0)
        while cursor not in (0, 1, server_pid):
            chain.append(cursor)
            cursor = parents.get(cursor, 0)
        if cursor != server_pid or _function_of(pid) != function_name:
            continue
        # A helper can carry the function's environment too (a zygote): an instance is a
        # process none of whose descendants is one of the function's processes.
        instances.append(pid)
        helpers.update(chain)
    leaves = [pid for pid in instances if pid not in helpers]
    return leaves, helpers


def _live_instances(server: Sandlot, function_name: str) -> int:
    import httpx

    text = httpx.get(f"{server.url}/metrics", headers=loads.AUTH, timeout=10).text
    for line in text.splitlines():
        if line.startswith("sandlot_instances{") and f'function="{function_name}"' in line:
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def measure(bench: Bench) -> list[Row]:
    rows = []
    for name, target in TARGET_MB.items():
        workload = WORKLOADS[name]
        if workload in bench.workloads:
            rows.append(_one(bench, workload, target))
    return rows


def _one(bench: Bench, workload: Workload, target_mb: float) -> Row:
    k = bench.counts.memory_instances
    row = Row(
        f"memory per idle warm instance, {workload.name}", "MB", Target("<=", target_mb, "measured")
    )
    server = bench.warm()
    function_name = f"{workload.function_name}-mem"
    why = bench.runnable(server, workload, function_name)
    if why is not None:
        row.notes.append(why)
        return row
    if os.geteuid() != 0:
        row.notes.append("not root: other users' /proc/<pid>/smaps_rollup may be unreadable")
    spec = Spec(
        host="127.0.0.1", port=server.port, path=loads.invoke_path(function_name),
        body=workload.event_json, headers=loads.AUTH, mode="burst", connections=k, rounds=1,
    )  # fmt: skip
    for _ in range(6):  # bursts until K instances are warm (fast handlers reuse some)
        if _live_instances(server, function_name) >= k:
            break
        run_load(spec)
    time.sleep(0.5)  # let the last replies settle: idle means no invocation in flight
    instances, helpers = instance_processes(server.pid, function_name)
    if not instances:
        row.notes.append("no instance processes found under the server")
        return row
    instance_kb = [_pss_kb(pid) for pid in instances]
    helper_kb = sum(_pss_kb(pid) for pid in helpers)
    row.measured = (sum(instance_kb) + helper_kb) / len(instances) / 1024
    row.notes.append(
        f"{len(instances)} idle instances; instance process alone p50 "
        f"{(stats.p50(instance_kb) or 0) / 1024:.2f} MB; {len(helpers)} helper processes "
        f"{helper_kb / 1024:.1f} MB in all"
    )
    return row
