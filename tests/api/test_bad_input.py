"""Bad input is a named 4xx, and a bad result a named function error with a record: never a 500."""

from __future__ import annotations

import httpx

from sandlot.domain.json_values import MAX_JSON_DEPTH
from tests.conftest import ADMIN_KEY, Api

ECHO = {"main.py": "def handler(event, context):\n    return event\n"}
RESULTS = {
    "main.py": (
        "import sys\n"
        "def handler(event, context):\n"
        "    kind = event['kind']\n"
        "    if kind == 'surrogate':\n"
        "        return {'text': '\\ud800'}\n"
        "    if kind == 'nan':\n"
        "        return [float('nan')]\n"
        "    if kind == 'infinity':\n"
        "        return float('inf')\n"
        "    if kind == 'deep':\n"
        "        value = 1\n"
        "        for _ in range(event['depth']):\n"
        "            value = [value]\n"
        "        return value\n"
        "    if kind == 'raise-surrogate':\n"
        "        raise ValueError('bad \\udcff value')\n"
        "    if kind == 'smuggle':\n"
        # A hostile function replaces the bootstrap's encoder, which runs in its own process;
        # the name was looked up before this call ran, so the next call uses the new one.
        "        raw = event['bytes'].encode('latin-1')\n"
        "        for module in list(sys.modules.values()):\n"
        "            if hasattr(module, 'encode_result'):\n"
        "                module.encode_result = lambda value, limit: raw\n"
        "        return None\n"
        "    return event\n"
    )
}
VERSION_NUMBERS = [
    str(2**63),
    str(2**63 - 1),
    str(2**31),  # past PostgreSQL's INTEGER
    "9" * 5000,  # past int()'s digit limit
    "\u00b2",  # a digit to str.isdigit(), not to int()
    "0",
    "-1",
]


def _direct(api: Api) -> httpx.AsyncClient:
    """A client of the FastAPI app itself, without the lean invoke route in front."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app),
        base_url="http://sandlot.test",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )


async def _record(api: Api, response: httpx.Response) -> dict[str, object]:
    invocation_id = response.json()["detail"]["invocation_id"]
    record = await api.client.get(f"/api/v1/invocations/{invocation_id}")
    assert record.status_code == 200, record.text
    body: dict[str, object] = record.json()
    return body


async def test_absurd_version_numbers_are_validation_errors(api: Api) -> None:
    await api.deploy("echo", ECHO)
    async with _direct(api) as direct:
        for number in VERSION_NUMBERS:
            for client in (api.client, direct):
                invoked = await client.post(
                    "/api/v1/functions/echo/invoke", params={"version": number}, content=b"1"
                )
                assert invoked.status_code == 422, (number, invoked.text)
                assert invoked.json()["error"] == "ValidationError"
                assert invoked.json()["detail"]["problems"][0]["field"] == "query.version"
            for tail in ("", "/code", "/build-log"):
                response = await api.client.get(f"/api/v1/functions/echo/versions/{number}{tail}")
                assert response.status_code == 422, (number, tail, response.text)
                assert response.json()["error"] == "ValidationError"


async def test_the_largest_version_number_is_simply_not_found(api: Api) -> None:
    await api.deploy("echo", ECHO)
    response = await api.invoke("echo", 1, version=2**31 - 1)
    assert (response.status_code, response.json()["error"]) == (404, "VersionNotFound")


NOT_I_JSON_EVENTS = [
    (b"[" * 1000 + b"]" * 1000, "nested more than"),
    (b'{"a":' * 1000 + b"1" + b"}" * 1000, "nested more than"),
    (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nested more than"),
    (b"NaN", "NaN"),
    (b'{"x": [Infinity]}', "Infinity"),
    (b"-Infinity", "Infinity"),
    (b"1e400", "range"),
    (b'"\\ud800"', "surrogate"),
    (b'{"\\udc00": 1}', "surrogate"),
    (b'"\xed\xa0\x80"', "utf-8"),  # a surrogate encoded as if it were UTF-8
    (b"\xff\xfe1\x00", "utf-8"),
    (b"\xef\xbb\xbf1", "BOM"),
]


async def test_events_that_are_not_i_json_are_invalid_events(api: Api) -> None:
    await api.deploy("echo", ECHO)
    async with _direct(api) as direct:
        for event, why in NOT_I_JSON_EVENTS:
            for client in (api.client, direct):
                response = await client.post("/api/v1/functions/echo/invoke", content=event)
                assert response.status_code == 400, (event[:40], response.text)
                assert response.json()["error"] == "InvalidEvent"
                assert why.lower() in response.json()["detail"]["message"].lower(), event[:40]


async def test_an_event_at_the_depth_limit_round_trips_with_its_record(api: Api) -> None:
    await api.deploy("echo", ECHO)
    event = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    response = await api.client.post("/api/v1/functions/echo/invoke", content=event)
    assert response.status_code == 200, response.text
    assert response.content == event
    invocation_id = response.headers["x-sandlot-invocation-id"]
    record = await api.client.get(f"/api/v1/invocations/{invocation_id}")
    assert record.status_code == 200, record.text
    value = record.json()["result"]
    for _ in range(MAX_JSON_DEPTH - 1):
        value = value[0]
    assert value == []
    listed = await api.client.get("/api/v1/invocations", params={"function": "echo"})
    assert listed.status_code == 200, listed.text


BAD_RESULTS: list[tuple[dict[str, object], str]] = [
    ({"kind": "surrogate"}, "surrogate"),
    ({"kind": "nan"}, "float values are not JSON"),
    ({"kind": "infinity"}, "float values are not JSON"),
    ({"kind": "deep", "depth": MAX_JSON_DEPTH + 1}, "nested"),
    ({"kind": "deep", "depth": 2000}, "nested"),
    ({"kind": "smuggle", "bytes": "\xff\xfe"}, "utf-8"),
    ({"kind": "smuggle", "bytes": '"\xed\xa0\x80"'}, "utf-8"),
    ({"kind": "smuggle", "bytes": "NaN"}, "NaN"),
    ({"kind": "smuggle", "bytes": '"\\udfff"'}, "surrogate"),
    ({"kind": "smuggle", "bytes": "{not json"}, "property name"),
]


async def test_results_that_are_not_i_json_are_result_invalid_with_a_record(api: Api) -> None:
    await api.deploy("results", RESULTS)
    for event, why in BAD_RESULTS:
        response = await api.invoke("results", event)
        if event["kind"] == "smuggle":
            assert response.status_code == 200, response.text
            response = await api.invoke("results", {"kind": "echo"})
        assert response.status_code == 502, (event, response.text)
        assert response.json()["error"] == "FunctionResultInvalid"
        assert why.lower() in response.json()["detail"]["message"].lower(), event
        record = await _record(api, response)
        assert record["state"] == "failed"
        assert record["result"] is None
        assert isinstance(record["error"], dict)
        assert record["error"]["kind"] == "FunctionResultInvalid"
        after = await api.invoke("results", {"kind": "echo"})
        assert after.status_code == 200 and after.json() == {"kind": "echo"}, event


async def test_an_error_message_with_a_lone_surrogate_is_recorded_escaped(api: Api) -> None:
    await api.deploy("results", RESULTS)
    response = await api.invoke("results", {"kind": "raise-surrogate"})
    assert response.status_code == 502, response.text
    assert response.json()["detail"]["message"] == "bad \\udcff value"
    record = await _record(api, response)
    assert isinstance(record["error"], dict)
    assert record["error"]["message"] == "bad \\udcff value"
    assert "bad \\udcff value" in str(record["error"]["traceback"])


NUL_PRINTER = {
    "main.py": "def handler(event, context):\n    print('a\\x00b')\n    return {'nul': '\\x00'}\n"
}


async def test_a_nul_in_logs_or_result_is_recorded(api: Api) -> None:
    """PostgreSQL's text holds no NUL: one in the logs must not keep the record out."""
    await api.deploy("nul", NUL_PRINTER)
    response = await api.invoke("nul", 1)
    assert response.status_code == 200 and response.json() == {"nul": "\x00"}
    invocation_id = response.headers["x-sandlot-invocation-id"]
    record = await api.client.get(f"/api/v1/invocations/{invocation_id}")
    assert record.status_code == 200, record.text
    assert record.json()["result"] == {"nul": "\x00"}
    logs = await api.client.get(f"/api/v1/invocations/{invocation_id}/logs")
    assert logs.text == "a\ufffdb\n"


NUL_REQUESTS = [
    ("GET", "/api/v1/functions/a%00b", 404),
    ("GET", "/api/v1/functions/a%00b/versions", 404),
    ("POST", "/api/v1/functions/a%00b/invoke", 404),
    ("GET", "/api/v1/invocations/a%00b", 404),
    ("GET", "/api/v1/invocations/a%00b/logs", 404),
    ("DELETE", "/api/v1/keys/a%00b", 404),
    ("GET", "/api/v1/invocations?function=a%00b", 422),
    ("GET", "/api/v1/invocations?cursor=%00", 422),
]


async def test_a_nul_in_a_name_or_id_names_nothing(api: Api) -> None:
    for method, path, status in NUL_REQUESTS:
        response = await api.client.request(method, path, content=b"1")
        assert response.status_code == status, (method, path, response.text)


async def test_a_key_name_with_control_characters_is_refused(api: Api) -> None:
    response = await api.client.post("/api/v1/keys", json={"name": "ci\x00", "role": "invoker"})
    assert (response.status_code, response.json()["error"]) == (422, "ValidationError")
