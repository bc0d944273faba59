"""Cold starts of a function with an egress allow-list against the same function with none.

Both run on one server in the same run, with the same cold method as the cold rows. A
version's link, rules and resolver are made once, with its network namespace, when its first
instance starts; the cold starts measured here come after that, so the ratio says whether a
policy costs anything per cold start (it should not). The first call of each version, which
pays for the namespace (and, with a policy, the veth, nftables rules and resolver), is in the
notes. The server routes functions' traffic by an empty policy-routing table
(SANDLOT_EGRESS_ROUTE_TABLE), so nothing a function sends could leave this machine.
"""

from __future__ import annotations

import json
import time

from bench import loads, sandlot_api, stats
from bench.cold import Anchors, ColdMethod, cold_method, delete_functions
from bench.context import Bench
from bench.results import Row, Target
from bench.sandlot_server import Sandlot
from bench.workload import WORKLOADS

THINK_S = 0.02
POLICY = ["api.test:443", "198.18.0.0/24:5432"]
EMPTY_ROUTE_TABLE = "4242"  # no routes: the policy is in force, and every packet stays here


def measure(bench: Bench) -> list[Row]:
    row = Row("cold: allow-list vs none, trivial", "ms", Target("<=", 1.1))
    method = cold_method(1)
    env = {
        **method.env,
        "SANDLOT_EGRESS_ROUTE_TABLE": EMPTY_ROUTE_TABLE,
        "SANDLOT_EGRESS_DEFAULT_BOUND": " ".join(POLICY),
    }
    server = bench.sandlot("egress", env)
    variants = {"none": {}, "allow": {"egress": json.dumps(POLICY)}}
    names = {label: [f"egress-{label}-c{i}" for i in range(method.copies)] for label in variants}
    firsts: dict[str, float] = {}
    try:
        for label, fields in variants.items():
            firsts[label] = _deploy(server, names[label], fields)
    except (sandlot_api.DeployFailed, RuntimeError) as exc:
        delete_functions(server, [n for group in names.values() for n in group])
        row.notes.append(str(exc))
        return [row]
    # A B B A, twice: the machine is shared, and a drift in its load must not favour either side.
    order = ["none", "allow", "allow", "none"] * 2 if not method.anchored else ["none", "allow"]
    cold: dict[str, list[float]] = {"none": [], "allow": []}
    for label in order:
        bench.say(f"egress {label}: Sandlot cold starts through HTTP")
        cold[label] += _sample(bench, server, method, names[label], len(order) // 2)
    if not method.anchored:
        delete_functions(server, [n for group in names.values() for n in group])
    row.measured, row.baseline = stats.p50(cold["allow"]), stats.p50(cold["none"])
    row.baseline_name = "the same function, policy none"
    row.notes.append(
        f"p99 {stats.p99(cold['allow']):.2f} vs {stats.p99(cold['none']):.2f} ms; "
        "a version's first call (its namespace; with the policy also its link, rules, "
        f"resolver): {firsts['allow']:.1f} ms with the policy, {firsts['none']:.1f} ms without"
    )
    return [row]


def _deploy(server: Sandlot, names: list[str], fields: dict[str, str]) -> float:
    """Deploy and call each copy once; the last first call's time in ms."""
    workload = WORKLOADS["trivial"]
    first = 0.0
    with sandlot_api.client(server.url) as http:
        for name in names:
            sandlot_api.deploy(http, workload, name, extra_fields=fields)
            started = time.perf_counter()
            answer = sandlot_api.invoke(http, name, workload.event_json)
            first = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                raise RuntimeError(f"{name} failed: {answer.status_code} {answer.text[:200]}")
    return first


def _sample(
    bench: Bench, server: Sandlot, method: ColdMethod, names: list[str], rounds: int
) -> list[float]:
    workload = WORKLOADS["trivial"]
    requests = max(bench.counts.cold_samples // rounds, 1)
    paths = [loads.invoke_path(n) for n in names]
    with Anchors(server, names, method.anchored):  # anchored: deletes the copies at its end
        result = loads.closed(
            server.port, "", workload.event_json, connections=1, auth=True,
            requests=requests, seconds=requests * 2.0 + 10,
            warmup=method.copies, paths=paths, think_s=THINK_S,
        )  # fmt: skip
    return result.cold_ms
