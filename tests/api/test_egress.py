"""Egress policies through the app, on SQLite and PostgreSQL: each version stores its own
policy, the namespace's bound (set by the platform admin, audited) refuses a broader one
with `EgressNotAllowed` naming the destination, bad syntax is a named 400, and a host that
cannot enforce refuses any policy but `none` (insecure-dev accepts it, saying so)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandlot.config import SandboxMode
from sandlot.sandbox.egress_probe import egress_support
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.keys import NamespaceRepo
from tests.conftest import HELLO, SANDBOX_MODE, Api, open_api, zip_bytes

CODE = base64.b64encode(zip_bytes(HELLO)).decode()


@pytest.fixture
async def dev_api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    """Insecure-dev: a policy is accepted (not enforced), so storage can be tested anywhere."""
    async with open_api(tmp_path / "data", database_url, sandbox=SandboxMode.INSECURE_DEV) as api:
        yield api


async def _json(answer: httpx.Response, status: int) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


async def test_policies_per_version_within_the_namespace_bound(dev_api: Api) -> None:
    client = dev_api.client
    bound = await _json(await client.get("/api/v1/namespaces/default/egress"), 200)
    assert bound["bound"] == ["none"] and bound["default"] is True
    assert bound["enforced"] is False and "NOT enforced" in bound["reason"]

    new = {"name": "caller", "code_base64": CODE, "egress": ["api.test:443"]}
    refused = await _json(await client.post("/api/v1/functions", json=new), 403)
    assert refused["error"] == "EgressNotAllowed"
    assert refused["detail"]["bound"] == ["none"] and "api.test:443" in refused["detail"]["policy"]

    wanted = {"bound": ["*.test:443", "10.0.0.0/8"]}
    put = await client.put("/api/v1/namespaces/default/egress", json=wanted)
    assert (await _json(put, 200))["bound"] == ["*.test:443", "10.0.0.0/8"]
    events = await _json(await client.get("/api/v1/audit", params={"action": "namespace."}), 200)
    (event,) = [e for e in events["items"] if e["action"] == "namespace.egress-bound"]
    assert event["detail"]["old"] == ["none"] and event["detail"]["new"] == wanted["bound"]

    made = await _json(await client.post("/api/v1/functions", json=new), 201)
    assert made["config"]["egress"] == ["api.test:443"]
    assert any("NOT enforced" in warning for warning in made["warnings"])

    # Multipart carries the policy as JSON text, like `env`.
    second = await client.put(
        "/api/v1/functions/caller",
        data={"egress": '["10.0.5.0/24:5432"]'},
        files={"code": ("code.zip", zip_bytes(HELLO), "application/zip")},
    )
    assert (await _json(second, 200))["config"]["egress"] == ["10.0.5.0/24:5432"]
    third = await client.put("/api/v1/functions/caller", json={"memory_mb": 128})
    assert (await _json(third, 200))["config"]["egress"] == ["10.0.5.0/24:5432"]  # carried
    diff = await _json(await client.get("/api/v1/functions/caller/versions/2/diff"), 200)
    assert {"field": "egress", "before": ["api.test:443"], "after": ["10.0.5.0/24:5432"]} in diff[
        "config"
    ]
    first = await _json(await client.get("/api/v1/functions/caller/versions/1"), 200)
    assert first["egress"] == ["api.test:443"]  # each version keeps its own

    for wider, named in ((["internet"], "'internet'"), (["api.test:80"], "'api.test:80'")):
        answer = await client.put("/api/v1/functions/caller", json={"egress": wider})
        body = await _json(answer, 403)
        assert body["error"] == "EgressNotAllowed" and named in body["detail"]["message"]
        assert body["detail"]["destination"] == wider[0]

    # What the pool is handed for the newest version.
    async with dev_api.runtime.database.sessions.begin() as session:
        namespace = await NamespaceRepo(session).get_by_name("default")
        assert namespace is not None
        function = await FunctionRepo(session).get(namespace.id, "caller")
    spec = await dev_api.runtime.catalog.latest_of(function)
    assert spec.egress.as_text() == ["10.0.5.0/24:5432"]

    back = await client.put("/api/v1/namespaces/default/egress", json={"bound": None})
    assert (await _json(back, 200))["default"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"egress": ["api.test:99999"]},
        {"egress": ["none", "api.test:443"]},
        {"egress": ["10.0.5.1/24"]},
        {"egress": ["*.test:443"]},  # a wildcard is for bounds only
    ],
)
async def test_bad_policies_are_named_400s(dev_api: Api, body: dict[str, Any]) -> None:
    client = dev_api.client
    made = await client.post("/api/v1/functions", json={"name": "f", "code_base64": CODE, **body})
    assert (await _json(made, 400))["error"] == "InvalidEgressPolicy"
    form = await client.post(
        "/api/v1/functions",
        data={"name": "f", "egress": "api.test:443"},  # not a JSON list
        files={"code": ("code.zip", zip_bytes(HELLO), "application/zip")},
    )
    assert (await _json(form, 400))["error"] == "InvalidEgressPolicy"
    bound = await client.put("/api/v1/namespaces/default/egress", json={"bound": ["x..y"]})
    assert (await _json(bound, 400))["error"] == "InvalidEgressPolicy"


async def test_a_host_that_cannot_enforce_refuses_policies(tmp_path: Path) -> None:
    """With the sandbox this host runs (strict where it can): a policy is refused unless
    the host enforces it, or accepted with a warning in insecure-dev. `none` always works."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sandlot.db'}"
    async with open_api(
        tmp_path / "data", url, egress_default_bound="internet 198.18.0.0/15"
    ) as api:
        none = {"name": "quiet", "code_base64": CODE, "egress": ["none"]}
        assert (await _json(await api.client.post("/api/v1/functions", json=none), 201))[
            "warnings"
        ] == []
        wanted = {"name": "loud", "code_base64": CODE, "egress": ["198.18.0.10:443"]}
        answer = await api.client.post("/api/v1/functions", json=wanted)
        if SANDBOX_MODE is SandboxMode.INSECURE_DEV:
            assert any("NOT enforced" in w for w in (await _json(answer, 201))["warnings"])
        elif egress_support().ok:
            assert (await _json(answer, 201))["config"]["egress"] == ["198.18.0.10:443"]
        else:
            body = await _json(answer, 409)
            assert body["error"] == "EgressUnavailable"
            assert body["detail"]["reason"] == egress_support().reason
