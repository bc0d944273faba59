"""`sandlot schedules create|list|pause|resume|delete`: cron-timed asynchronous calls of a
function (the console's Schedules tab shows the same ones)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import (
    JsonOption,
    command_group,
    fmt,
    fmt_time,
    print_json,
    print_table,
    say,
)
from sandlot.cli.parsing import read_data

schedules_app = command_group("Create, list, pause, resume and delete a function's schedules.")

FunctionArg = Annotated[
    str, typer.Argument(help="The function's name, or NAME:ALIAS to call an alias's version.")
]
IdArg = Annotated[str, typer.Argument(help="The schedule's id (sch_…), from `schedules list`.")]


@schedules_app.command("create")
def create(
    ctx: typer.Context,
    function: FunctionArg,
    cron: Annotated[
        str, typer.Option("--cron", help='Five fields, e.g. "*/5 * * * *", or @hourly, @daily.')
    ],
    timezone: Annotated[
        str, typer.Option("--timezone", "--tz", help="IANA time zone the cron is read in.")
    ] = "UTC",
    event: Annotated[
        str | None,
        typer.Option("--event", "-d", help="The event each firing sends: JSON, @file or -."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Fire an asynchronous call of the function at each slot of a cron expression. With
    NAME:ALIAS each firing calls the version the alias points at when the slot comes."""
    raw = read_data(event) if event is not None else None
    with api_session(ctx) as client:
        made = client.create_schedule(function, cron, timezone=timezone, event=raw)
    if json_output:
        print_json(made)
        return
    say(f"created schedule {made['id']} of {function}: {made['cron']} ({made['timezone']})")
    say(f"next run: {fmt_time(made.get('next_run_at'))}")


@schedules_app.command("list")
def list_schedules(
    ctx: typer.Context,
    function: Annotated[
        str | None, typer.Argument(help="Only this function's (default: the namespace's).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Schedules with their next and last run."""
    with api_session(ctx) as client:
        items = client.list_schedules(function)
    if json_output:
        print_json({"items": items})
        return
    print_table(
        ("ID", "FUNCTION", "CRON", "TIMEZONE", "STATE", "NEXT RUN", "LAST RUN", "LAST CALL"),
        (_row(item) for item in items),
    )
    for item in items:
        if item.get("note"):
            say(f"{item['id']}: {item['note']}")


def _row(item: dict[str, Any]) -> list[str]:
    return [
        fmt(item.get("id")),
        fmt(_called(item)),
        fmt(item.get("cron")),
        fmt(item.get("timezone")),
        "paused" if item.get("paused") else "active",
        fmt_time(item.get("next_run_at")),
        fmt_time(item.get("last_run_at")),
        fmt(item.get("last_invocation_id")),
    ]


def _called(item: dict[str, Any]) -> str:
    alias = item.get("alias") or "latest"
    return str(item.get("function")) if alias == "latest" else f"{item.get('function')}:{alias}"


def _set_paused(ctx: typer.Context, schedule_id: str, paused: bool) -> dict[str, Any]:
    with api_session(ctx) as client:
        found = client.find_schedule(schedule_id)
        return client.change_schedule(found["function"], schedule_id, paused=paused)


@schedules_app.command("pause")
def pause(ctx: typer.Context, schedule_id: IdArg, json_output: JsonOption = False) -> None:
    """Stop firing it (until resumed)."""
    changed = _set_paused(ctx, schedule_id, True)
    if json_output:
        print_json(changed)
        return
    say(f"paused schedule {schedule_id} of {changed['function']}")


@schedules_app.command("resume")
def resume(ctx: typer.Context, schedule_id: IdArg, json_output: JsonOption = False) -> None:
    """Fire it again, from the next slot after now (slots while paused are not run)."""
    changed = _set_paused(ctx, schedule_id, False)
    if json_output:
        print_json(changed)
        return
    say(f"resumed schedule {schedule_id}; next run: {fmt_time(changed.get('next_run_at'))}")


@schedules_app.command("delete")
def delete(ctx: typer.Context, schedule_id: IdArg) -> None:
    """Delete it (calls it already queued stay queued)."""
    with api_session(ctx) as client:
        found = client.find_schedule(schedule_id)
        client.delete_schedule(found["function"], schedule_id)
    say(f"deleted schedule {schedule_id} of {found['function']}")
