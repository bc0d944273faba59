"""Properties of the invoke door, through a real server and a real function (Hypothesis).

- Any JSON value sent as an event comes back from an echo function unchanged, in the answer
  and in the invocation's record.
- Any bytes sent as an event get a 200 (holding what was sent) or a named 4xx; never a 500,
  and never a function error, since the echo function returns whatever the door let in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from sandlot.domain.json_values import MAX_JSON_DEPTH
from tests.conftest import ADMIN_KEY, start_server, stop_server, zip_bytes
from tests.jsonvalues import depth_of, event_bytes, json_values, same_json

pytestmark = pytest.mark.slow

ECHO = {"main.py": "def handler(event, context):\n    return event\n"}
DOOR_ERRORS = {"InvalidEvent", "EventTooLarge", "PayloadTooLarge"}
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _invoke(client: httpx.Client, event: bytes) -> httpx.Response:
    return client.post(
        "/api/v1/functions/echo/invoke",
        content=event,
        headers={"Content-Type": "application/json"},
    )


def _round_trips(client: httpx.Client) -> None:
    @PROPERTY
    @given(json_values)
    def check(value: Any) -> None:
        response = _invoke(client, json.dumps(value).encode())
        if depth_of(value) > MAX_JSON_DEPTH:
            assert (response.status_code, response.json()["error"]) == (400, "InvalidEvent")
            return
        assert response.status_code == 200, response.text
        assert same_json(response.json(), value)
        invocation_id = response.headers["x-sandlot-invocation-id"]
        record = client.get(f"/api/v1/invocations/{invocation_id}")
        assert record.status_code == 200, record.text
        assert same_json(record.json()["result"], value)

    check()


def _bytes_are_answered(client: httpx.Client) -> None:
    @PROPERTY
    @given(event_bytes)
    def check(event: bytes) -> None:
        response = _invoke(client, event)
        if response.status_code == 200:
            sent = json.loads(event) if event.strip() else None
            assert same_json(response.json(), sent)
            return
        assert 400 <= response.status_code < 500, (event, response.status_code, response.text)
        assert response.json()["error"] in DOOR_ERRORS, response.text
        assert response.json()["detail"]["message"]

    check()


def test_the_door_and_the_codec_hold_for_any_input(tmp_path: Path, database_url: str) -> None:
    server = start_server(tmp_path / "data", {"SANDLOT_DATABASE_URL": database_url})
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            deployed = client.post(
                "/api/v1/functions",
                data={"name": "echo"},
                files={"code": ("code.zip", zip_bytes(ECHO), "application/zip")},
            )
            assert deployed.status_code == 201, deployed.text
            _round_trips(client)
            _bytes_are_answered(client)
    finally:
        stop_server(server)
