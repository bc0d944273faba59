"""Egress in a cluster: an API server (role api) runs no function, so it does not refuse a
policy because its own host cannot enforce it; each worker that cannot refuses a version
with a policy, in its prepare and its calls, with `EgressUnavailable`, before anything
starts."""

from __future__ import annotations

import base64
from pathlib import Path

from sandlot.config import SandboxMode
from sandlot.node import egress_problem
from sandlot.sandbox.egress_probe import egress_support
from sandlot.sandbox.factory import make_starter
from sandlot.services import cluster_wire as wire
from tests.conftest import (
    HELLO,
    SANDBOX_MODE,
    make_settings,
    open_api,
    zip_bytes,
)
from tests.services.fake_worker import SECRET, FakeWorker, info, register
from tests.worker_node.helpers import deploy_spec, worker_node

POLICY = ["198.18.0.10:443"]
CODE = base64.b64encode(zip_bytes(HELLO)).decode()
WHY = "net.ipv4.ip_forward is 0 (the test says so)"


async def test_a_worker_that_cannot_enforce_refuses_a_policy(
    tmp_path: Path, database_url: str
) -> None:
    quiet = await deploy_spec(tmp_path / "api", database_url, "hello", HELLO)
    loud = {**quiet, "egress": POLICY}  # the same code, with a network policy
    async with worker_node(tmp_path / "worker", database_url, egress_problem=WHY) as w:
        refused = await w.post_json(wire.PREPARE_PATH, {"spec": loud})
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "EgressUnavailable"
        assert refused.json()["detail"]["reason"] == WHY
        assert (loud["function_id"], loud["version"]) not in w.node.ready

        prepared = await w.post_json(wire.PREPARE_PATH, {"spec": quiet})
        assert prepared.status_code == 200, prepared.text
        called = await w.invoke(loud, b'{"name": "x"}', "inv-loud")
        assert called.status_code == 409, called.text
        assert called.json()["error"] == "EgressUnavailable"
        assert w.pool.stats().busy == 0 and w.node.running == 0
        assert (await w.invoke(quiet, b'{"name": "x"}', "inv-quiet")).status_code == 200


def test_the_worker_knows_whether_it_enforces(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    starter = make_starter(settings)
    found = egress_problem(settings, starter)
    if SANDBOX_MODE is SandboxMode.INSECURE_DEV:
        assert found is None  # stored unenforced, as on one machine
    elif egress_support(settings.egress_route_table).ok:
        assert found is None
    else:
        assert found == egress_support(settings.egress_route_table).reason
    dev = make_settings(tmp_path / "dev", sandbox=SandboxMode.INSECURE_DEV)
    assert egress_problem(dev, make_starter(dev)) is None


async def test_role_api_accepts_a_policy_whatever_its_own_host_can_do(
    tmp_path: Path, postgres_url: str
) -> None:
    worker = FakeWorker(id="node-e:run")
    await worker.start()
    try:
        async with open_api(
            tmp_path / "data",
            postgres_url,
            role="api",
            cluster_secret=SECRET.decode(),
            sandbox=SandboxMode.STRICT,  # where role all probes this host and may refuse
            egress_default_bound="internet 198.18.0.0/15",
        ) as api:
            await register(api.runtime.database, info(worker.id, worker.url))
            await api.runtime.pool.registry.refresh()  # type: ignore[attr-defined]
            answer = await api.client.post(
                "/api/v1/functions",
                json={"name": "loud", "code_base64": CODE, "egress": POLICY},
            )
            assert answer.status_code == 201, answer.text
            assert answer.json()["config"]["egress"] == POLICY
            assert answer.json()["warnings"] == []
            (prepare,) = [s for s in worker.seen if s.path == wire.PREPARE_PATH]
            assert prepare.head["spec"]["egress"] == POLICY  # the worker decides
    finally:
        await worker.close()
