"""Schedules through the real app (SQLite and PostgreSQL): create, list, pause, resume,
delete, the named errors, and firings queued by `Scheduler.run_once` at explicit times:
exactly once per slot across a restart and across two servers on one database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sandlot.services.scheduler import Scheduler
from tests.conftest import Api, open_api

ECHO = {"main.py": "def handler(event, context):\n    return event\n"}
# A slot far from now, so that nothing fires while a test runs unless it says so.
YEARLY = "0 3 1 1 *"


def scheduler_of(api: Api) -> Scheduler:
    scheduler = api.runtime.scheduler
    assert scheduler is not None
    return scheduler


async def _create(api: Api, name: str = "echo", **body: Any) -> dict[str, Any]:
    answer = await api.client.post(f"/api/v1/functions/{name}/schedules", json=body)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def _get(api: Api, schedule_id: str, name: str = "echo") -> dict[str, Any]:
    answer = await api.client.get(f"/api/v1/functions/{name}/schedules/{schedule_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def _scheduled_calls(api: Api) -> list[dict[str, Any]]:
    answer = await api.client.get("/api/v1/invocations", params={"function": "echo"})
    assert answer.status_code == 200, answer.text
    return [item for item in answer.json()["items"] if item["trigger"] == "schedule"]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_schedule_is_made_listed_paused_resumed_and_deleted(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    made = await _create(api, cron="30 2 * * *", timezone="Europe/Berlin", event={"n": 1})
    assert made["function"] == "echo" and made["cron"] == "30 2 * * *"
    assert made["timezone"] == "Europe/Berlin" and made["event"] == {"n": 1}
    assert made["paused"] is False and made["last_run_at"] is None
    assert len(made["next_runs"]) == 3 and made["next_runs"][0] == made["next_run_at"]
    assert _at(made["next_run_at"]) > datetime.now(UTC)

    listed = (await api.client.get("/api/v1/functions/echo/schedules")).json()["items"]
    assert [item["id"] for item in listed] == [made["id"]]
    everywhere = (await api.client.get("/api/v1/schedules")).json()["items"]
    assert made["id"] in [item["id"] for item in everywhere]

    path = f"/api/v1/functions/echo/schedules/{made['id']}"
    paused = (await api.client.patch(path, json={"paused": True})).json()
    assert paused["paused"] is True and paused["next_run_at"] is None and paused["next_runs"] == []
    resumed = (await api.client.patch(path, json={"paused": False})).json()
    assert resumed["paused"] is False and resumed["next_run_at"] == made["next_run_at"]
    changed = (await api.client.patch(path, json={"cron": "@hourly", "event": [1, 2]})).json()
    assert changed["cron"] == "@hourly" and changed["event"] == [1, 2]
    assert _at(changed["next_run_at"]) - datetime.now(UTC) <= timedelta(hours=1)

    assert (await api.client.delete(path)).status_code == 204
    gone = await api.client.get(path)
    assert gone.status_code == 404 and gone.json()["error"] == "ScheduleNotFound"
    actions = [
        event["action"]
        for event in (await api.client.get("/api/v1/audit")).json()["items"]
        if event["action"].startswith("schedule.")
    ]
    assert sorted(actions) == sorted(
        ["schedule.create"] + ["schedule.change"] * 3 + ["schedule.delete"]
    )


async def test_bad_expressions_and_zones_are_named_errors(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    url = "/api/v1/functions/echo/schedules"
    bad = await api.client.post(url, json={"cron": "61 * * * *"})
    assert bad.status_code == 400 and bad.json()["error"] == "InvalidSchedule"
    assert "out of range" in bad.json()["detail"]["reason"]
    zone = await api.client.post(url, json={"cron": YEARLY, "timezone": "Mars/Olympus"})
    assert zone.status_code == 400 and zone.json()["error"] == "InvalidTimezone"
    missing = await api.client.post("/api/v1/functions/nobody/schedules", json={"cron": YEARLY})
    assert missing.status_code == 404 and missing.json()["error"] == "FunctionNotFound"
    unknown = await api.client.patch(f"{url}/sch_nothing", json={"paused": True})
    assert unknown.status_code == 404 and unknown.json()["error"] == "ScheduleNotFound"
    preview = await api.client.get("/api/v1/schedules/preview", params={"cron": "@daily"})
    assert preview.status_code == 200 and len(preview.json()["next_runs"]) == 3
    wrong = await api.client.get("/api/v1/schedules/preview", params={"cron": "x"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "InvalidSchedule"


async def test_a_due_slot_fires_one_scheduled_call_and_says_what_it_skipped(
    tmp_path: Path, database_url: str
) -> None:
    async with open_api(tmp_path / "data", database_url, scheduler=False) as api:
        assert (await api.deploy("echo", ECHO)).status_code == 201
        made = await _create(api, cron="*/5 * * * *", event={"tick": True})
        first = _at(made["next_run_at"])
        # The server was "down" for an hour after the first slot: 12 slots missed, 1 runs.
        now = first + timedelta(hours=1, minutes=2)
        fired = await scheduler_of(api).run_once(now=now)
        assert [(one.slot, one.skipped) for one in fired] == [(first + timedelta(hours=1), 12)]
        assert await scheduler_of(api).run_once(now=now) == []
        calls = await _scheduled_calls(api)
        assert [call["id"] for call in calls] == [fired[0].invocation_id]
        assert calls[0]["state"] in ("queued", "running", "succeeded")
        schedule = await _get(api, made["id"])
        assert schedule["last_invocation_id"] == fired[0].invocation_id
        assert _at(schedule["last_run_at"]) == first + timedelta(hours=1)
        assert _at(schedule["next_run_at"]) == first + timedelta(hours=1, minutes=5)
        assert schedule["skipped_slots"] == 12 and schedule["skipped_total"] == 12
        assert "12 missed slots were skipped" in schedule["note"]


async def test_a_paused_schedule_does_not_fire(tmp_path: Path, database_url: str) -> None:
    async with open_api(tmp_path / "data", database_url, scheduler=False) as api:
        assert (await api.deploy("echo", ECHO)).status_code == 201
        made = await _create(api, cron="*/5 * * * *", paused=True)
        assert made["next_run_at"] is None
        later = datetime.now(UTC) + timedelta(hours=1)
        assert await scheduler_of(api).run_once(now=later) == []
        assert await _scheduled_calls(api) == []


async def test_a_slot_fires_once_across_a_restart(tmp_path: Path, database_url: str) -> None:
    async with open_api(tmp_path / "data", database_url, scheduler=False) as api:
        assert (await api.deploy("echo", ECHO)).status_code == 201
        made = await _create(api, cron="*/5 * * * *")
        slot = _at(made["next_run_at"])
        assert len(await scheduler_of(api).run_once(now=slot + timedelta(seconds=1))) == 1
    async with open_api(tmp_path / "data", database_url, scheduler=False) as again:
        assert await scheduler_of(again).run_once(now=slot + timedelta(seconds=2)) == []
        assert len(await _scheduled_calls(again)) == 1
        nxt = await scheduler_of(again).run_once(now=slot + timedelta(minutes=5))
        assert [one.slot for one in nxt] == [slot + timedelta(minutes=5)]


async def test_two_servers_on_one_database_fire_a_slot_once(
    tmp_path: Path, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        # One server per SQLite data dir; the restart test covers SQLite.
        return
    async with (
        open_api(tmp_path / "a", database_url, scheduler=False) as one,
        open_api(tmp_path / "b", database_url, scheduler=False) as two,
    ):
        assert (await one.deploy("echo", ECHO)).status_code == 201
        made = [await _create(one, cron="*/5 * * * *") for _ in range(5)]
        slot = _at(made[0]["next_run_at"])
        now = slot + timedelta(seconds=1)
        fired = []
        for _ in range(3):  # the same slot, looked at by both at once, again and again
            for result in await asyncio.gather(
                scheduler_of(one).run_once(now=now), scheduler_of(two).run_once(now=now)
            ):
                fired.extend(result)
        assert sorted(one_fired.schedule_id for one_fired in fired) == sorted(
            schedule["id"] for schedule in made
        )
        assert len(await _scheduled_calls(one)) == 5
        assert len(await _scheduled_calls(two)) == 5


async def test_a_fired_slot_runs_with_the_schedules_event(
    tmp_path: Path, database_url: str
) -> None:
    from tests.api.test_async_runner import ended

    async with open_api(tmp_path / "data", database_url, scheduler=False) as api:
        assert (await api.deploy("echo", ECHO)).status_code == 201
        made = await _create(api, cron="*/5 * * * *", event={"from": "schedule"})
        fired = await scheduler_of(api).run_once(now=_at(made["next_run_at"]))
        assert len(fired) == 1
        done = await ended(api, fired[0].invocation_id)
        assert done["state"] == "succeeded", done
        assert done["trigger"] == "schedule" and done["result"] == {"from": "schedule"}


async def test_the_slot_key_refuses_a_second_firing_of_one_slot(
    tmp_path: Path, database_url: str
) -> None:
    """The backstop under the row lock: whoever inserts a taken slot is refused, and rolls
    back (the scheduler's transaction takes its queued call with it)."""
    from sandlot.storage.schedules import ScheduleRepo

    async with open_api(tmp_path / "data", database_url, scheduler=False) as api:
        assert (await api.deploy("echo", ECHO)).status_code == 201
        made = await _create(api, cron="*/5 * * * *")
        slot = _at(made["next_run_at"])
        fired = await scheduler_of(api).run_once(now=slot)
        assert len(fired) == 1
        async with api.runtime.database.sessions() as session, session.begin():
            taken = await ScheduleRepo(session).take_slot(
                schedule_id=made["id"], slot=slot, invocation_id="x" * 26, now=slot, by="test"
            )
            assert taken is False
            await session.rollback()
        async with api.runtime.database.sessions() as session, session.begin():
            later = slot + timedelta(minutes=5)
            assert await ScheduleRepo(session).take_slot(
                schedule_id=made["id"], slot=later, invocation_id="y" * 26, now=later, by="test"
            )
