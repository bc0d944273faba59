"""More machines on one: the hop to a remote worker, scaling over workers, the warm share.

Real processes on loopback: `sandlot serve --role api` and `sandlot worker`s sharing a
database of their own on the PostgreSQL at 127.0.0.1:5432 (created and dropped here). Rows:

- hop: a warm trivial call through an API server to one worker, against the same call to the
  single-process default (`bench.warm()`), interleaved; the p50 difference is the target.
- scaling: a CPU-bound function on one worker, then on three, each worker (and so every
  sandbox below it) in a cgroup v1 cpu controller of its own with the same quota.
- warm share: a steady closed loop over a few functions through the API server to three
  workers; the share of answers that were not cold starts.

A row that cannot be measured here (no PostgreSQL, no cgroup v1 cpu, a command missing) says
why and holds null.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import loads
from bench.context import Bench
from bench.procs import Server, free_port
from bench.results import Row, Target
from bench.sandlot_server import API_KEY
from bench.workload import WORKLOADS
from sandlot.services.cluster_wire import HEALTH_PATH as HEALTH

POSTGRES = "postgres@127.0.0.1:5432"
CLUSTER_SECRET = "bench-cluster-secret-" + "c" * 32
SECRET_KEY = base64.b64encode(b"bench-secret-key-" + b"k" * 15).decode()  # 32 bytes
CPU_ROOT = Path("/sys/fs/cgroup/cpu")
# Of one CPU, for each worker in the scaling row; its instances get the same quota
# (SANDLOT_INSTANCE_CPUS), since cgroup v1 refuses a child a quota above its parent's. Three
# such workers and the API server with the load fit on two CPUs.
CPU_QUOTA = 0.3
# Sandbox uid ranges far above the test suite's slots (1,000,000 + 65,536 per slot).
UID_BASE = 500_000_000
TRIVIAL = WORKLOADS["trivial"]
SPIN = (
    "def handler(event, context):\n"
    "    total = 0\n"
    "    for i in range(int(event.get('n', 200000))):\n"
    "        total += i * i\n"
    "    return {'total': total}\n"
)


def measure(bench: Bench) -> list[Row]:
    hop = Row("cluster: hop, warm p50 added by an API server and a worker", "ms",
              Target("<=", 0.3, "measured"))  # fmt: skip
    scaling = Row("cluster: throughput, 3 workers vs 1, CPU-bound, same cgroup quota", "req/s",
                  Target(">=", 2.7))  # fmt: skip
    share = Row("cluster: warm share of a steady workload, 3 workers", "%",
                Target(">=", 95.0, "measured"))  # fmt: skip
    rows = [hop, scaling, share]
    why = _unavailable()
    if why is not None:
        for row in rows:
            row.notes.append(why)
        return rows
    for row, run in ((hop, _measure_hop), (scaling, _measure_scaling), (share, _measure_share)):
        try:
            with _database() as url:
                run(bench, url, row)
        except RuntimeError as exc:  # a process that did not start: this row says why
            row.notes.append(str(exc)[:600])
    return rows


# The rows.


def _measure_hop(bench: Bench, url: str, row: Row) -> None:
    single = bench.warm()
    why = bench.runnable(single, TRIVIAL)
    if why is not None:
        row.notes.append(f"single process: {why}")
        return
    with _cluster(bench, url, workers=1) as cluster:
        cluster.deploy(TRIVIAL.function_name, _trivial_files())
        counts = bench.counts
        path, body = loads.invoke_path(TRIVIAL.function_name), TRIVIAL.event_json
        parts: dict[str, list[loads.LoadResult]] = {"single": [], "cluster": []}
        for _ in range(2):  # interleaved: drift of a shared machine hits both alike
            for label, port in (("single", single.port), ("cluster", cluster.api.port)):
                parts[label].append(
                    loads.closed(port, path, body, connections=1, auth=True,
                                 requests=counts.warm_requests // 2,
                                 seconds=counts.warm_seconds / 2)
                )  # fmt: skip
    one = _latencies(parts["single"])
    far = _latencies(parts["cluster"])
    if not one or not far:
        row.notes.append(f"no answers: {_problems(parts['single'] + parts['cluster'])}")
        return
    p50_one, p50_far = _p50(one), _p50(far)
    row.measured = p50_far - p50_one
    row.notes.append(f"p50 {p50_far:.3f} ms through the worker vs {p50_one:.3f} ms in one "
                     f"process; {len(far)} vs {len(one)} calls")  # fmt: skip
    row.notes += _problems(parts["single"] + parts["cluster"])


def _measure_scaling(bench: Bench, url: str, row: Row) -> None:
    cpus = os.cpu_count() or 1
    if cpus < 3 * CPU_QUOTA + 1:
        row.notes.append(f"needs {3 * CPU_QUOTA + 1:g} CPUs (three workers of {CPU_QUOTA:g} "
                         f"CPU each, and one for the API server and the load); this machine "
                         f"has {cpus}")  # fmt: skip
        return
    if not (CPU_ROOT / "cgroup.procs").exists():
        row.notes.append(f"no cgroup v1 cpu controller at {CPU_ROOT}")
        return
    counts = bench.counts
    seconds = max(counts.warm_seconds / 2, 1.0)
    results: dict[int, loads.LoadResult] = {}
    for workers in (1, 3):
        with _cluster(bench, url, workers=workers, cpu_quota=CPU_QUOTA) as cluster:
            # A name per round: both rounds' clusters share the one database.
            name = f"bench-spin-{workers}"
            cluster.deploy(name, {"main.py": SPIN}, max_concurrency="16")
            path = loads.invoke_path(name)
            body = '{"n": 200000}'
            connections = 2 * workers
            # A run as long as the measured one first starts the instances (slowly, at a
            # fraction of a CPU) and spreads them; the measured one is warm.
            loads.closed(cluster.api.port, path, body, connections=connections, auth=True,
                         requests=100_000, seconds=seconds, warmup=0)  # fmt: skip
            results[workers] = loads.closed(
                cluster.api.port, path, body, connections=connections, auth=True,
                requests=100_000, seconds=seconds, warmup=0,
            )  # fmt: skip
    one, three = results[1], results[3]
    row.measured, row.baseline, row.baseline_name = three.rps, one.rps, "1 worker"
    row.notes.append(f"each worker in a cpu cgroup of {CPU_QUOTA:g} CPU; 2 connections per "
                     f"worker; p50 {_fmt(three.p50)} vs {_fmt(one.p50)} ms")  # fmt: skip
    row.notes += _problems([one, three])


def _measure_share(bench: Bench, url: str, row: Row) -> None:
    names = [f"bench-share-{i}" for i in range(4)]
    counts = bench.counts
    with _cluster(bench, url, workers=3) as cluster:
        for name in names:
            cluster.deploy(name, _trivial_files())
        paths = [loads.invoke_path(name) for name in names]
        result = loads.closed(
            cluster.api.port, paths[0], TRIVIAL.event_json, connections=4, auth=True,
            requests=counts.warm_requests, seconds=counts.warm_seconds, warmup=0, paths=paths,
        )  # fmt: skip
    total = len(result.latencies_ms)
    if total == 0:
        row.notes.append(f"no answers: {_problems([result])}")
        return
    cold = len(result.cold_ms)
    row.measured = 100.0 * (total - cold) / total
    row.notes.append(f"{cold} cold starts in {total} calls over {len(names)} functions, "
                     "4 connections, every call counted from the first")  # fmt: skip
    row.notes += _problems([result])


# The cluster's processes.


@dataclass
class _Cluster:
    api: Server
    workers: list[Server]
    cgroups: list[Path] = field(default_factory=list)

    def deploy(self, name: str, files: dict[str, str], **fields: str) -> None:
        """Deploy through the API server; its answer comes once a worker has prepared it."""
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            for path, text in files.items():
                archive.writestr(path, text)
        with httpx.Client(
            base_url=self.api.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=300
        ) as http:
            upload = {"code": ("code.zip", code.getvalue(), "application/zip")}
            answer = http.post("/api/v1/functions", data={"name": name, **fields}, files=upload)
            if answer.status_code not in (200, 201, 202):
                raise RuntimeError(f"deploy {name}: {answer.status_code} {answer.text[:300]}")
            _until_answers(http, name)


def _until_answers(http: httpx.Client, name: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        answer = http.post(f"/api/v1/functions/{name}/invoke", content=TRIVIAL.event_json)
        if answer.status_code == 200:
            return
        last = f"{answer.status_code} {answer.text[:200]}"
        time.sleep(0.2)  # a worker is still registering or preparing; nothing to wait on
    raise RuntimeError(f"{name} never answered through the cluster: {last}")


@contextmanager
def _cluster(
    bench: Bench, url: str, *, workers: int, cpu_quota: float | None = None
) -> Iterator[_Cluster]:
    root = Path(tempfile.mkdtemp(prefix="sandlot-bench-cluster-", dir=bench.work_dir))
    started: list[Server] = []
    cgroups: list[Path] = []
    try:
        for index in range(workers):
            cgroup = _cpu_cgroup(cpu_quota) if cpu_quota is not None else None
            if cgroup is not None:
                cgroups.append(cgroup)
            started.append(_start_worker(bench, url, root / f"worker{index}", index, cgroup))
        for server in started:
            if server.wait_http(HEALTH, timeout_s=90) is None:
                raise RuntimeError(f"a worker did not start:\n{server.log_tail()}")
        api = _start_api(bench, url, root / "api")
        started.append(api)
        if api.wait_http("/readyz", timeout_s=90) is None:
            raise RuntimeError(f"the API server did not start:\n{api.log_tail()}")
        _until_registered(url.rsplit("/", 1)[1], workers)
        yield _Cluster(api, started[:-1], cgroups)
    finally:
        for server in reversed(started):
            server.stop()
        for cgroup in cgroups:
            _remove_cgroup(cgroup)
        shutil.rmtree(root, ignore_errors=True)


def _until_registered(database: str, workers: int, timeout_s: float = 60) -> None:
    """Until the workers' rows are in the registry's table (the API server reads it every
    heartbeat interval; a deploy that follows waits for its own answer too)."""
    deadline = time.monotonic() + timeout_s
    seen = "0"
    while time.monotonic() < deadline:
        seen = _psql("SELECT count(*) FROM workers WHERE NOT draining", database) or "0"
        if seen.isdigit() and int(seen) >= workers:
            time.sleep(1.5)  # a heartbeat interval and a little: the registry has read them
            return
        time.sleep(0.2)  # workers are still starting; nothing to wait on instead
    raise RuntimeError(f"{seen} of {workers} workers registered")


def _env(bench: Bench, url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "SANDLOT_DATABASE_URL": url,
        "SANDLOT_CLUSTER_SECRET": CLUSTER_SECRET,
        "SANDLOT_SECRET_KEY": SECRET_KEY,
        "SANDLOT_BOOTSTRAP_API_KEY": API_KEY,
        "SANDLOT_DATA_DIR": str(data_dir),
        "SANDLOT_SANDBOX": bench.sandbox_mode,
        "SANDLOT_DEFAULT_MAX_CONCURRENCY": "16",
        "XDG_CONFIG_HOME": str(data_dir / "user-config"),
        **extra,
    }


def _start_api(bench: Bench, url: str, data_dir: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "sandlot.cli.main", "serve", "--role", "api",
            "--port", str(port), "--data-dir", str(data_dir)]  # fmt: skip
    env = _env(bench, url, data_dir, SANDLOT_ROLE="api")
    return Server(argv, port, bench.log_dir / f"cluster-api-{port}.log", env)


def _start_worker(
    bench: Bench, url: str, data_dir: Path, index: int, cgroup: Path | None
) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "sandlot.cli.main", "worker"]
    held: dict[str, str] = {}
    if cgroup is not None:
        # The worker joins its cgroup before it starts, so every sandbox it makes (created
        # below its own cgroup) shares the quota.
        argv = ["sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "$@"', "sh", *argv]
        held["SANDLOT_INSTANCE_CPUS"] = str(CPU_QUOTA)
    env = _env(
        bench, url, data_dir,
        SANDLOT_WORKER_HOST="127.0.0.1", SANDLOT_WORKER_PORT=str(port),
        SANDLOT_SANDBOX_UID_BASE=str(UID_BASE + index * 65_536), **held,
    )  # fmt: skip
    return Server(argv, port, bench.log_dir / f"cluster-worker-{port}.log", env)


# What the rows need from this machine.


def _unavailable() -> str | None:
    help_text = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "worker", "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if help_text.returncode != 0:
        return "this checkout has no `sandlot worker` command"
    if shutil.which("psql") is None:
        return "no psql to make the bench's database with"
    probe = _psql("SELECT 1")
    if probe is not None:
        return f"no PostgreSQL at {POSTGRES}: {probe}"
    return None


def _psql(sql: str, database: str = "postgres") -> str | None:
    """None when `sql` ran (or, with `database` given, its first value); else why not."""
    done = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1",
         "-qAtc", sql],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if database != "postgres":
        return done.stdout.strip() if done.returncode == 0 else None
    return None if done.returncode == 0 else (done.stderr.strip() or "psql failed")[:300]


@contextmanager
def _database() -> Iterator[str]:
    name = f"sandlot_bench_{os.getpid()}_{time.monotonic_ns()}"
    problem = _psql(f'CREATE DATABASE "{name}"')
    if problem is not None:
        raise RuntimeError(f"cannot create the bench's database: {problem}")
    try:
        yield f"postgresql+asyncpg://{POSTGRES}/{name}"
    finally:
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _cpu_cgroup(quota: float) -> Path | None:
    if not (CPU_ROOT / "cgroup.procs").exists():
        return None
    path = CPU_ROOT / f"sandlot-bench-{os.getpid()}-{time.monotonic_ns()}"
    path.mkdir()
    (path / "cpu.cfs_period_us").write_text("100000")
    (path / "cpu.cfs_quota_us").write_text(str(int(quota * 100_000)))
    return path


def _remove_cgroup(path: Path) -> None:
    # Its processes are stopped by now; a straggler (a sandbox still exiting) is given a
    # moment, then the group is left for the operator rather than killed by name.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with suppress(OSError):
            path.rmdir()
            return
        time.sleep(0.1)  # the kernel empties a group a little after its last exit


# Small helpers.


def _trivial_files() -> dict[str, str]:
    return {"main.py": (TRIVIAL.folder / "main.py").read_text()}


def _latencies(parts: list[loads.LoadResult]) -> list[float]:
    return [ms for part in parts for ms in part.latencies_ms]


def _p50(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _problems(parts: list[loads.LoadResult]) -> list[str]:
    return sorted({problem for part in parts for problem in part.problems()})
