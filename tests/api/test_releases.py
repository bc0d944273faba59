"""Progressive releases through the real app (SQLite and PostgreSQL), with real calls:
the fault test (a version failing 20% of its calls is rolled back by itself; a good one
passes its step, across a restart, waits when it sees too few calls, and is promoted), a
one-step release that succeeds, pause/resume/abort, and the named errors.

The driver is stepped by `ReleaseDriver.run_once(now=...)` with a `now` past the step's
interval instead of waiting it out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sandlot.services.release_driver import ReleaseDriver
from tests.conftest import Api, open_api, zip_bytes

GOOD = {"main.py": "def handler(event, context):\n    return {'n': event['n']}\n"}
# Fails one call in five (those whose n is a multiple of 5): a 20% error rate.
FLAKY = {
    "main.py": "def handler(event, context):\n"
    "    if event['n'] % 5 == 0:\n"
    "        raise RuntimeError('flaky')\n"
    "    return {'n': event['n']}\n"
}
INTERVAL = 30


def driver_of(api: Api) -> ReleaseDriver:
    driver = api.runtime.release_driver
    assert driver is not None
    return driver


async def _deploy_versions(api: Api, *versions: dict[str, str]) -> None:
    assert (await api.deploy("shop", versions[0])).status_code == 201
    for files in versions[1:]:
        answer = await api.client.put(
            "/api/v1/functions/shop",
            files={"code": ("code.zip", zip_bytes(files), "application/zip")},
        )
        assert answer.status_code == 200, answer.text


async def _set_alias(api: Api, version: int, alias: str = "prod") -> None:
    answer = await api.client.put(
        f"/api/v1/functions/shop/aliases/{alias}", json={"version": version}
    )
    assert answer.status_code in (200, 201), answer.text


async def _start(api: Api, version: int, **plan: Any) -> dict[str, Any]:
    body = {"alias": "prod", "version": version, "interval_s": INTERVAL, **plan}
    answer = await api.client.post("/api/v1/functions/shop/releases", json=body)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def _release(api: Api, release_id: str) -> dict[str, Any]:
    answer = await api.client.get(f"/api/v1/functions/shop/releases/{release_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def _routes(api: Api, alias: str = "prod") -> list[dict[str, int]]:
    answer = await api.client.get(f"/api/v1/functions/shop/aliases/{alias}")
    assert answer.status_code == 200, answer.text
    routes: list[dict[str, int]] = answer.json()["routes"]
    return routes


async def _call_alias(api: Api, numbers: range) -> dict[int, int]:
    """Calls `shop:prod` once per number; how many each version served. Failures are the
    function's (a 200 with an error body, or a 500-class answer naming it), never refused."""
    served: dict[int, int] = {}
    for n in numbers:
        answer = await api.invoke("shop:prod", {"n": n})
        version = int(answer.headers["X-Sandlot-Version"])
        served[version] = served.get(version, 0) + 1
    await api.runtime.recorder.run_once()  # the records of sync calls, written now
    return served


async def _history(api: Api) -> list[dict[str, Any]]:
    answer = await api.client.get("/api/v1/functions/shop/history")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _after(release: dict[str, Any], seconds: int = INTERVAL + 1) -> datetime:
    at = datetime.fromisoformat(release["step_started_at"].replace("Z", "+00:00"))
    return max(at, datetime.now(UTC)) + timedelta(seconds=seconds)


async def test_a_flaky_version_rolls_back_and_a_good_one_is_promoted(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    async with open_api(data, database_url, release_driver=False) as api:
        await _deploy_versions(api, GOOD, FLAKY, {**GOOD, "extra.txt": "v3"})
        await _set_alias(api, 1)

        bad = await _start(api, 2, steps=[50, 100], min_calls=10)
        assert (bad["state"], bad["weight"], bad["from_version"]) == ("running", 50, 1)
        assert {(r["version"], r["weight"]) for r in await _routes(api)} == {(2, 50), (1, 50)}
        served = await _call_alias(api, range(60))
        assert served.get(2, 0) >= 10 and served.get(1, 0) >= 10
        # Not due yet: nothing is judged before the interval has passed.
        assert await driver_of(api).run_once() == []
        [stepped] = await driver_of(api).run_once(now=_after(bad))
        assert (stepped.verdict, stepped.state.value) == ("rollback", "rolled_back")
        assert await _routes(api) == [{"version": 1, "weight": 100}]
        rolled = await _release(api, bad["id"])
        assert rolled["state"] == "rolled_back" and rolled["finished_at"] is not None
        assert "error rate" in rolled["reason"] and rolled["weight"] == 0
        [look] = rolled["judged"]
        assert look["verdict"] == "rollback" and look["old"]["errors"] == 0
        assert look["new"]["errors"] >= 1 and look["new"]["calls"] == served[2]
        history = await _history(api)
        undo = next(item for item in history if item["reason"] == "auto-rollback")
        assert undo["release_id"] == bad["id"] and undo["after"] == [{"version": 1, "weight": 100}]
        assert "error rate" in (undo["note"] or "")

        good = await _start(api, 3, steps=[50, 100], min_calls=5)
        await _call_alias(api, range(1, 30))

    # A restart: the release is in the database and goes on where it was.
    async with open_api(data, database_url, release_driver=False) as api:
        await _call_alias(api, range(30, 40))
        [passed] = await driver_of(api).run_once(now=_after(good))
        assert (passed.verdict, passed.weight) == ("pass", 100)
        assert await _routes(api) == [{"version": 3, "weight": 100}]
        moved = await _release(api, good["id"])
        assert moved["step"] == 1 and moved["judged"][0]["new"]["errors"] == 0
        # The last step began "now" in the driver's time: no calls in it yet, so it waits.
        [waited] = await driver_of(api).run_once(now=_after(moved))
        assert (waited.verdict, waited.state.value) == ("wait", "running")
        path = f"/api/v1/functions/shop/releases/{good['id']}"
        promoted = (await api.client.post(f"{path}/promote")).json()
        assert promoted["state"] == "promoted" and promoted["weight"] == 100
        assert [look["verdict"] for look in promoted["judged"]] == ["pass", "wait"]
        again = await api.client.post(f"{path}/abort")
        assert again.status_code == 409 and again.json()["error"] == "ReleaseNotActive"
        listed = (await api.client.get("/api/v1/functions/shop/releases")).json()["items"]
        assert [item["id"] for item in listed] == [good["id"], bad["id"]]
        only = await api.client.get("/api/v1/functions/shop/releases", params={"state": "promoted"})
        assert [item["id"] for item in only.json()["items"]] == [good["id"]]


async def test_a_release_succeeds_pauses_resumes_and_aborts(
    tmp_path: Path, database_url: str
) -> None:
    async with open_api(tmp_path / "data", database_url, release_driver=False) as api:
        await _deploy_versions(api, GOOD, {**GOOD, "extra.txt": "v2"})
        await _set_alias(api, 1)
        whole = await _start(api, 2, steps=[100], min_calls=3)
        assert await _routes(api) == [{"version": 2, "weight": 100}]
        assert (await _call_alias(api, range(1, 6))) == {2: 5}
        [done] = await driver_of(api).run_once(now=_after(whole))
        assert (done.verdict, done.state.value) == ("pass", "succeeded")

        back = await _start(api, 1, steps=[20, 100])
        assert back["from_version"] == 2
        path = f"/api/v1/functions/shop/releases/{back['id']}"
        paused = (await api.client.post(f"{path}/pause")).json()
        assert paused["state"] == "paused" and paused["next_check_at"] is None
        assert await driver_of(api).run_once(now=_after(back, 3600)) == []
        resumed = (await api.client.post(f"{path}/resume")).json()
        assert resumed["state"] == "running" and resumed["next_check_at"] is not None
        twice = await api.client.post(f"{path}/resume")
        assert twice.status_code == 409 and twice.json()["error"] == "ReleaseNotActive"
        aborted = (await api.client.post(f"{path}/abort")).json()
        assert aborted["state"] == "aborted" and aborted["weight"] == 0
        assert await _routes(api) == [{"version": 2, "weight": 100}]
        actions = [
            event["action"]
            for event in (await api.client.get("/api/v1/audit")).json()["items"]
            if event["action"].startswith("release.")
        ]
        assert sorted(actions) == sorted(
            ["release.start"] * 2 + ["release.pause", "release.resume", "release.abort"]
        )


async def test_bad_releases_are_named_errors(api: Api) -> None:
    await _deploy_versions(api, GOOD, {**GOOD, "extra.txt": "v2"})
    url = "/api/v1/functions/shop/releases"

    async def refused(body: dict[str, Any], status: int, error: str) -> dict[str, Any]:
        answer = await api.client.post(url, json={"interval_s": INTERVAL, **body})
        assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text
        detail: dict[str, Any] = answer.json()["detail"]
        return detail

    await refused({"alias": "latest", "version": 2}, 400, "InvalidReleasePlan")
    await refused({"alias": "prod", "version": 2}, 404, "AliasNotFound")
    await _set_alias(api, 1)
    await refused(
        {"alias": "prod", "version": 2, "steps": [50, 20, 100]}, 400, "InvalidReleasePlan"
    )
    await refused({"alias": "prod", "version": 2, "steps": [10, 50]}, 400, "InvalidReleasePlan")
    short = await refused(
        {"alias": "prod", "version": 2, "interval_s": 5}, 400, "InvalidReleasePlan"
    )
    assert short["min_interval_s"] == 30
    await refused({"alias": "prod", "version": 1}, 400, "InvalidReleasePlan")
    await refused({"alias": "prod", "version": 9}, 409, "AliasVersionNotReady")
    made = await _start(api, 2)
    await refused({"alias": "prod", "version": 2}, 409, "ReleaseInProgress")
    split = await refused({"alias": "prod", "version": 1}, 409, "ReleaseInProgress")
    assert split["release"] == made["id"]
    missing = await api.client.get(f"{url}/rel_{'0' * 26}")
    assert missing.status_code == 404 and missing.json()["error"] == "ReleaseNotFound"
    nobody = await api.client.post(
        "/api/v1/functions/nobody/releases", json={"alias": "prod", "version": 2}
    )
    assert nobody.status_code == 404 and nobody.json()["error"] == "FunctionNotFound"
