"""Deploy time with a cold versus a cached dependency environment.

Two functions with the same requirements, deployed one after the other on one server: the
first builds the environment (cold: nothing built for that lock on this server yet; uv's own
download cache may be warm, which the note says), the second finds it built (cached). Each is
timed from the upload until its version is ready and answers an invocation. Whether the
server supports requirements is found out by doing it, never assumed: a server that ignores
requirements.txt makes the handler fail to import, and the row says "not available yet".
"""

from __future__ import annotations

import time
import uuid

from bench import sandlot_api
from bench.context import Bench
from bench.results import Row
from bench.workload import Workload

# A lock no workload uses, so that its environment is certainly not built on this server yet.
REQUIREMENTS = "jinja2==3.1.6\nmarkupsafe==3.0.2\n"
HANDLER = (
    "import jinja2\n\ndef handler(event, context):\n    return {'jinja2': jinja2.__version__}\n"
)


def _workload(bench: Bench) -> Workload:
    root = bench.work_dir / "envs-workload"
    folder = root / "deps_probe"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(HANDLER)
    (folder / "requirements.txt").write_text(REQUIREMENTS)
    return Workload("deps_probe", {}, root)


def measure(bench: Bench) -> list[Row]:
    row = Row("deps: deploy time, cached env vs cold env", "s", None)
    row.notes.append("no number in the issue; reported, not judged")
    workload = _workload(bench)
    server = bench.warm()
    suffix = uuid.uuid4().hex[:6]
    times: list[float] = []
    for which in ("cold", "cached"):
        name = f"bench-deps-{which}-{suffix}"
        with sandlot_api.client(server.url) as http:
            started = time.perf_counter()
            try:
                sandlot_api.deploy(http, workload, name)
            except sandlot_api.DeployFailed as exc:
                row.notes.append(f"{which} deploy failed: {exc}")
                return [row]
            why = sandlot_api.check_works(http, sandlot_api.Deployed(name, 0, 0.0), workload)
            elapsed = time.perf_counter() - started
        if why is not None:
            row.notes.insert(0, f"NOT AVAILABLE YET: {why}")
            return [row]
        times.append(elapsed)
    row.baseline, row.measured = times
    row.baseline_name = "cold env deploy"
    row.notes.append(
        "cold = first build of this lock on this server (uv's download cache may be warm)"
    )
    return [row]
