"""The OpenAPI document tells the truth: real answers checked against what it documents."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx
import jsonschema_rs
import pytest

from sandlot.app import served
from tests.conftest import ADMIN_KEY, HELLO, Api, zip_bytes

FAILING = {"main.py": "def handler(event, context):\n    raise ValueError('no')\n"}
API_METHODS = {"get", "put", "post", "delete", "patch"}


async def _document(api: Api) -> dict[str, Any]:
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _check_against(
    document: dict[str, Any], path: str, method: str, response: httpx.Response
) -> None:
    """The answer's status, content type and body are as the document says."""
    operation = document["paths"][path][method]
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (path, method, response.status_code, response.text)
    media_type = response.headers.get("content-type", "").split(";")[0]
    content = documented.get("content", {})
    assert media_type in content, (path, method, response.status_code, media_type, content)
    schema = content[media_type].get("schema")
    if schema and media_type == "application/json":
        validator = jsonschema_rs.Draft202012Validator(
            {**schema, "components": document["components"]}
        )
        validator.validate(response.json())


async def test_error_answers_are_as_documented(api: Api) -> None:
    document = await _document(api)
    await api.deploy("failing", FAILING)
    client = api.client
    nobody = {"Authorization": ""}
    cases = [
        ("/api/v1/invocations", "get", await client.get("/api/v1/invocations?limit=0")),
        ("/api/v1/invocations", "get", await client.get("/api/v1/invocations", headers=nobody)),
        ("/api/v1/functions", "post", await client.post("/api/v1/functions", json={})),
        ("/api/v1/functions", "post", await client.post("/api/v1/functions", data={"x": "1"})),
        ("/api/v1/functions/{name}", "get", await client.get("/api/v1/functions/nope")),
        (
            "/api/v1/functions/{name}/versions/{number}",
            "get",
            await client.get("/api/v1/functions/failing/versions/99999999999"),
        ),
        (
            "/api/v1/invocations/{invocation_id}/logs",
            "get",
            await client.get("/api/v1/invocations/nope/logs"),
        ),
        (
            "/api/v1/functions/{name}/versions/{number}/code",
            "get",
            await client.get("/api/v1/functions/failing/versions/7/code"),
        ),
        ("/api/v1/keys/{key_id}", "delete", await client.delete("/api/v1/keys/nope")),
        ("/api/v1/keys", "post", await client.post("/api/v1/keys", json={"role": "boss"})),
    ]
    invoke = "/api/v1/functions/{name}/invoke"
    for event, params in ((b"{bad", {}), (b"1", {"version": "0"}), (b"1", {})):
        answer = await client.post("/api/v1/functions/failing/invoke", content=event, params=params)
        cases.append((invoke, "post", answer))
    statuses = set()
    for path, method, response in cases:
        _check_against(document, path, method, response)
        statuses.add(response.status_code)
    assert statuses == {400, 401, 404, 422, 502}


async def test_success_answers_are_as_documented(api: Api) -> None:
    document = await _document(api)
    deployed = await api.deploy("hello", HELLO)
    _check_against(document, "/api/v1/functions", "post", deployed)
    invoked = await api.invoke("hello", {"name": "Ada"})
    invocation_id = invoked.headers["x-sandlot-invocation-id"]
    client = api.client
    cases = [
        ("/api/v1/functions/{name}/invoke", "post", invoked),
        ("/api/v1/functions", "get", await client.get("/api/v1/functions")),
        ("/api/v1/invocations", "get", await client.get("/api/v1/invocations")),
        (
            "/api/v1/invocations/{invocation_id}",
            "get",
            await client.get(f"/api/v1/invocations/{invocation_id}"),
        ),
        (
            "/api/v1/invocations/{invocation_id}/logs",
            "get",
            await client.get(f"/api/v1/invocations/{invocation_id}/logs"),
        ),
        (
            "/api/v1/functions/{name}/versions/{number}/code",
            "get",
            await client.get("/api/v1/functions/hello/versions/1/code"),
        ),
        (
            "/api/v1/functions/{name}/versions/{number}/build-log",
            "get",
            await client.get("/api/v1/functions/hello/versions/1/build-log"),
        ),
        ("/metrics", "get", await client.get("/metrics")),
        ("/readyz", "get", await client.get("/readyz")),
        ("/api/v1/keys", "get", await client.get("/api/v1/keys")),
    ]
    for path, method, response in cases:
        assert response.status_code < 300, (path, response.text)
        _check_against(document, path, method, response)


def _body(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    body: dict[str, Any] = document["paths"][path][method]["requestBody"]["content"]
    return body


async def test_deploy_bodies_are_documented_as_accepted(api: Api) -> None:
    document = await _document(api)
    create = _body(document, "/api/v1/functions", "post")
    update = _body(document, "/api/v1/functions/{name}", "put")
    assert set(create) == set(update) == {"multipart/form-data", "application/json"}
    assert set(create["multipart/form-data"]["schema"]["required"]) == {"name", "code"}
    # The JSON body's code is `code_base64` or `files`: one of them, checked by the route.
    assert set(create["application/json"]["schema"]["required"]) == {"name"}
    assert update["multipart/form-data"]["schema"]["required"] == []
    assert "required" not in update["application/json"]["schema"]
    assert create["multipart/form-data"]["schema"]["properties"]["memory_mb"]["maximum"] == 4096
    # What the document offers as an example deploys, and the update body takes any subset.
    example = create["application/json"]["schema"]["examples"][0]
    assert (await api.client.post("/api/v1/functions", json=example)).status_code == 201
    name = example["name"]
    nothing = await api.client.put(f"/api/v1/functions/{name}", json={})
    assert nothing.status_code == 200 and nothing.json()["unchanged"] is True  # no version
    form_field_only = {"memory_mb": (None, "128")}  # multipart without a file part
    changed = await api.client.put(f"/api/v1/functions/{name}", files=form_field_only)
    assert changed.status_code == 200, changed.text
    assert changed.json()["config"]["memory_mb"] == 128
    code = {"code": ("code.zip", zip_bytes(HELLO), "application/zip")}
    new_code = await api.client.put(f"/api/v1/functions/{name}", files=code)
    assert new_code.status_code == 200 and new_code.json()["latest_version"] == 3


def _concrete(path: str) -> str:
    return re.sub(r"\{number\}", "1", re.sub(r"\{[a-z_]+\}", "x", path))


async def test_a_405_lists_every_method_of_its_path(api: Api) -> None:
    document = await _document(api)
    for path, operations in document["paths"].items():
        documented = {method.upper() for method in operations if method in API_METHODS}
        for method in {"PATCH", "OPTIONS", "GET", "DELETE"} - documented:
            response = await api.client.request(method, _concrete(path))
            assert response.status_code == 405, (method, path, response.text)
            assert response.json()["error"] == "MethodNotAllowed"
            allowed = {part.strip() for part in response.headers["allow"].split(",")}
            assert allowed == documented, (method, path)


async def test_every_api_operation_takes_the_bearer_scheme(api: Api) -> None:
    document = await _document(api)
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"]["type"] == "http" and schemes["ApiKey"]["scheme"] == "bearer"
    assert schemes["SessionCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "sandlot_session",
        "description": schemes["SessionCookie"]["description"],
    }
    assert set(schemes) == {"ApiKey", "SessionCookie"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            signed_in = path.startswith("/api/v1/") and path != "/api/v1/auth/login"
            expected: list[dict[str, list[str]]] | None = (
                [{"ApiKey": []}, {"SessionCookie": []}] if signed_in else None
            )
            assert operation.get("security") == expected, (method, path)
    # What /docs' "Try it out" sends once a key is entered under Authorize, through the lean
    # invoke route as Uvicorn serves it.
    await api.deploy("hello", HELLO)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    served_app = httpx.ASGITransport(app=served(api.app))
    async with httpx.AsyncClient(transport=served_app, base_url="http://docs") as page:
        tried = await page.post(
            "/api/v1/functions/hello/invoke", json={"name": "Ada"}, headers=headers
        )
        assert tried.status_code == 200 and tried.json() == {"hello": "Ada"}


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [
            value for key, value in attrs if key in ("src", "href", "spec-url") and value
        ]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_doc_pages_load_only_their_own_assets(api: Api, page: str) -> None:
    response = await api.client.get(page)
    assert response.status_code == 200
    assert "http://" not in response.text and "https://" not in response.text
    references = _References()
    references.feed(response.text)
    assert len(references.found) >= 2, references.found
    kinds = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}
    for reference in [*references.found, "/openapi.json"]:
        assert reference.startswith("/") and not reference.startswith("//"), reference
        asset = await api.client.get(reference)
        assert asset.status_code == 200 and len(asset.content) > 100, reference
        kind = next(kind for suffix, kind in kinds.items() if reference.endswith(suffix))
        assert kind in asset.headers["content-type"], (reference, asset.headers)
