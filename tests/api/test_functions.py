"""Deploying and reading functions through the real app."""

from __future__ import annotations

import base64
import io
import platform
import zipfile

import pytest

from tests.conftest import HELLO, Api, zip_bytes


def _error(response_json: dict[str, object]) -> str:
    assert set(response_json) == {"error", "detail"}
    return str(response_json["error"])


async def test_create_makes_version_one_and_it_runs(api: Api) -> None:
    created = await api.deploy("hello", HELLO)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "hello" and body["latest_version"] == 1
    assert body["config"]["handler"] == "main.handler"
    assert body["config"]["memory_mb"] == 256 and body["config"]["timeout_s"] == 30
    invoked = await api.invoke("hello", {"name": "Ada"})
    assert invoked.status_code == 200, invoked.text
    assert invoked.json() == {"hello": "Ada"}


async def test_create_from_json_with_base64(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/functions",
        json={
            "name": "b64",
            "code_base64": base64.b64encode(zip_bytes(HELLO)).decode(),
            "memory_mb": 128,
            "env": {"GREETING": "hi"},
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["config"]["env"] == {"GREETING": "hi"}


async def test_update_makes_new_immutable_versions(api: Api) -> None:
    await api.deploy("fn", HELLO)
    changed = {"main.py": "def handler(event, context):\n    return 'v2'\n"}
    response = await api.client.put(
        "/api/v1/functions/fn",
        files={"code": ("c.zip", zip_bytes(changed), "application/zip")},
        data={"timeout_s": "5"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["latest_version"] == 2
    config_only = await api.client.put("/api/v1/functions/fn", json={"memory_mb": 512})
    assert config_only.json()["latest_version"] == 3
    assert config_only.json()["config"]["timeout_s"] == 5  # kept from version 2
    assert (await api.invoke("fn")).json() == "v2"
    assert (await api.invoke("fn", version=1)).json() == {"hello": "world"}
    versions = (await api.client.get("/api/v1/functions/fn/versions")).json()["items"]
    assert [v["number"] for v in versions] == [3, 2, 1]
    assert [v["memory_mb"] for v in versions] == [512, 256, 256]
    code = await api.client.get("/api/v1/functions/fn/versions/1/code")
    assert code.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(code.content)).namelist()
    assert names == ["main.py"]


async def test_pool_policy_is_part_of_a_version(api: Api) -> None:
    created = await api.deploy("policy", HELLO, max_concurrency="2", keep_alive_s="30")
    config = created.json()["config"]
    assert (config["max_concurrency"], config["min_warm"], config["keep_alive_s"]) == (2, 0, 30)
    updated = await api.client.put("/api/v1/functions/policy", json={"min_warm": 1})
    config = updated.json()["config"]
    assert (config["max_concurrency"], config["min_warm"], config["keep_alive_s"]) == (2, 1, 30)


async def test_list_get_delete(api: Api) -> None:
    await api.deploy("a-one", HELLO)
    await api.deploy("b-two", HELLO)
    listed = (await api.client.get("/api/v1/functions")).json()["items"]
    assert [f["name"] for f in listed] == ["a-one", "b-two"]
    assert (await api.invoke("a-one")).status_code == 200
    deleted = await api.client.delete("/api/v1/functions/a-one")
    assert deleted.status_code == 204
    missing = await api.client.get("/api/v1/functions/a-one")
    assert missing.status_code == 404 and _error(missing.json()) == "FunctionNotFound"
    assert (await api.invoke("a-one")).status_code == 404
    history = (await api.client.get("/api/v1/invocations", params={"function": "a-one"})).json()
    assert len(history["items"]) == 1  # the history outlives the function
    assert (await api.invoke("b-two")).status_code == 200  # the other one is untouched


@pytest.mark.parametrize(
    ("name", "fields", "files", "error"),
    [
        ("Bad_Name", {}, HELLO, "InvalidFunctionName"),
        ("x" * 64, {}, HELLO, "InvalidFunctionName"),
        ("ok", {"memory_mb": "32"}, HELLO, "InvalidLimit"),
        ("ok", {"memory_mb": "8192"}, HELLO, "InvalidLimit"),
        ("ok", {"timeout_s": "0"}, HELLO, "InvalidLimit"),
        ("ok", {"timeout_s": "901"}, HELLO, "InvalidLimit"),
        ("ok", {"timeout_s": "soon"}, HELLO, "InvalidInput"),
        ("ok", {"env": '{"A": "' + "x" * 5000 + '"}'}, HELLO, "InvalidLimit"),
        ("ok", {"env": "[1, 2]"}, HELLO, "InvalidInput"),
        ("ok", {"max_concurrency": "0"}, HELLO, "InvalidLimit"),
        ("ok", {"min_warm": "101"}, HELLO, "InvalidLimit"),
        ("ok", {"keep_alive_s": "-1"}, HELLO, "InvalidLimit"),
        ("ok", {"handler": "nope.handler"}, HELLO, "HandlerNotFound"),
        ("ok", {"handler": "main.missing"}, HELLO, "HandlerNotFound"),
        ("ok", {"handler": "not a handler"}, HELLO, "InvalidInput"),
        ("ok", {}, {"main.py": "def handler(:"}, "HandlerSyntaxError"),
    ],
)
async def test_bad_deploys_get_clear_4xx_errors(
    api: Api, name: str, fields: dict[str, str], files: dict[str, str], error: str
) -> None:
    response = await api.deploy(name, files, **fields)
    assert 400 <= response.status_code < 500, response.text
    assert _error(response.json()) == error
    assert response.json()["detail"]["message"]


async def test_duplicate_name_is_a_conflict(api: Api) -> None:
    await api.deploy("twice", HELLO)
    again = await api.deploy("twice", HELLO)
    assert again.status_code == 409 and _error(again.json()) == "FunctionAlreadyExists"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not a zip at all", "InvalidArchive"),
        (zip_bytes({"../escape.py": "x", "main.py": "def handler(e, c): 1"}), "InvalidArchive"),
        (zip_bytes({"/abs.py": "x", "main.py": "def handler(e, c): 1"}), "InvalidArchive"),
    ],
)
async def test_bad_zips_are_refused(api: Api, payload: bytes, error: str) -> None:
    response = await api.client.post(
        "/api/v1/functions",
        data={"name": "zipped"},
        files={"code": ("c.zip", payload, "application/zip")},
    )
    assert response.status_code == 400, response.text
    assert _error(response.json()) == error


async def test_wrong_content_type_and_missing_parts(api: Api) -> None:
    plain = await api.client.post(
        "/api/v1/functions", content=b"x", headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 400 and _error(plain.json()) == "InvalidInput"
    no_code = await api.client.post(
        "/api/v1/functions", data={"name": "nocode"}, files={"x": ("a", b"b")}
    )
    assert no_code.status_code == 400
    bad_json = await api.client.post("/api/v1/functions", json={"name": "x", "code_base64": "%%%"})
    assert bad_json.status_code == 400 and "base64" in bad_json.json()["detail"]["message"]
    unknown_field = await api.client.post("/api/v1/functions", json={"name": "x", "colour": "red"})
    assert unknown_field.status_code == 422 and _error(unknown_field.json()) == "ValidationError"


async def test_openapi_documents_the_routes(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    invoke = spec["paths"]["/api/v1/functions/{name}/invoke"]["post"]
    assert {"200", "429", "502", "504", "507"} <= set(invoke["responses"])
    assert "/api/v1/invocations/{invocation_id}/logs" in spec["paths"]


async def test_a_function_needing_another_python_is_refused_at_deploy(api: Api) -> None:
    here = platform.python_version()
    needs_newer = {
        "main.py": '# /// script\n# requires-python = ">=3.99"\n# ///\n' + HELLO["main.py"],
    }
    refused = await api.deploy("newer", needs_newer)
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["error"] == "PythonVersionUnsupported"
    assert body["detail"]["python_version"] == here
    assert body["detail"]["requires_python"] == ">=3.99"
    assert f"Python {here}" in body["detail"]["message"]
    assert (await api.client.get("/api/v1/functions/newer")).status_code == 404

    await api.deploy("fn", HELLO)
    pinned_old = {**HELLO, "pyproject.toml": '[project]\nname = "fn"\nrequires-python = "<3"\n'}
    response = await api.client.put(
        "/api/v1/functions/fn",
        files={"code": ("c.zip", zip_bytes(pinned_old), "application/zip")},
    )
    assert response.status_code == 400 and response.json()["error"] == "PythonVersionUnsupported"
    assert (await api.client.get("/api/v1/functions/fn")).json()["versions"] == 1

    met = {**HELLO, "pyproject.toml": f'[project]\nname = "fn"\nrequires-python = "=={here}"\n'}
    accepted = await api.client.put(
        "/api/v1/functions/fn", files={"code": ("c.zip", zip_bytes(met), "application/zip")}
    )
    assert accepted.status_code == 200 and accepted.json()["config"]["state"] == "ready"


ENV_ECHO = {
    "main.py": "import os\n\ndef handler(event, context):\n"
    "    return {k: v for k, v in os.environ.items() if len(k) == 1}\n"
}


async def test_env_set_and_unset_change_the_newest_versions_environment(api: Api) -> None:
    created = await api.deploy("fn", ENV_ECHO, env='{"A": "1", "B": "2"}')
    sha = created.json()["config"]["code_sha256"]
    changed = await api.client.put(
        "/api/v1/functions/fn", json={"env_set": {"B": "3", "C": "4"}, "env_unset": ["A", "Z"]}
    )
    assert changed.status_code == 200, changed.text
    config = changed.json()["config"]
    assert (config["number"], config["env"], config["code_sha256"]) == (
        2,
        {"B": "3", "C": "4"},
        sha,
    )
    assert (await api.invoke("fn")).json() == {"B": "3", "C": "4"}
    # The same through a multipart upload with new code.
    multipart = await api.client.put(
        "/api/v1/functions/fn",
        files={"code": ("c.zip", zip_bytes(ENV_ECHO), "application/zip")},
        data={"env_set": '{"D": "5"}', "env_unset": '["C"]'},
    )
    assert multipart.status_code == 200, multipart.text
    assert multipart.json()["config"]["env"] == {"B": "3", "D": "5"}
    versions = (await api.client.get("/api/v1/functions/fn/versions")).json()["items"]
    assert [v["env"] for v in versions][1:] == [{"B": "3", "C": "4"}, {"A": "1", "B": "2"}]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"env": {"A": "1"}, "env_set": {"B": "2"}}, 400, "InvalidInput"),
        ({"env_set": {"X": "1"}, "env_unset": ["X"]}, 400, "InvalidInput"),
        ({"env_set": {"SANDLOT_X": "1"}}, 400, "InvalidInput"),
        ({"env_unset": "A"}, 422, "ValidationError"),
        ({"env_set": {"A": 1}}, 422, "ValidationError"),
    ],
    ids=["with-env", "set-and-unset", "reserved", "unset-not-a-list", "value-not-a-string"],
)
async def test_bad_env_changes_are_refused_with_a_named_error(
    api: Api, body: dict[str, object], status: int, error: str
) -> None:
    await api.deploy("fn", ENV_ECHO)
    response = await api.client.put("/api/v1/functions/fn", json=body)
    assert response.status_code == status, response.text
    assert _error(response.json()) == error
    assert (await api.client.get("/api/v1/functions/fn")).json()["versions"] == 1


async def test_a_new_function_takes_env_not_env_changes(api: Api) -> None:
    response = await api.deploy("fn", ENV_ECHO, env_set='{"A": "1"}')
    assert response.status_code == 400 and _error(response.json()) == "InvalidInput"
    assert (await api.deploy("gn", ENV_ECHO)).status_code == 201
    multipart = await api.client.put(
        "/api/v1/functions/gn",
        files={"code": ("c.zip", zip_bytes(ENV_ECHO), "application/zip")},
        data={"env_unset": '{"not": "a list"}'},
    )
    assert multipart.status_code == 400 and _error(multipart.json()) == "InvalidInput"
