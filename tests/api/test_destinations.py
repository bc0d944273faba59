"""Destinations of async calls: signed webhooks to a real receiver on 127.0.0.1 (down, slow,
failing), function destinations that queue the next call, and bad input. On SQLite and
PostgreSQL, through the real app; a call's end is made by calling `on_async_end` in a real
transaction, as the queue's runner does."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandlot.domain.destinations import MAX_CHAIN_DEPTH, verify
from sandlot.domain.ids import new_invocation_id
from sandlot.domain.models import Invocation
from sandlot.domain.states import InvocationState
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.namespaces import NamespaceRepo
from tests.api.webhook_receiver import Script, receiver
from tests.conftest import Api, free_port, open_api

ECHO = {"main.py": "def handler(event, context):\n    return event\n"}
RAISES = {"main.py": "def handler(event, context):\n    raise ValueError('no')\n"}
SECRET = "s" * 16 + "-a-webhook-secret-of-32+"
Items = list[dict[str, Any]]


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    async with open_api(
        tmp_path / "data",
        database_url,
        webhook_timeout_s=1.0,
        webhook_max_attempts=3,
        webhook_backoff_base_s=0.05,
        webhook_backoff_cap_s=0.2,
        webhook_poll_interval_s=0.05,
        async_poll_interval_s=0.1,
    ) as opened:
        yield opened


async def _deploy(api: Api, *names: str) -> None:
    for name in names:
        assert (await api.deploy(name, ECHO)).status_code == 201


async def _set(api: Api, name: str, **body: Any) -> httpx.Response:
    return await api.client.put(f"/api/v1/functions/{name}/destinations", json=body)


def _hook(url: str) -> dict[str, str]:
    return {"type": "webhook", "url": url}


async def _queue(api: Api, name: str, event: object) -> str:
    answer = await api.client.post(
        f"/api/v1/functions/{name}/invoke",
        json=event,
        headers={"Prefer": "respond-async"},
    )
    assert answer.status_code == 202, answer.text
    found: str = answer.json()["id"]
    return found


async def _end(api: Api, name: str, state: InvocationState, **values: Any) -> str:
    """An async call of `name` that has just ended, handed to `on_async_end` in a real
    transaction as the runner does; its id. (Not a row: the runner must not run it too.)"""
    now = datetime.now(UTC)
    async with api.runtime.database.sessions.begin() as session:
        namespace = await NamespaceRepo(session).get_by_name("default")
        assert namespace is not None
        function = await FunctionRepo(session).get(namespace.id, name)
        ended = Invocation(
            id=new_invocation_id(),
            namespace_id=namespace.id,
            function_id=function.id,
            function_name=name,
            version=1,
            trigger="async",
            state=state,
            cold_start=False,
            created_at=now,
            finished_at=now,
            duration_ms=1.0,
            timings={},
            attempt=1,
            max_attempts=1,
            **values,
        )
        await api.runtime.destinations.on_async_end(session, ended)
    return ended.id


async def _deliveries(
    api: Api, name: str, until: Callable[[Items], bool], timeout_s: float = 30
) -> Items:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await api.client.get(f"/api/v1/functions/{name}/deliveries")
        assert answer.status_code == 200, answer.text
        items: Items = answer.json()["items"]
        if until(items):
            return items
        assert time.monotonic() < deadline, f"deliveries never got there: {items}"
        await asyncio.sleep(0.05)


def _state(state: str) -> Callable[[Items], bool]:
    return lambda items: bool(items) and items[0]["state"] == state


async def test_a_success_is_delivered_signed(api: Api) -> None:
    await _deploy(api, "signed")
    script = Script()
    with receiver(free_port(), script) as url:
        assert (await _set(api, "signed", on_success=_hook(url), secret=SECRET)).status_code == 200
        shown = (await api.client.get("/api/v1/functions/signed/destinations")).json()
        assert shown["secret_set"] is True and SECRET not in json.dumps(shown)
        call = await _end(api, "signed", InvocationState.SUCCEEDED, result={"n": 1})
        (delivery,) = await _deliveries(api, "signed", _state("delivered"))
    got = script.received[-1]
    headers = {key.lower(): value for key, value in got.headers.items()}
    assert verify(
        SECRET.encode(),
        headers["x-sandlot-timestamp"],
        got.body,
        headers["x-sandlot-signature"],
        now=time.time(),
    )
    assert not verify(
        b"x" * 32,
        headers["x-sandlot-timestamp"],
        got.body,
        headers["x-sandlot-signature"],
        now=time.time(),
    )
    assert headers["x-sandlot-delivery"] == delivery["id"]
    assert headers["x-sandlot-invocation-id"] == call
    body = json.loads(got.body)
    assert body["invocation_id"] == call and body["function"] == "signed"
    assert body["state"] == "succeeded" and body["result"] == {"n": 1}
    assert delivery["last_status"] == 200 and delivery["log"][-1]["status"] == 200
    assert delivery["attempts"] == len(delivery["log"]) >= len(script.received)


async def test_a_receiver_that_is_down_then_up_gets_it(api: Api) -> None:
    await _deploy(api, "downup")
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    assert (await _set(api, "downup", on_failure=_hook(url), secret=SECRET)).status_code == 200
    # Enough attempts that the receiver comes up before the budget is spent.
    api.runtime.destinations.max_attempts = 50
    await _end(api, "downup", InvocationState.DEAD, error={"type": "Boom", "message": "no"})
    first = await _deliveries(api, "downup", lambda items: bool(items and items[0]["log"]))
    assert first[0]["log"][0]["status"] is None and first[0]["last_error"]
    script = Script()
    with receiver(port, script):
        (delivery,) = await _deliveries(api, "downup", _state("delivered"))
    assert delivery["attempts"] >= 2 and delivery["condition"] == "failure"
    assert json.loads(script.received[0].body)["error"]["type"] == "Boom"


async def test_a_slow_receiver_times_out_and_is_retried(api: Api) -> None:
    await _deploy(api, "slow")
    script = Script(stall_first=1)
    with receiver(free_port(), script) as url:
        await _set(api, "slow", on_success=_hook(url), secret=SECRET)
        await _end(api, "slow", InvocationState.SUCCEEDED, result=1)
        (delivery,) = await _deliveries(api, "slow", _state("delivered"))
    first, last = delivery["log"][0], delivery["log"][-1]
    assert first["status"] is None and "timed out" in first["error"]
    assert last["status"] == 200 and delivery["attempts"] >= 2


async def test_a_receiver_answering_500_is_retried_then_failed(api: Api) -> None:
    await _deploy(api, "broken")
    script = Script(statuses=[500])
    with receiver(free_port(), script) as url:
        await _set(api, "broken", on_success=_hook(url), secret=SECRET)
        await _end(api, "broken", InvocationState.SUCCEEDED, result=1)
        (delivery,) = await _deliveries(api, "broken", _state("failed"))
        assert len(script.received) == 3
        assert [entry["status"] for entry in delivery["log"]] == [500, 500, 500]
        assert delivery["last_error"] == "HTTP 500"
        # Fixed: a redelivery is a new delivery of the same body, sent anew.
        script.statuses = [204]
        again = await api.client.post(
            f"/api/v1/functions/broken/deliveries/{delivery['id']}/redeliver"
        )
        assert again.status_code == 202, again.text
        assert again.json()["redelivery_of"] == delivery["id"]
        items = await _deliveries(api, "broken", _state("delivered"))
    assert items[0]["id"] == again.json()["id"] and items[1]["state"] == "failed"
    assert script.received[-1].body == script.received[0].body


async def test_a_function_destination_queues_the_next_call(api: Api) -> None:
    await _deploy(api, "first", "second")
    answer = await _set(api, "first", on_success={"type": "function", "function": "second"})
    assert answer.status_code == 200, answer.text
    call = await _end(api, "first", InvocationState.SUCCEEDED, result={"doubled": 4})
    (delivery,) = await _deliveries(api, "first", _state("delivered"))
    assert delivery["type"] == "function" and delivery["target"] == "second"
    queued = await api.client.get(f"/api/v1/invocations/{delivery['queued_invocation_id']}")
    assert queued.status_code == 200
    body = queued.json()
    assert body["function"] == "second"  # queued, or already run by the runner
    assert body["caused_by"] == call and body["trigger"] == "async"
    event = json.loads(body["event"])
    assert event["source"]["invocation_id"] == call and event["result"] == {"doubled": 4}
    assert event["condition"] == "success"
    # A function delivery is not redelivered (redrive or invoke the function instead).
    again = await api.client.post(f"/api/v1/functions/first/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 409 and again.json()["error"] == "DeliveryNotRedeliverable"


async def test_a_chain_of_destinations_stops_at_its_depth_limit(api: Api) -> None:
    """End to end, through the runner: a function that always raises, whose failure
    destination is itself, runs until the chain's depth limit, then stops."""
    assert (await api.deploy("loop", RAISES)).status_code == 201
    await _set(api, "loop", on_failure={"type": "function", "function": "loop"})
    await _queue(api, "loop", {"start": True})
    items = await _deliveries(
        api, "loop", lambda items: any(item["state"] == "failed" for item in items), 120
    )
    assert items[0]["state"] == "failed" and "chain" in items[0]["last_error"]
    assert len(items) == MAX_CHAIN_DEPTH + 1
    assert all(item["state"] == "delivered" for item in items[1:])


async def test_an_async_call_ends_in_a_webhook_through_the_runner(api: Api) -> None:
    await _deploy(api, "e2e")
    script = Script()
    with receiver(free_port(), script) as url:
        await _set(api, "e2e", on_success=_hook(url), secret=SECRET)
        call = await _queue(api, "e2e", {"order": 42})
        (delivery,) = await _deliveries(api, "e2e", _state("delivered"), 120)
    body = json.loads(script.received[-1].body)
    assert body["invocation_id"] == call and body["state"] == "succeeded"
    assert body["result"] == {"order": 42} and delivery["invocation_id"] == call


async def test_bad_destinations_are_named_errors(api: Api) -> None:
    await _deploy(api, "picky")
    cases: list[tuple[dict[str, Any], str, str]] = [
        (
            {"on_success": _hook("ftp://example.com/x"), "secret": SECRET},
            "InvalidDestination",
            "http or https",
        ),
        ({"on_success": _hook("http://"), "secret": SECRET}, "InvalidDestination", "no host"),
        (
            {"on_failure": {"type": "function", "function": "nope"}},
            "InvalidDestination",
            "no function 'nope'",
        ),
        (
            {"on_success": {"type": "function", "function": "picky"}},
            "InvalidDestination",
            "its own destination",
        ),
        ({"on_success": _hook("https://example.com/h")}, "InvalidDestination", "secret"),
        (
            {"on_success": _hook("https://example.com/h"), "secret": "short"},
            "WebhookSecretTooShort",
            "32 bytes",
        ),
    ]
    for body, error, words in cases:
        answer = await _set(api, "picky", **body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"] == error, answer.text
        assert words in answer.json()["detail"]["message"], answer.text
    missing = await _set(api, "ghost", on_success=None)
    assert missing.status_code == 404 and missing.json()["error"] == "FunctionNotFound"
    unknown = await api.client.post(
        "/api/v1/functions/picky/deliveries/0000000000000000000000000a/redeliver"
    )
    assert unknown.status_code == 404 and unknown.json()["error"] == "DeliveryNotFound"
    # Nothing was stored by the refused attempts; the secret set once stays for later PUTs.
    assert (await _set(api, "picky", secret=SECRET)).json()["secret_set"] is True
    kept = await _set(api, "picky", on_success=_hook("https://example.com/h"))
    assert kept.status_code == 200 and kept.json()["on_success"]["url"] == "https://example.com/h"


async def test_setting_destinations_is_audited(api: Api) -> None:
    await _deploy(api, "audited")
    await _set(api, "audited", on_success=_hook("https://example.com/h"), secret=SECRET)
    events = await api.client.get("/api/v1/audit", params={"action": "function.destinations"})
    assert events.status_code == 200, events.text
    (event,) = [e for e in events.json()["items"] if e["action"] == "function.destinations"]
    assert event["target"] == "function:audited" and event["detail"]["secret_changed"] is True
    assert SECRET not in json.dumps(event)


async def test_a_key_rotation_reseals_the_webhook_secret(api: Api) -> None:
    await _deploy(api, "rotated")
    script = Script()
    with receiver(free_port(), script) as url:
        await _set(api, "rotated", on_success=_hook(url), secret=SECRET)
        rotated = await api.client.post("/api/v1/secret-key/rotate")
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["resealed"] >= 1 and rotated.json()["retired_key_ids"]
        await _end(api, "rotated", InvocationState.SUCCEEDED, result="after")
        await _deliveries(api, "rotated", _state("delivered"))
    got = script.received[-1]
    headers = {key.lower(): value for key, value in got.headers.items()}
    stamp, sent = headers["x-sandlot-timestamp"], headers["x-sandlot-signature"]
    assert verify(SECRET.encode(), stamp, got.body, sent, now=time.time())
