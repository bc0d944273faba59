"""Triggers that name an alias, through the real app on SQLite and PostgreSQL: a schedule
of `hello:prod` calls what prod points at when its slot fires, a URL per alias serves that
alias's split (sticky by routing key), a destination may name `fn:alias`, and an alias that
any of them names cannot be deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from sandlot.services.scheduler import Scheduler
from tests.conftest import Api, open_api, zip_bytes

CODE = "def handler(event, context):\n    return {{'v': {n}}}\n"
YEARLY = "0 3 1 1 *"


async def _two_versions(api: Api, name: str) -> None:
    assert (await api.deploy(name, {"main.py": CODE.format(n=1)})).status_code == 201
    code = {"code": ("c.zip", zip_bytes({"main.py": CODE.format(n=2)}), "application/zip")}
    changed = await api.client.put(f"/api/v1/functions/{name}", files=code)
    assert changed.status_code == 200 and changed.json()["latest_version"] == 2, changed.text


async def _point(api: Api, body: dict[str, Any]) -> None:
    answer = await api.client.put("/api/v1/functions/hello/aliases/prod", json=body)
    assert answer.status_code in (200, 201), answer.text


def _named(answer: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["error"] == error, body
    return body


async def _fire(api: Api) -> dict[str, Any]:
    scheduler = api.runtime.scheduler
    assert isinstance(scheduler, Scheduler)
    fired = await scheduler.run_once(now=datetime.now(UTC) + timedelta(days=400))
    assert len(fired) == 1
    found = await api.client.get(f"/api/v1/invocations/{fired[0].invocation_id}")
    assert found.status_code == 200, found.text
    call: dict[str, Any] = found.json()
    return call


async def _schedule_of_prod(api: Api) -> str:
    schedules = "/api/v1/functions/{}/schedules"
    missing = await api.client.post(schedules.format("hello:nope"), json={"cron": YEARLY})
    _named(missing, 404, "AliasNotFound")
    bad = await api.client.post(schedules.format("hello:Nope"), json={"cron": YEARLY})
    _named(bad, 400, "InvalidAliasName")
    made = await api.client.post(schedules.format("hello:prod"), json={"cron": YEARLY})
    assert made.status_code == 201 and made.json()["alias"] == "prod", made.text
    # Resolved when the slot fires: prod moved after the schedule was made.
    await _point(api, {"version": 2})
    call = await _fire(api)
    assert (call["alias"], call["version"], call["trigger"]) == ("prod", 2, "schedule")
    schedule_id: str = made.json()["id"]
    return schedule_id


async def _url_of_prod(api: Api) -> None:
    _named(
        await api.client.put("/api/v1/functions/hello:nope/url", json={"auth": "none"}),
        404,
        "AliasNotFound",
    )
    made = await api.client.put("/api/v1/functions/hello:prod/url", json={"auth": "none"})
    assert made.status_code == 200, made.text
    assert (made.json()["alias"], made.json()["path"]) == ("prod", "/fn/default/hello:prod/")
    assert (await api.client.get("/api/v1/functions/hello/url")).json()["enabled"] is False
    await _point(api, {"routes": [{"version": 2, "weight": 50}, {"version": 1, "weight": 50}]})
    async with httpx.AsyncClient(transport=api.client._transport, base_url="http://x") as web:
        seen = set()
        for number in range(40):
            key = {"X-Sandlot-Routing-Key": f"user-{number}"}
            first = await web.get("/fn/default/hello:prod/page", headers=key)
            assert first.status_code == 200 and first.headers["x-sandlot-alias"] == "prod"
            again = await web.get("/fn/default/hello:prod/page", headers=key)
            assert again.json() == first.json() == {"v": int(first.headers["x-sandlot-version"])}
            seen.add(first.json()["v"])
        assert seen == {1, 2}  # 40 keys over a 50/50 split reach both versions
        # No URL for latest, no such alias, no such name: the same 404 as any.
        for path in ("/fn/default/hello/", "/fn/default/hello:nope/", "/fn/default/hello:N/"):
            _named(await web.get(path), 404, "FunctionUrlNotFound")


async def test_schedules_urls_and_destinations_name_an_alias_that_then_stays(
    tmp_path: Path, database_url: str
) -> None:
    async with open_api(tmp_path / "data", database_url, scheduler=False) as api:
        await _two_versions(api, "hello")
        assert (await api.deploy("caller", {"main.py": CODE.format(n=0)})).status_code == 201
        await _point(api, {"version": 1})
        schedule_id = await _schedule_of_prod(api)
        await _url_of_prod(api)
        destinations = "/api/v1/functions/caller/destinations"
        to = {"on_success": {"type": "function", "function": "hello:nope"}}
        _named(await api.client.put(destinations, json=to), 400, "InvalidDestination")
        to = {"on_success": {"type": "function", "function": "hello:prod"}}
        assert (await api.client.put(destinations, json=to)).status_code == 200
        alias = "/api/v1/functions/hello/aliases/prod"
        used = _named(await api.client.delete(alias), 409, "AliasInUse")
        users = [f"schedule:{schedule_id}", "function_url", "destination:caller"]
        assert used["detail"]["users"] == users
        await api.client.delete(f"/api/v1/functions/hello/schedules/{schedule_id}")
        await api.client.delete("/api/v1/functions/hello:prod/url")
        await api.client.put(destinations, json={"on_success": None})
        assert (await api.client.delete(alias)).status_code == 204
