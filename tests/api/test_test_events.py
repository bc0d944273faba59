"""Saved test events through the real app, on SQLite and PostgreSQL: save, replace, list,
delete, the limits, who may do what, the audit log, and that a saved event runs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sandlot.domain.models import Role
from sandlot.domain.test_events import MAX_TEST_EVENTS_PER_FUNCTION
from tests.api.tenancy import key_in
from tests.conftest import HELLO, Api

BASE = "/api/v1/functions/hello/test-events"


async def _audit(api: Api, action: str) -> list[dict[str, Any]]:
    answer = await api.client.get("/api/v1/audit", params={"action": action, "limit": 200})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_save_replace_list_delete_and_invoke_a_saved_event(api: Api) -> None:
    assert (await api.deploy("hello", HELLO)).status_code == 201
    created = await api.client.put(f"{BASE}/greet ada", json={"event": {"name": "ada"}})
    assert created.status_code == 201, created.text
    assert created.json()["event"] == {"name": "ada"}
    assert created.json()["updated_by"].startswith("key:")
    replaced = await api.client.put(f"{BASE}/greet ada", json={"event": {"name": "lovelace"}})
    assert replaced.status_code == 200, replaced.text
    assert (await api.client.put(f"{BASE}/nothing", json={"event": None})).status_code == 201
    listed = (await api.client.get(BASE)).json()
    assert [item["name"] for item in listed["items"]] == ["greet ada", "nothing"]
    assert listed["items"][0]["event"] == {"name": "lovelace"}
    assert listed["max"] == MAX_TEST_EVENTS_PER_FUNCTION
    # What the console does with one: send it as the invoke's body.
    answer = await api.invoke("hello", listed["items"][0]["event"])
    assert answer.json() == {"hello": "lovelace"}
    # A new version keeps them.
    assert (await api.client.put("/api/v1/functions/hello", json={"memory_mb": 256})).is_success
    assert len((await api.client.get(BASE)).json()["items"]) == 2
    assert (await api.client.delete(f"{BASE}/greet ada")).status_code == 204
    gone = await api.client.delete(f"{BASE}/greet ada")
    assert (gone.status_code, gone.json()["error"]) == (404, "TestEventNotFound")
    assert [item["name"] for item in (await api.client.get(BASE)).json()["items"]] == ["nothing"]


async def test_the_audit_log_names_the_event_and_never_holds_it(api: Api) -> None:
    await api.deploy("hello", HELLO)
    secret = "hunter2-do-not-log"
    assert (await api.client.put(f"{BASE}/creds", json={"event": {"pw": secret}})).is_success
    assert (await api.client.delete(f"{BASE}/creds")).status_code == 204
    (saved,) = await _audit(api, "test_event.save")
    (deleted,) = await _audit(api, "test_event.delete")
    assert saved["target"] == deleted["target"] == "function:hello"
    assert saved["detail"] == {"name": "creds", "created": True}
    assert deleted["detail"] == {"name": "creds"}
    assert secret not in json.dumps([saved, deleted])


async def test_bad_names_bad_events_and_the_limit_are_named_errors(api: Api) -> None:
    await api.deploy("hello", HELLO)
    cases: list[tuple[str, Any, int, str]] = [
        (f"{BASE}/{'x' * 101}", {"event": 1}, 400, "InvalidTestEventName"),
        (f"{BASE}/%20%20", {"event": 1}, 400, "InvalidTestEventName"),
        (f"{BASE}/tab%09here", {"event": 1}, 400, "InvalidTestEventName"),
        (f"{BASE}/ok", {"not_event": 1}, 400, "InvalidEvent"),
        (f"{BASE}/ok", [1, 2], 400, "InvalidEvent"),
        ("/api/v1/functions/nope/test-events/ok", {"event": 1}, 404, "FunctionNotFound"),
    ]
    for url, body, status, error in cases:
        answer = await api.client.put(url, json=body)
        assert (answer.status_code, answer.json()["error"]) == (status, error), (url, answer.text)
    for raw in (b'{"event": NaN}', b'{"event": 1e400}', b'{"event": "\\ud800"}', b"{"):
        answer = await api.client.put(
            f"{BASE}/ok", content=raw, headers={"Content-Type": "application/json"}
        )
        assert (answer.status_code, answer.json()["error"]) == (400, "InvalidEvent"), raw
    assert (await api.client.get(BASE)).json()["items"] == []


async def test_an_event_over_the_size_limit_is_refused(tmp_path: Any, database_url: str) -> None:
    from tests.conftest import open_api

    async with open_api(tmp_path / "data", database_url, max_event_bytes=1000) as api:
        await api.deploy("hello", HELLO)
        fits = await api.client.put(f"{BASE}/fits", json={"event": "a" * 900})
        assert fits.status_code == 201, fits.text
        big = await api.client.put(f"{BASE}/big", json={"event": "a" * 1000})
        assert (big.status_code, big.json()["error"]) == (413, "EventTooLarge")
        huge = await api.client.put(f"{BASE}/huge", json={"event": "a" * 5000})
        assert (huge.status_code, huge.json()["error"]) == (413, "PayloadTooLarge")


async def test_at_most_twenty_per_function(api: Api) -> None:
    await api.deploy("hello", HELLO)
    for number in range(MAX_TEST_EVENTS_PER_FUNCTION):
        assert (await api.client.put(f"{BASE}/e{number}", json={"event": number})).is_success
    over = await api.client.put(f"{BASE}/one too many", json={"event": 0})
    assert (over.status_code, over.json()["error"]) == (409, "TestEventLimitReached")
    # Replacing one is not a new one.
    assert (await api.client.put(f"{BASE}/e0", json={"event": "again"})).status_code == 200
    # Another function has its own twenty.
    await api.deploy("other", HELLO)
    other = "/api/v1/functions/other/test-events/e0"
    assert (await api.client.put(other, json={"event": 0})).status_code == 201


async def test_shared_with_the_namespace_reads_for_viewers_and_hidden_elsewhere(
    api: Api,
) -> None:
    await api.deploy("hello", HELLO)
    _, developer = await key_in(api, "default", Role.DEVELOPER)
    _, viewer = await key_in(api, "default", Role.VIEWER)
    _, stranger = await key_in(api, "elsewhere", Role.OWNER)
    made = await api.client.put(f"{BASE}/team", json={"event": {"x": 1}}, headers=developer)
    assert made.status_code == 201, made.text
    seen = await api.client.get(BASE, headers=viewer)
    assert [item["name"] for item in seen.json()["items"]] == ["team"]
    refused = await api.client.put(f"{BASE}/mine", json={"event": 1}, headers=viewer)
    assert (refused.status_code, refused.json()["error"]) == (403, "PermissionDenied")
    for answer in (
        await api.client.get(BASE, headers=stranger),
        await api.client.delete(f"{BASE}/team", headers=stranger),
    ):
        assert (answer.status_code, answer.json()["error"]) == (404, "FunctionNotFound")


async def test_a_deleted_function_takes_them_and_its_successor_starts_empty(api: Api) -> None:
    await api.deploy("hello", HELLO)
    assert (await api.client.put(f"{BASE}/kept", json={"event": 1})).is_success
    assert (await api.client.delete("/api/v1/functions/hello")).status_code == 204
    gone = await api.client.get(BASE)
    assert (gone.status_code, gone.json()["error"]) == (404, "FunctionNotFound")
    await api.deploy("hello", HELLO)
    assert (await api.client.get(BASE)).json()["items"] == []


async def test_concurrent_saves_never_pass_the_limit(api: Api) -> None:
    await api.deploy("hello", HELLO)
    extra = 6
    answers = await asyncio.gather(
        *(
            api.client.put(f"{BASE}/race {n}", json={"event": n})
            for n in range(MAX_TEST_EVENTS_PER_FUNCTION + extra)
        )
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * MAX_TEST_EVENTS_PER_FUNCTION + [409] * extra, [
        answer.text for answer in answers if answer.status_code != 201
    ]
    assert len((await api.client.get(BASE)).json()["items"]) == MAX_TEST_EVENTS_PER_FUNCTION
