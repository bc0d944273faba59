"""Deploy time: a zero-config function until its version is ready, and a cold versus a
cached dependency environment.

Zero-config: each sample makes a new version of the trivial workload and is timed from the
upload until the answer, which comes once the handler has imported in the version's sandbox
(its zygote started), so it says `ready`. The baseline is the least such a check can cost:
a fresh `python -I -S -c "import main"`. The issue asks for "well under a second".

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

from bench import sandlot_api, stats
from bench.baselines import fresh_python
from bench.context import Bench
from bench.results import Row, Target
from bench.workload import WORKLOADS, Workload

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


def measure_zero_config(bench: Bench) -> list[Row]:
    row = Row("deploy until ready, zero-config, trivial", "ms", Target("<=", 1000, on="measured"))
    workload = WORKLOADS["trivial"]
    samples = bench.counts.first_samples
    imports = fresh_python.import_only(workload, None, bench.counts.import_samples)
    row.baseline, row.baseline_name = stats.p50(imports), "python -I -S -c 'import main'"
    server = bench.warm()
    name = f"bench-deploy-{uuid.uuid4().hex[:6]}"
    bench.say(f"zero-config deploys until ready ({samples})")
    times: list[float] = []
    followed = 0
    with sandlot_api.client(server.url) as http:
        try:
            for _ in range(samples):
                deployed = sandlot_api.deploy(http, workload, name)
                times.append(deployed.deploy_s * 1000)
                followed += not deployed.ready_in_answer
        except sandlot_api.DeployFailed as exc:
            row.notes.append(f"deploy failed: {exc}")
            return [row]
        finally:
            sandlot_api.delete(http, name)
    row.measured = stats.p50(times)
    row.notes.append(f"{len(times)} new versions, p99 {stats.p99(times) or 0:.0f} ms")
    if followed:
        row.notes.append(f"{followed} answers were not ready yet (followed until ready)")
    return [row]
