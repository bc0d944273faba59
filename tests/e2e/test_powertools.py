"""Handlers written the way AWS Lambda Powertools uses the runtime, with the real
`aws-lambda-powertools` from PyPI as a declared dependency, on a real `sandlot serve`:
Logger with `inject_lambda_context`, the event-source data classes, and the event handler
answering API Gateway events and a function URL call through the /fn/ door.

One server for the file; every function deploys the same folder, so the one environment is
built once and shared (it is content-addressed by its lock)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandlot.domain.arns import function_arn
from tests.conftest import LiveServer, start_server, stop_server, zip_bytes

pytestmark = pytest.mark.slow

REQUIREMENTS = "aws-lambda-powertools>=3,<4\n"

LOGS = """
from aws_lambda_powertools import Logger

logger = Logger(service="shop")


@logger.inject_lambda_context
def handler(event, context):
    logger.info("order placed", extra={"order": event["order"]})
    return {"ok": True}
"""

EVENTS = """
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source


@event_source(data_class=APIGatewayProxyEvent)
def handler(event: APIGatewayProxyEvent, context):
    return {
        "method": event.http_method,
        "path": event.path,
        "name": event.get_query_string_value("name"),
        "body": event.json_body,
        "user_agent": event.request_context.identity.user_agent,
        "remaining_ok": context.get_remaining_time_in_millis() > 0,
    }
"""

ROUTES = """
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, LambdaFunctionUrlResolver

url_app = LambdaFunctionUrlResolver()
rest_app = APIGatewayRestResolver()


@url_app.get("/hello/<name>")
def hello(name):
    return {"hello": name, "x": url_app.current_event.get_query_string_value("x")}


@url_app.post("/orders")
def order():
    return {"order": url_app.current_event.json_body}, 201


@rest_app.get("/items/<item>")
def item(item):
    return {"item": item}


def url(event, context):
    return url_app.resolve(event, context)


def rest(event, context):
    return rest_app.resolve(event, context)
"""

FILES = {
    "logs.py": LOGS,
    "events.py": EVENTS,
    "routes.py": ROUTES,
    "requirements.txt": REQUIREMENTS,
}


def _rest_event(method: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
    """An API Gateway REST (payload 1.0) proxy event, as Lambda's console test events have."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "User-Agent": "tests/1.0"},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "tests/1.0"},
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


class Sandlot:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.client = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.api_key}"},
            timeout=60,
        )

    def deploy(self, name: str, handler: str) -> None:
        answer = self.client.post(
            "/api/v1/functions",
            data={"name": name, "handler": handler},
            files={"code": ("code.zip", zip_bytes(FILES), "application/zip")},
        )
        assert answer.status_code == 201, answer.text
        self._wait_ready(name)

    def _wait_ready(self, name: str, timeout_s: float = 600) -> None:
        # The first deploy installs Powertools from the package index: bounded, not timed.
        deadline = time.monotonic() + timeout_s
        while True:
            version = self.client.get(f"/api/v1/functions/{name}/versions/1").json()
            if version["state"] == "ready":
                return
            assert version["state"] in ("pending", "building"), version
            assert time.monotonic() < deadline, f"{name} still {version['state']}"
            time.sleep(0.2)  # polling a build; nothing to wait on instead

    def invoke(self, name: str, event: Any) -> httpx.Response:
        answer = self.client.post(f"/api/v1/functions/{name}/invoke", json=event)
        assert answer.status_code == 200, answer.text
        return answer

    def logs(self, answer: httpx.Response) -> str:
        invocation_id = answer.headers["x-sandlot-invocation-id"]
        return self.client.get(f"/api/v1/invocations/{invocation_id}/logs").text


@pytest.fixture(scope="module")
def sandlot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandlot]:
    server = start_server(tmp_path_factory.mktemp("powertools") / "data")
    api = Sandlot(server)
    try:
        api.deploy("pt-logs", "logs.handler")
        api.deploy("pt-events", "events.handler")
        api.deploy("pt-url", "routes.url")
        api.deploy("pt-rest", "routes.rest")
        yield api
    finally:
        api.client.close()
        stop_server(server)


def _json_lines(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def test_logger_with_inject_lambda_context_carries_the_context(sandlot: Sandlot) -> None:
    answer = sandlot.invoke("pt-logs", {"order": 42})
    assert answer.json() == {"ok": True}
    request_id = answer.headers["x-sandlot-invocation-id"]
    records = [r for r in _json_lines(sandlot.logs(answer)) if r.get("message") == "order placed"]
    assert len(records) == 1, records  # its own handler only, not the root's as well
    record = records[0]
    assert record["level"] == "INFO" and record["service"] == "shop"
    assert record["order"] == 42
    assert record["function_name"] == "pt-logs"
    assert record["function_request_id"] == request_id
    assert record["function_arn"] == function_arn("us-east-1", "default", "pt-logs")
    assert str(record["function_memory_size"]) == "256"
    assert record["cold_start"] is True
    again = sandlot.invoke("pt-logs", {"order": 43})
    second = [r for r in _json_lines(sandlot.logs(again)) if r.get("message") == "order placed"]
    assert second[0]["cold_start"] is False and second[0]["order"] == 43


def test_event_source_data_classes_read_an_api_gateway_event(sandlot: Sandlot) -> None:
    event = _rest_event("POST", "/basket", {"name": "ada"}, {"items": [1, 2]})
    assert sandlot.invoke("pt-events", event).json() == {
        "method": "POST",
        "path": "/basket",
        "name": "ada",
        "body": {"items": [1, 2]},
        "user_agent": "tests/1.0",
        "remaining_ok": True,
    }


def test_the_rest_resolver_routes_an_api_gateway_event(sandlot: Sandlot) -> None:
    found = sandlot.invoke("pt-rest", _rest_event("GET", "/items/7", {}, None)).json()
    assert found["statusCode"] == 200 and json.loads(found["body"]) == {"item": "7"}
    missing = sandlot.invoke("pt-rest", _rest_event("GET", "/nothing", {}, None)).json()
    assert missing["statusCode"] == 404


def test_the_function_url_resolver_answers_through_the_fn_door(sandlot: Sandlot) -> None:
    enabled = sandlot.client.put("/api/v1/functions/pt-url/url", json={"auth": "none"})
    assert enabled.status_code == 200, enabled.text
    with httpx.Client(base_url=sandlot.server.url, timeout=60) as anonymous:
        hello = anonymous.get("/fn/default/pt-url/hello/ada", params={"x": "1"})
        assert hello.status_code == 200, hello.text
        assert hello.json() == {"hello": "ada", "x": "1"}
        assert hello.headers["content-type"].startswith("application/json")
        created = anonymous.post("/fn/default/pt-url/orders", json={"sku": "a-1"})
        assert created.status_code == 201, created.text
        assert created.json() == {"order": {"sku": "a-1"}}
        missing = anonymous.get("/fn/default/pt-url/no/such/route")
        assert missing.status_code == 404
