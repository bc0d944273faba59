"""A deploy never breaks a working function: a version is `ready` only once its handler has
imported inside its own sandbox, and `latest` never moves to one that failed to."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Api, zip_bytes
from tests.worker.helpers import instance_processes

GOOD_V1 = {"main.py": "def handler(event, context):\n    return 'v1'\n"}
GOOD_V3 = {"main.py": "def handler(event, context):\n    return 'v3'\n"}

# Each way a version can deploy cleanly yet fail to import, and what its error must say.
BROKEN: list[Any] = [
    pytest.param(
        "import not_installed_dep\n\ndef handler(event, context):\n    return 1\n",
        ["ModuleNotFoundError", "not_installed_dep", "Traceback (most recent call last)"],
        id="undeclared-package",
    ),
    pytest.param(
        "def handler(event, context):\n    return 1\n\nraise RuntimeError('no config')\n",
        ["RuntimeError: no config", "Traceback (most recent call last)", "main.py"],
        id="raises-at-module-level",
    ),
    pytest.param(
        # Only defined when a variable is set, so the deploy's static look lets it through.
        "import os\n\nif os.environ.get('NEVER_SET'):\n    def handler(event, context):\n"
        "        return 1\n",
        ["HandlerNotFound", "no attribute 'handler'"],
        id="handler-missing-dynamically",
    ),
    pytest.param(
        "handler = {'not': 'callable'}\n",
        ["HandlerNotFound", "is a dict, not a function"],
        id="handler-not-callable",
    ),
]


async def _put_code(api: Api, name: str, files: dict[str, str]) -> dict[str, Any]:
    response = await api.client.put(
        f"/api/v1/functions/{name}",
        files={"code": ("code.zip", zip_bytes(files), "application/zip")},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_zero_config_deploy_answers_ready_and_keeps_its_zygote(api: Api) -> None:
    created = await api.deploy("fn", GOOD_V1)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["config"]["state"] == "ready" and body["latest_version"] == 1
    log = (await api.client.get("/api/v1/functions/fn/versions/1/build-log")).text
    assert "no dependencies declared" in log
    assert "main.handler imported" in log
    first = await api.invoke("fn")
    assert first.status_code == 200 and first.json() == "v1"
    assert first.headers["x-sandlot-cold-start"] == "true"
    record = await api.client.get(f"/api/v1/invocations/{first.headers['x-sandlot-invocation-id']}")
    # Forked from the zygote the deploy's check started: the call imported nothing.
    assert record.json()["timings"]["zygote_ms"] == 0


@pytest.mark.parametrize(("source", "words"), BROKEN)
async def test_a_version_that_fails_to_import_fails_and_latest_stays(
    api: Api, source: str, words: list[str]
) -> None:
    assert (await api.deploy("fn", GOOD_V1)).status_code == 201
    assert (await api.invoke("fn")).json() == "v1"

    answer = await _put_code(api, "fn", {"main.py": source})
    assert answer["latest_version"] == 1
    assert answer["config"]["number"] == 2 and answer["config"]["state"] == "failed"
    for word in words:
        assert word in answer["config"]["error"], answer["config"]["error"]

    version = (await api.client.get("/api/v1/functions/fn/versions/2")).json()
    assert version["state"] == "failed" and version["error"] == answer["config"]["error"]
    log = (await api.client.get("/api/v1/functions/fn/versions/2/build-log")).text
    for word in words:
        assert word in log
    function = (await api.client.get("/api/v1/functions/fn")).json()
    assert function["latest_version"] == 1 and function["config"]["number"] == 1

    still = await api.invoke("fn")
    assert still.status_code == 200 and still.json() == "v1"
    assert still.headers["x-sandlot-version"] == "1"
    pinned = await api.invoke("fn", version=2)
    assert pinned.status_code == 409
    assert pinned.json()["error"] == "VersionNotReady"
    assert pinned.json()["detail"]["state"] == "failed"
    assert words[0] in pinned.json()["detail"]["error"]

    fixed = await _put_code(api, "fn", GOOD_V3)
    assert fixed["latest_version"] == 3 and fixed["config"]["state"] == "ready"
    assert (await api.invoke("fn")).json() == "v3"


async def test_a_first_version_that_fails_to_import_leaves_no_latest(api: Api) -> None:
    created = await api.deploy("fn", {"main.py": "import not_installed_dep\nhandler = 1\n"})
    assert created.status_code == 201
    assert created.json()["latest_version"] is None
    assert created.json()["config"]["state"] == "failed"
    invoked = await api.invoke("fn")
    assert invoked.status_code == 409 and invoked.json()["error"] == "VersionNotReady"


async def test_output_printed_while_failing_to_import_is_in_the_build_log(api: Api) -> None:
    source = "print('reading settings')\nraise KeyError('DATABASE_URL')\n"
    created = await api.deploy("fn", {"main.py": source})
    assert created.json()["config"]["state"] == "failed"
    log = (await api.client.get("/api/v1/functions/fn/versions/1/build-log")).text
    assert "reading settings" in log
    assert "KeyError: 'DATABASE_URL'" in log


async def test_a_function_deleted_during_its_check_leaves_nothing_running(api: Api) -> None:
    slow = {"main.py": "import time\ntime.sleep(1.5)\n\ndef handler(event, context):\n    pass\n"}
    deploy = asyncio.ensure_future(api.deploy("fn", slow))
    for _ in range(500):  # until the check has started
        versions = (await api.client.get("/api/v1/functions/fn/versions")).json()
        if versions.get("items") and versions["items"][0]["state"] == "building":
            break
        await asyncio.sleep(0.01)
    assert (await api.client.delete("/api/v1/functions/fn")).status_code == 204
    answer = await deploy  # it waited for the check, by when the function was gone
    assert answer.status_code == 404 and answer.json()["error"] == "FunctionNotFound"
    for _ in range(300):  # the zygote the check started is stopped in the background
        if not instance_processes():
            break
        await asyncio.sleep(0.01)
    assert not instance_processes()
