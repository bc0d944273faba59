"""`sandlot schedules` against a real server process: create (with a zone and an event),
list, pause, resume, delete, and the named errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli_e2e import Cli, function_folder
from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.slow

SOURCE = """
def handler(event, context):
    return {"got": event}
"""


def test_schedules_through_the_cli(tmp_path: Path, database_url: str) -> None:
    env = {"SANDLOT_DATABASE_URL": database_url} if database_url.startswith("postgres") else {}
    server = start_server(tmp_path / "data", extra_env=env)
    try:
        cli = Cli(server, tmp_path)

        def ok(*args: str) -> str:
            result = cli.run(*args)
            assert result.returncode == 0, f"{args}:\n{result.stderr}"
            return result.stdout

        ok("deploy", str(function_folder(tmp_path, SOURCE)), "-n", "cron-app")
        made = json.loads(
            ok(
                "schedules", "create", "cron-app", "--cron", "0 3 1 1 *",
                "--timezone", "Europe/Berlin", "--event", '{"a": 1}', "--json",
            )
        )  # fmt: skip
        assert (made["cron"], made["timezone"], made["event"]) == (
            "0 3 1 1 *",
            "Europe/Berlin",
            {"a": 1},
        )
        said = ok("schedules", "create", "cron-app", "--cron", "@daily")
        assert "next run:" in said
        listed = json.loads(ok("schedules", "list", "cron-app", "--json"))["items"]
        assert len(listed) == 2
        table = ok("schedules", "list")
        assert made["id"] in table and "Europe/Berlin" in table and "active" in table

        paused = json.loads(ok("schedules", "pause", made["id"], "--json"))
        assert paused["paused"] is True and paused["next_run_at"] is None
        assert "resumed" in ok("schedules", "resume", made["id"])
        ok("schedules", "delete", made["id"])
        assert len(json.loads(ok("schedules", "list", "--json"))["items"]) == 1

        bad = cli.run("schedules", "create", "cron-app", "--cron", "61 * * * *")
        assert bad.returncode != 0 and "InvalidSchedule" in bad.stderr + bad.stdout
        zone = cli.run("schedules", "create", "cron-app", "--cron", "@daily", "--tz", "Nowhere/X")
        assert zone.returncode != 0 and "InvalidTimezone" in zone.stderr + zone.stdout
        gone = cli.run("schedules", "pause", made["id"])
        assert gone.returncode != 0 and "ScheduleNotFound" in gone.stderr + gone.stdout
    finally:
        stop_server(server)
