"""Function URLs through the real app, on SQLite and PostgreSQL: handlers written for Lambda
function URLs and API Gateway HTTP APIs run unmodified behind `/fn/{namespace}/{function}/`."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import Api

# A handler as one writes it for a Lambda function URL: a router on rawPath.
ROUTER = {
    "main.py": """
import base64, json

def handler(event, context):
    path = event["rawPath"]
    method = event["requestContext"]["http"]["method"]
    if path == "/hello":
        name = (event.get("queryStringParameters") or {}).get("name", "world")
        return {"statusCode": 200, "headers": {"Content-Type": "text/plain"},
                "body": f"hello {name}"}
    if path == "/cookies":
        return {"statusCode": 201, "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
                "body": json.dumps({"got": event.get("cookies", [])})}
    if path == "/binary":
        data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else b""
        return {"statusCode": 200, "isBase64Encoded": True,
                "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(data[::-1]).decode()}
    if path == "/event":
        return event
    if path == "/plain":
        return ["a", "plain", "value"]
    if path == "/broken":
        return {"statusCode": "teapot"}
    if path == "/raise":
        raise ValueError("no such thing")
    return {"statusCode": 404, "body": json.dumps({"path": path, "method": method})}
"""
}


async def _ready(api: Api, name: str, auth: str = "none", **cors: Any) -> dict[str, Any]:
    assert (await api.deploy(name, ROUTER)).status_code == 201
    body: dict[str, Any] = {"auth": auth}
    if cors:
        body["cors"] = cors
    answer = await api.client.put(f"/api/v1/functions/{name}/url", json=body)
    assert answer.status_code == 200, answer.text
    shown: dict[str, Any] = answer.json()
    return shown


def _anonymous(api: Api) -> httpx.AsyncClient:
    """The same app without the admin key: a stranger on the internet."""
    return httpx.AsyncClient(transport=api.client._transport, base_url="http://fn.example")


async def test_a_router_on_raw_path_with_query_and_status(api: Api) -> None:
    shown = await _ready(api, "router")
    assert shown["enabled"] is True and shown["auth"] == "none"
    assert shown["path"] == "/fn/default/router/"
    assert shown["url"] == "http://sandlot.test/fn/default/router/"
    async with _anonymous(api) as client:
        hello = await client.get("/fn/default/router/hello", params={"name": "ada"})
        assert hello.status_code == 200, hello.text
        assert hello.text == "hello ada"
        assert hello.headers["content-type"] == "text/plain"
        assert hello.headers["x-sandlot-invocation-id"]
        other = await client.delete("/fn/default/router/no/such/page")
        assert other.status_code == 404
        assert other.json() == {"path": "/no/such/page", "method": "DELETE"}
        root = await client.post("/fn/default/router")
        assert root.json()["path"] == "/"


async def test_the_event_is_payload_2_0(api: Api) -> None:
    await _ready(api, "shape")
    async with _anonymous(api) as client:
        answer = await client.post(
            "/fn/default/shape/event?b=2&a=1&a=3&empty=",
            content=b'{"x": 1}',
            headers=[
                ("content-type", "application/json"),
                ("x-many", "one"),
                ("x-many", "two"),
                ("cookie", "theme=dark; lang=en"),
                ("user-agent", "tests/1.0"),
            ],
        )
    assert answer.status_code == 200, answer.text
    event = answer.json()
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/event"
    assert event["rawQueryString"] == "b=2&a=1&a=3&empty="
    assert event["queryStringParameters"] == {"a": "1,3", "b": "2", "empty": ""}
    assert event["cookies"] == ["theme=dark", "lang=en"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-many"] == "one,two"
    assert event["headers"]["host"] == "fn.example"
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/event",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests/1.0",
    }
    assert context["domainName"] == "fn.example" and context["domainPrefix"] == "fn"
    assert context["stage"] == "$default" and context["routeKey"] == "$default"
    assert isinstance(context["timeEpoch"], int) and context["time"].endswith("+0000")
    assert context["requestId"] and context["accountId"] and context["apiId"]


async def test_cookies_in_and_set_cookie_out(api: Api) -> None:
    await _ready(api, "cookies")
    async with _anonymous(api) as client:
        answer = await client.get("/fn/default/cookies/cookies", headers={"cookie": "k=v"})
    assert answer.status_code == 201
    assert answer.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert answer.json() == {"got": ["k=v"]}


async def test_a_binary_body_round_trips(api: Api) -> None:
    await _ready(api, "binary")
    data = bytes(range(256)) * 4
    async with _anonymous(api) as client:
        answer = await client.post(
            "/fn/default/binary/binary",
            content=data,
            headers={"content-type": "application/octet-stream"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.content == data[::-1]


async def test_a_plain_value_is_a_json_200(api: Api) -> None:
    await _ready(api, "plain")
    async with _anonymous(api) as client:
        answer = await client.get("/fn/default/plain/plain")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == ["a", "plain", "value"]


async def test_a_function_error_or_a_broken_response_is_a_502(api: Api) -> None:
    await _ready(api, "fails")
    async with _anonymous(api) as client:
        raised = await client.get("/fn/default/fails/raise")
        broken = await client.get("/fn/default/fails/broken")
    assert raised.status_code == 502
    assert raised.json()["error"] == "FunctionError"
    assert "Traceback" not in raised.json()["detail"]["message"]
    assert broken.status_code == 502
    assert broken.json()["error"] == "FunctionUrlResponseInvalid"
    assert broken.json()["detail"]["invocation_id"]


async def test_a_url_call_is_an_invocation_with_trigger_url(api: Api) -> None:
    await _ready(api, "counted")
    async with _anonymous(api) as client:
        answer = await client.get("/fn/default/counted/hello")
    invocation_id = answer.headers["x-sandlot-invocation-id"]
    found = await api.client.get(f"/api/v1/invocations/{invocation_id}")
    assert found.status_code == 200, found.text
    assert found.json()["trigger"] == "url"
    assert found.json()["state"] == "succeeded"


async def test_no_url_unknown_function_and_deleted_url_answer_alike(api: Api) -> None:
    assert (await api.deploy("private", ROUTER)).status_code == 201
    await _ready(api, "public")
    async with _anonymous(api) as client:
        no_url = await client.get("/fn/default/private/hello")
        no_function = await client.get("/fn/default/nothing/hello")
        no_namespace = await client.get("/fn/elsewhere/public/hello")
        assert (await client.get("/fn/default/public/hello")).status_code == 200
        assert (await api.client.delete("/api/v1/functions/public/url")).status_code == 204
        deleted = await client.get("/fn/default/public/hello")
    answers = [no_url, no_function, no_namespace, deleted]
    assert {answer.status_code for answer in answers} == {404}
    assert {answer.json()["error"] for answer in answers} == {"FunctionUrlNotFound"}
    shown = (await api.client.get("/api/v1/functions/public/url")).json()
    assert shown["enabled"] is False and shown["auth"] is None


async def test_auth_key_needs_a_key_that_may_invoke(api: Api) -> None:
    await _ready(api, "guarded", auth="key")
    viewer = await api.client.post("/api/v1/keys", json={"name": "v", "role": "viewer"})
    invoker = await api.client.post("/api/v1/keys", json={"name": "i", "role": "invoker"})
    async with _anonymous(api) as client:
        missing = await client.get("/fn/default/guarded/hello")
        wrong = await client.get(
            "/fn/default/guarded/hello", headers={"authorization": "Bearer sl_nope_" + "x" * 40}
        )
        denied = await client.get(
            "/fn/default/guarded/hello",
            headers={"authorization": f"Bearer {viewer.json()['key']}"},
        )
        allowed = await client.get(
            "/fn/default/guarded/event",
            headers={"authorization": f"Bearer {invoker.json()['key']}"},
        )
    assert missing.status_code == 401 and missing.json()["error"] == "Unauthenticated"
    assert wrong.status_code == 401
    assert denied.status_code == 403 and denied.json()["error"] == "PermissionDenied"
    assert allowed.status_code == 200, allowed.text
    # The key the URL consumed is not handed to the function.
    assert "authorization" not in allowed.json()["headers"]


async def test_cors_preflight_and_response_headers(api: Api) -> None:
    await _ready(
        api,
        "cors",
        allow_origins=["https://app.example"],
        allow_methods=["GET", "POST"],
        allow_headers=["content-type", "x-token"],
        expose_headers=["x-sandlot-invocation-id"],
        max_age=600,
    )
    preflight_headers = {
        "origin": "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    async with _anonymous(api) as client:
        preflight = await client.options("/fn/default/cors/hello", headers=preflight_headers)
        stranger = await client.options(
            "/fn/default/cors/hello",
            headers={**preflight_headers, "origin": "https://evil.example"},
        )
        actual = await client.get(
            "/fn/default/cors/hello", headers={"origin": "https://app.example"}
        )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-methods"] == "GET, POST"
    assert preflight.headers["access-control-allow-headers"] == "content-type, x-token"
    assert preflight.headers["access-control-max-age"] == "600"
    assert "x-sandlot-preflight" not in preflight.headers
    assert "access-control-allow-origin" not in stranger.headers
    assert actual.status_code == 200
    assert actual.headers["access-control-allow-origin"] == "https://app.example"
    assert actual.headers["access-control-expose-headers"] == "x-sandlot-invocation-id"


async def test_an_event_over_max_event_bytes_is_a_413(api: Api) -> None:
    await _ready(api, "big")
    limit = api.settings.max_event_bytes
    async with _anonymous(api) as client:
        answer = await client.post("/fn/default/big/event", content=b"x" * (limit + 1))
    assert answer.status_code == 413
    assert answer.json()["error"] == "EventTooLarge"


async def test_bad_settings_are_named(api: Api) -> None:
    assert (await api.deploy("settings", ROUTER)).status_code == 201
    url = "/api/v1/functions/settings/url"
    bad_origin = await api.client.put(
        url, json={"auth": "none", "cors": {"allow_origins": ["not a url"]}}
    )
    assert bad_origin.status_code == 400 and bad_origin.json()["error"] == "InvalidFunctionUrl"
    wildcard = await api.client.put(
        url, json={"auth": "none", "cors": {"allow_origins": ["*"], "allow_credentials": True}}
    )
    assert wildcard.status_code == 400
    assert (await api.client.put(url, json={"auth": "open"})).status_code == 422
    missing = await api.client.put("/api/v1/functions/nothing/url", json={"auth": "none"})
    assert missing.status_code == 404 and missing.json()["error"] == "FunctionNotFound"


async def test_the_console_session_cookie_never_reaches_the_function(api: Api) -> None:
    await _ready(api, "nosy")
    async with _anonymous(api) as client:
        answer = await client.get(
            "/fn/default/nosy/event",
            headers={"cookie": "sandlot_session=secret-token; mine=1", "x-csrf-token": "t"},
        )
    event = answer.json()
    assert event["cookies"] == ["mine=1"]
    assert "x-csrf-token" not in event["headers"]
    assert "secret-token" not in json.dumps(event)


async def test_setting_and_deleting_a_url_is_audited(api: Api) -> None:
    await _ready(api, "audited", allow_origins=["https://app.example"])
    assert (await api.client.delete("/api/v1/functions/audited/url")).status_code == 204
    answer = await api.client.get("/api/v1/audit", params={"action": "function_url."})
    events = {event["action"]: event for event in answer.json()["items"]}
    assert events["function_url.set"]["target"] == "function:audited"
    assert events["function_url.set"]["detail"] == {
        "alias": "latest",
        "auth": "none",
        "cors_origins": ["https://app.example"],
    }
    assert events["function_url.delete"]["detail"] == {"alias": "latest", "existed": True}


async def test_a_function_made_again_does_not_inherit_the_old_url(api: Api) -> None:
    await _ready(api, "reborn")
    async with _anonymous(api) as client:
        assert (await client.get("/fn/default/reborn/hello")).status_code == 200  # cached now
        assert (await api.client.delete("/api/v1/functions/reborn")).status_code == 204
        gone = await client.get("/fn/default/reborn/hello")
        assert (await api.deploy("reborn", ROUTER)).status_code == 201
        again = await client.get("/fn/default/reborn/hello")
    assert gone.status_code == again.status_code == 404
    assert gone.json() == again.json()
    assert again.json()["error"] == "FunctionUrlNotFound"
