"""Lambda's runtime through the real app, on SQLite and PostgreSQL: the ARN a handler sees
names the alias or version the call was routed by (sync and async), a caller's client
context reaches `context.client_context`, and a version's log level is configuration."""

from __future__ import annotations

import json
from typing import Any

import httpx

from sandlot.domain.arns import function_arn
from sandlot.domain.models import Principal, Role
from sandlot.services import invocations
from sandlot.storage.keys import NamespaceRepo
from tests.api.test_async_runner import ended, queue
from tests.conftest import Api, zip_bytes

SEES = {
    "main.py": """
import logging, os

log = logging.getLogger("fn")

def handler(event, context):
    log.debug("a debug line")
    log.info("an info line")
    log.warning("a warning line")
    client = context.client_context
    return {
        "arn": context.invoked_function_arn,
        "custom": None if client is None else client.custom,
        "level": logging.getLevelName(logging.getLogger().level),
        "env_level": os.environ.get("AWS_LAMBDA_LOG_LEVEL"),
    }
"""
}


async def _call(api: Api, path: str, **params: Any) -> dict[str, Any]:
    answer = await api.client.post(f"/api/v1/functions/{path}/invoke", content=b"{}", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _put_form(api: Api, name: str, **fields: str) -> httpx.Response:
    """A multipart update, as the console and curl send one."""
    code = {"code": ("code.zip", zip_bytes(SEES), "application/zip")}
    return await api.client.put(f"/api/v1/functions/{name}", data=fields, files=code)


async def _logs(api: Api, answer_headers: httpx.Headers) -> str:
    invocation_id = answer_headers["x-sandlot-invocation-id"]
    return (await api.client.get(f"/api/v1/invocations/{invocation_id}/logs")).text


async def test_the_arn_names_what_the_call_was_routed_by(api: Api) -> None:
    assert (await api.deploy("sees", SEES)).status_code == 201
    assert (await _put_form(api, "sees", memory_mb="192")).status_code == 200
    put = await api.client.put("/api/v1/functions/sees/aliases/prod", json={"version": 1})
    assert put.status_code == 201, put.text
    arn = function_arn(api.settings.aws_region, "default", "sees")
    assert (await _call(api, "sees"))["arn"] == arn  # latest: unqualified, as on Lambda
    assert (await _call(api, "sees:prod"))["arn"] == f"{arn}:prod"
    assert (await _call(api, "sees", version=1))["arn"] == f"{arn}:1"
    # Async calls keep what they were routed by until they run.
    for path, params, expected in (
        ("sees", {}, arn),
        ("sees:prod", {}, f"{arn}:prod"),
        ("sees", {"version": 2}, f"{arn}:2"),
    ):
        answer = await api.client.post(
            f"/api/v1/functions/{path}/invoke",
            content=b"{}",
            params=params,
            headers={"Prefer": "respond-async", "Content-Type": "application/json"},
        )
        assert answer.status_code == 202, answer.text
        body = await ended(api, answer.json()["id"])
        assert body["state"] == "succeeded", body
        assert body["result"]["arn"] == expected, (path, params)
    # The queue helper of the async tests, for good measure: unqualified again.
    assert (await ended(api, await queue(api, "sees", {})))["result"]["arn"] == arn


async def test_a_client_context_reaches_the_handler(api: Api) -> None:
    assert (await api.deploy("sees", SEES)).status_code == 201
    async with api.runtime.database.sessions() as session:
        namespace = await NamespaceRepo(session).get_by_name("default")
    assert namespace is not None
    principal = Principal(
        key_id="k", namespace_id=namespace.id, namespace="default", role=Role.ADMIN
    )
    invoked = await invocations.invoke(
        invoker=api.runtime.invoker,
        principal=principal,
        name="sees",
        version=None,
        body=b"{}",
        client_context={"custom": {"tenant": "t-9"}, "env": {}, "client": {}},
    )
    assert invoked.outcome.result_json is not None
    assert json.loads(invoked.outcome.result_json)["custom"] == {"tenant": "t-9"}
    plain = await _call(api, "sees")
    assert plain["custom"] is None


async def test_the_log_level_is_part_of_a_versions_configuration(api: Api) -> None:
    created = await api.deploy("sees", SEES)
    assert created.status_code == 201, created.text
    first = (await api.client.get("/api/v1/functions/sees/versions/1")).json()
    assert first["log_level"] is None
    answer = await api.client.post("/api/v1/functions/sees/invoke", content=b"{}")
    assert answer.json()["level"] == "INFO" and answer.json()["env_level"] is None
    logs = await _logs(api, answer.headers)
    assert "an info line" in logs and "a debug line" not in logs

    # A JSON update sets it: a new version, with the same code.
    updated = await api.client.put("/api/v1/functions/sees", json={"log_level": "WARNING"})
    assert updated.status_code == 200, updated.text
    second = (await api.client.get("/api/v1/functions/sees/versions/2")).json()
    assert second["log_level"] == "WARNING"
    answer = await api.client.post("/api/v1/functions/sees/invoke", content=b"{}")
    assert answer.json() | {"arn": None} == {
        "arn": None,
        "custom": None,
        "level": "WARNING",
        "env_level": "WARN",  # Lambda's spelling
    }
    logs = await _logs(api, answer.headers)
    assert "a warning line" in logs and "an info line" not in logs

    # A multipart deploy sets it too; a change of anything else keeps it.
    assert (await _put_form(api, "sees", log_level="DEBUG")).status_code == 200
    assert (await api.client.put("/api/v1/functions/sees", json={"memory_mb": 320})).is_success
    fourth = (await api.client.get("/api/v1/functions/sees/versions/4")).json()
    assert fourth["log_level"] == "DEBUG" and fourth["memory_mb"] == 320
    answer = await api.client.post("/api/v1/functions/sees/invoke", content=b"{}")
    assert "a debug line" in await _logs(api, answer.headers)
    diff = (await api.client.get("/api/v1/functions/sees/versions/2/diff")).json()
    assert {"field": "log_level", "before": None, "after": "WARNING"} in diff["config"]

    # A level Python does not name is a named refusal, never a 500.
    for bad in ("verbose", "info", "WARN"):
        refused = await api.client.put("/api/v1/functions/sees", json={"log_level": bad})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "InvalidInput" and "log_level" in refused.text
    for bad in ("loud", ""):
        form = await _put_form(api, "sees", log_level=bad)
        assert form.status_code == 400 and form.json()["error"] == "InvalidInput", bad
