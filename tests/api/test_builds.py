"""Deploys with requirements: built once with uv, shared, followed live, never at invoke.

Wheels are made by hand into a local find-links folder, so these tests run offline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Api, open_api, zip_bytes
from tests.envs.wheelkit import write_wheel

USES_ALPHA = {
    "main.py": "import alpha\ndef handler(event, context):\n    return {'alpha': alpha.VERSION}\n",
    "requirements.txt": "alpha\n",
}


@pytest.fixture
async def built(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    links = tmp_path / "links"
    links.mkdir()
    write_wheel(str(links), "alpha", "1.0", requires=["beta<2"])
    write_wheel(str(links), "beta", "1.5")
    write_wheel(str(links), "beta", "2.0")
    write_wheel(str(links), "gamma", "1.0", requires=["beta>=2"])
    async with open_api(tmp_path / "data", database_url, find_links=[str(links)]) as api:
        yield api


async def _settle(api: Api) -> None:
    """Wait for builds and for the activation that follows a successful one."""
    await api.runtime.builder.drain()
    await api.runtime.activator.drain()


async def test_requirements_build_then_run(built: Api) -> None:
    created = await built.deploy("uses-alpha", USES_ALPHA)
    assert created.status_code == 201, created.text
    assert created.json()["config"]["state"] == "pending"
    assert created.json()["latest_version"] is None
    await _settle(built)
    version = (await built.client.get("/api/v1/functions/uses-alpha/versions/1")).json()
    assert version["state"] == "ready", version
    invoked = await built.invoke("uses-alpha")
    assert invoked.status_code == 200, invoked.text
    assert invoked.json() == {"alpha": "1.0"}
    log = (await built.client.get("/api/v1/functions/uses-alpha/versions/1/build-log")).text
    assert "alpha" in log and "environment" in log


async def test_same_requirements_share_one_environment(built: Api) -> None:
    await built.deploy("first", USES_ALPHA)
    await _settle(built)
    await built.deploy("second", USES_ALPHA)
    await _settle(built)
    log = (await built.client.get("/api/v1/functions/second/versions/1/build-log")).text
    assert "reused a cached environment" in log
    environments = (await built.client.get("/api/v1/environments")).json()["items"]
    assert len(environments) == 1 and environments[0]["in_use"] is True
    assert (await built.invoke("second")).json() == {"alpha": "1.0"}


async def test_a_failed_build_never_breaks_the_working_version(built: Api) -> None:
    await built.deploy("fn", USES_ALPHA)
    await _settle(built)
    conflicting = {**USES_ALPHA, "requirements.txt": "alpha\ngamma\n"}
    response = await built.client.put(
        "/api/v1/functions/fn",
        files={"code": ("c.zip", zip_bytes(conflicting), "application/zip")},
    )
    assert response.status_code == 200
    assert response.json()["latest_version"] == 1
    await _settle(built)
    failed = (await built.client.get("/api/v1/functions/fn/versions/2")).json()
    assert failed["state"] == "failed"
    assert "conflict" in failed["error"] or "no set of versions" in failed["error"]
    assert (await built.invoke("fn")).json() == {"alpha": "1.0"}  # latest is still v1
    not_ready = await built.invoke("fn", version=2)
    assert not_ready.status_code == 409
    assert not_ready.json()["error"] == "VersionNotReady"
    assert not_ready.json()["detail"]["state"] == "failed"


async def test_unknown_package_fails_with_its_name(built: Api) -> None:
    await built.deploy("missing", {**USES_ALPHA, "requirements.txt": "no-such-package\n"})
    await _settle(built)
    version = (await built.client.get("/api/v1/functions/missing/versions/1")).json()
    assert version["state"] == "failed"
    assert (
        "no-such-package"
        in (await built.client.get("/api/v1/functions/missing/versions/1/build-log")).text
    )


async def test_malformed_requirements_fail_the_deploy_at_once(built: Api) -> None:
    bad = {**USES_ALPHA, "requirements.txt": "alpha\n--index-url http://evil.example/simple\n"}
    response = await built.deploy("bad-reqs", bad)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "InvalidRequirements"
    assert body["detail"]["line"] == 2


async def test_build_log_follows_live_over_server_sent_events(built: Api) -> None:
    await built.deploy("live", USES_ALPHA)
    async with built.client.stream(
        "GET", "/api/v1/functions/live/versions/1/build-log", params={"follow": "true"}
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join([chunk async for chunk in stream.aiter_text()])
    assert "event: log" in text
    assert text.rstrip().endswith("event: end\ndata: ready")


async def test_rebuild_after_prune_installs_the_stored_lock(built: Api) -> None:
    await built.deploy("fn", USES_ALPHA)
    await _settle(built)
    assert (await built.invoke("fn")).status_code == 200
    await built.client.delete("/api/v1/functions/fn")
    pruned = (await built.client.post("/api/v1/environments/prune", params={"grace_s": 0})).json()
    assert len(pruned["removed"]) == 1
    assert (await built.client.get("/api/v1/environments")).json()["items"] == []


async def test_a_pruned_environment_of_a_live_version_is_rebuilt_not_installed_at_invoke(
    built: Api,
) -> None:
    await built.deploy("fn", USES_ALPHA)
    await _settle(built)
    store = built.runtime.builder.store
    [environment] = await store.list_environments()
    removed = await store.prune(set(), grace_s=0)  # as if an operator wiped it
    assert removed == [environment.key]
    built.runtime.catalog.clear()  # the next call looks the version up again
    response = await built.invoke("fn")
    assert response.status_code == 409, response.text
    assert response.json()["detail"]["state"] == "building"
    await _settle(built)
    again = await built.invoke("fn")
    assert again.status_code == 200 and again.json() == {"alpha": "1.0"}, again.text


async def test_concurrent_deploys_of_the_same_requirements(built: Api) -> None:
    responses = await asyncio.gather(*(built.deploy(f"fn-{i}", USES_ALPHA) for i in range(4)))
    assert all(r.status_code == 201 for r in responses)
    await _settle(built)
    for i in range(4):
        assert (await built.invoke(f"fn-{i}")).json() == {"alpha": "1.0"}
    assert len((await built.client.get("/api/v1/environments")).json()["items"]) == 1


async def test_the_collector_removes_environments_no_live_version_uses(
    tmp_path: Path, database_url: str
) -> None:
    links = tmp_path / "links"
    links.mkdir()
    write_wheel(str(links), "alpha", "1.0")
    write_wheel(str(links), "beta", "1.5")
    overrides = {"find_links": [str(links)], "env_gc_grace_s": 0.0}
    async with open_api(tmp_path / "data", database_url, **overrides) as api:
        await api.deploy("kept", {**USES_ALPHA, "requirements.txt": "alpha\n"})
        await api.deploy("dropped", {**USES_ALPHA, "requirements.txt": "alpha\nbeta\n"})
        await _settle(api)
        assert len(await api.runtime.builder.store.list_environments()) == 2
        await api.client.delete("/api/v1/functions/dropped")
        removed = await api.runtime.builder.collect_garbage()  # the periodic round
        assert len(removed) == 1
        assert (await api.invoke("kept")).json() == {"alpha": "1.0"}


async def test_a_build_whose_module_fails_to_import_fails_and_latest_stays(built: Api) -> None:
    await built.deploy("fn", USES_ALPHA)
    await _settle(built)
    undeclared = {
        **USES_ALPHA,
        "main.py": "import alpha\nimport not_declared\n\ndef handler(event, context):\n"
        "    return 2\n",
    }
    response = await built.client.put(
        "/api/v1/functions/fn",
        files={"code": ("c.zip", zip_bytes(undeclared), "application/zip")},
    )
    assert response.status_code == 200 and response.json()["config"]["state"] == "pending"
    async with built.client.stream(
        "GET", "/api/v1/functions/fn/versions/2/build-log", params={"follow": "true"}
    ) as stream:
        events = "".join([chunk async for chunk in stream.aiter_text()])
    # Every line of the traceback is an event of its own, and the build ends failed.
    assert "event: log\ndata: Traceback (most recent call last):\n\n" in events
    assert "data: ModuleNotFoundError: No module named 'not_declared'\n\n" in events
    assert events.rstrip().endswith("event: end\ndata: failed")
    await _settle(built)
    failed = (await built.client.get("/api/v1/functions/fn/versions/2")).json()
    assert failed["state"] == "failed"
    assert "ModuleNotFoundError: No module named 'not_declared'" in failed["error"]
    assert "Traceback (most recent call last)" in failed["error"]
    log = (await built.client.get("/api/v1/functions/fn/versions/2/build-log")).text
    assert "is ready" in log and "No module named 'not_declared'" in log
    assert (await built.client.get("/api/v1/functions/fn")).json()["latest_version"] == 1
    assert (await built.invoke("fn")).json() == {"alpha": "1.0"}

    fixed = {**USES_ALPHA, "main.py": "import alpha\ndef handler(event, context):\n    return 3\n"}
    await built.client.put(
        "/api/v1/functions/fn", files={"code": ("c.zip", zip_bytes(fixed), "application/zip")}
    )
    await _settle(built)
    assert (await built.client.get("/api/v1/functions/fn")).json()["latest_version"] == 3
    assert (await built.invoke("fn")).json() == 3
