"""Egress through the whole app: deploy with a policy, invoke, logs, metrics, a new version.

The real app with the real sandbox on a SQLite file and on PostgreSQL; the function's traffic
can only reach the test's own namespaces (see egress_world.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandlot.config import SandboxMode
from sandlot.sandbox.egress_probe import egress_support
from tests.conftest import SANDBOX_MODE, Api, open_api, skip_outside_ci
from tests.sandbox.egress_world import API, GUARDED, NEIGHBOUR, World

CALLER = {
    "main.py": (
        "import socket\n"
        "def handler(event, context):\n"
        "    out = {}\n"
        "    for host, port in event['targets']:\n"
        "        try:\n"
        "            with socket.create_connection((host, port), timeout=3) as s:\n"
        "                out[f'{host}:{port}'] = s.recv(100).decode()\n"
        "        except OSError as exc:\n"
        "            out[f'{host}:{port}'] = type(exc).__name__\n"
        "    return out\n"
    )
}
TARGETS = [["api.test", 443], [NEIGHBOUR, 443]]
# The same calls made the non-blocking way: the refusal comes later, through SO_ERROR.
ASYNC_CALLER = {
    "main.py": (
        "import asyncio\n"
        "async def one(how, host, port):\n"
        "    try:\n"
        "        if how == 'open':\n"
        "            opened = asyncio.open_connection(host, port)\n"
        "            reader, writer = await asyncio.wait_for(opened, 3)\n"
        "            data = await asyncio.wait_for(reader.read(100), 3)\n"
        "            writer.close()\n"
        "            return data.decode()\n"
        "        loop = asyncio.get_running_loop()\n"
        "        made = loop.create_connection(asyncio.Protocol, host, port)\n"
        "        transport, _ = await asyncio.wait_for(made, 3)\n"
        "        transport.close()\n"
        "        return 'connected'\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "async def main(targets):\n"
        "    return {f'{how}:{h}:{p}': await one(how, h, p) for how, h, p in targets}\n"
        "def handler(event, context):\n"
        "    return asyncio.run(main(event['targets']))\n"
    )
}


@pytest.fixture
async def egress_api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    if SANDBOX_MODE is not SandboxMode.STRICT or not egress_support(route_table=1).ok:
        skip_outside_ci("egress needs the strict sandbox, root, nftables and veth")
    world = World(tag=f"a{os.getpid() % 1000:03d}", table=50000 + os.getpid() % 10000,
                  hosts_file=tmp_path / "hosts")  # fmt: skip
    try:
        world.build()
        async with open_api(
            tmp_path / "data",
            database_url,
            egress_subnet=f"100.65.{os.getpid() % 200 + 20}.0/24",
            egress_route_table=world.table,
            egress_hosts_file=world.hosts_file,
            egress_default_bound="api.test:443 198.18.0.0/15",
        ) as opened:
            yield opened
    finally:
        world.close()


async def _call(api: Api) -> tuple[dict[str, str], str]:
    answer = await api.invoke("caller", {"targets": TARGETS})
    assert answer.status_code == 200, answer.text
    logs = await api.client.get(
        f"/api/v1/invocations/{answer.headers['x-sandlot-invocation-id']}/logs"
    )
    return answer.json(), logs.text


async def test_a_policy_reaches_its_host_and_a_new_version_gets_its_own(egress_api: Api) -> None:
    deployed = await egress_api.deploy("caller", CALLER, egress=json.dumps(["api.test:443"]))
    assert deployed.status_code == 201, deployed.text
    result, logs = await _call(egress_api)
    assert result == {"api.test:443": f"{API}:443", f"{NEIGHBOUR}:443": "OSError"}
    assert f"network: connect to {NEIGHBOUR}:443 denied by policy" in logs
    metrics = (await egress_api.client.get("/metrics")).text
    denied = [
        line for line in metrics.splitlines()
        if line.startswith("sandlot_egress_denied_total{") and 'function="caller"' in line
    ]  # fmt: skip
    assert denied and float(denied[0].rsplit(" ", 1)[1]) >= 1

    # A new version with another policy: its instances get its rules, and only those.
    again = await egress_api.client.put(
        "/api/v1/functions/caller", json={"egress": [f"{NEIGHBOUR}:443"]}
    )
    assert again.status_code == 200, again.text
    result, logs = await _call(egress_api)
    assert result == {"api.test:443": "gaierror", f"{NEIGHBOUR}:443": f"{NEIGHBOUR}:443"}


async def test_a_function_without_a_policy_reaches_nothing(egress_api: Api) -> None:
    assert (await egress_api.deploy("caller", CALLER)).status_code == 201
    result, logs = await _call(egress_api)
    assert result == {"api.test:443": "gaierror", f"{NEIGHBOUR}:443": "PermissionError"}
    assert f"network: connect to {NEIGHBOUR}:443 denied by policy" in logs


async def test_a_denied_asyncio_connect_is_logged_by_address(egress_api: Api) -> None:
    deployed = await egress_api.deploy("caller", ASYNC_CALLER, egress=json.dumps(["api.test:443"]))
    assert deployed.status_code == 201, deployed.text
    targets = [["open", "api.test", 443], ["open", NEIGHBOUR, 443], ["create", GUARDED, 443]]
    answer = await egress_api.invoke("caller", {"targets": targets})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "open:api.test:443": f"{API}:443",
        f"open:{NEIGHBOUR}:443": "OSError",
        f"create:{GUARDED}:443": "OSError",
    }
    logs = await egress_api.client.get(
        f"/api/v1/invocations/{answer.headers['x-sandlot-invocation-id']}/logs"
    )
    assert f"network: connect to {NEIGHBOUR}:443 denied by policy" in logs.text
    assert f"network: connect to {GUARDED}:443 denied by policy" in logs.text
    assert "api.test" not in logs.text and f"{API}:443 denied" not in logs.text
