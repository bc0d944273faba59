"""GET /api/v1/pool: what the worker pool holds, for the platform admin only; and the
database and version the detailed /readyz now names."""

from __future__ import annotations

from tests.conftest import Api

HELLO = {"main.py": "def handler(event, context):\n    return 'hi'\n"}


async def test_the_admin_sees_an_instance_after_a_call(api: Api) -> None:
    empty = await api.client.get("/api/v1/pool")
    assert empty.status_code == 200, empty.text
    body = empty.json()
    assert body["sandbox"] == api.settings.sandbox.value
    assert body["memory"]["max_mb"] == api.settings.max_memory_mb
    assert body["instances"]["max"] == api.settings.max_instances

    deployed = await api.deploy("pooled", HELLO)
    assert deployed.status_code == 201
    memory_mb = deployed.json()["config"]["memory_mb"]
    assert (await api.invoke("pooled")).status_code == 200
    body = (await api.client.get("/api/v1/pool")).json()
    rows = [row for row in body["versions"] if row["function"] == "pooled"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["namespace"], row["version"]) == ("default", 1)
    assert row["instances"] >= 1 and row["busy"] + row["idle"] == row["instances"]
    assert row["memory_mb"] == memory_mb * row["instances"]
    instances = body["instances"]
    assert instances["total"] >= 1 and instances["busy"] + instances["idle"] == instances["total"]
    # Whatever is kept is charged: instances, their zygote and spares.
    assert body["memory"]["charged_mb"] >= body["memory"]["reserved_mb"] >= memory_mb
    assert body["zygotes"] == (1 if api.settings.zygotes else 0) == int(row["zygote"])
    assert body["spares"] == sum(each["spares"] for each in body["versions"])


async def test_no_one_else_reads_it(api: Api) -> None:
    created = await api.client.post("/api/v1/keys", json={"name": "own", "role": "owner"})
    owner = {"Authorization": f"Bearer {created.json()['key']}"}
    denied = await api.client.get("/api/v1/pool", headers=owner)
    assert denied.status_code == 403 and denied.json()["error"] == "PermissionDenied"
    anonymous = await api.client.get("/api/v1/pool", headers={"Authorization": ""})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "Unauthenticated"


async def test_the_detailed_readiness_names_the_database_and_the_version(api: Api) -> None:
    from sandlot import __version__

    answer = await api.client.get("/readyz")
    assert answer.status_code == 200
    body = answer.json()
    kind = "sqlite" if api.settings.resolved_database_url.startswith("sqlite") else "postgresql"
    assert body["database"] == {"kind": kind, "answers": True}
    assert body["version"] == __version__
