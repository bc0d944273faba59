"""`sandlot test-events list|save|delete`: a function's saved test events, shared with the
namespace (the console's Test tab shows the same ones)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

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
from sandlot.cli.parsing import check_json, read_data

test_events_app = command_group("List, save and delete a function's saved test events.")

FunctionArg = Annotated[str, typer.Argument(help="The function's name.")]
EventNameArg = Annotated[str, typer.Argument(help="The test event's name (1-100 characters).")]


@test_events_app.command("list")
def list_events(ctx: typer.Context, function: FunctionArg, json_output: JsonOption = False) -> None:
    """The function's saved test events, by name."""
    with api_session(ctx) as client:
        items = client.list_test_events(function)
    if json_output:
        print_json({"items": items})
        return
    rows = (
        [
            fmt(item.get("name")),
            _preview(item.get("event")),
            fmt(item.get("updated_by")),
            fmt_time(item.get("updated_at")),
        ]
        for item in items
    )
    print_table(("NAME", "EVENT", "UPDATED BY", "UPDATED"), rows)


def _preview(event: object) -> str:
    text = json.dumps(event, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


@test_events_app.command("save")
def save_event(
    ctx: typer.Context,
    function: FunctionArg,
    name: EventNameArg,
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="The event: JSON, @file or - (stdin).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="A file holding the event's JSON.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Save a test event (create it, or replace the one of that name)."""
    if (data is None) == (file is None):
        raise typer.BadParameter("give the event with exactly one of --data and --file")
    if file is not None:
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot read {file}: {exc.strerror}", param_hint="--file"
            ) from None
        check_json(raw, str(file))
    else:
        raw = read_data(data)
    with api_session(ctx) as client:
        saved = client.save_test_event(function, name, raw)
    if json_output:
        print_json(saved)
        return
    say(f"saved test event {saved['name']!r} of {function}")


@test_events_app.command("delete")
def delete_event(ctx: typer.Context, function: FunctionArg, name: EventNameArg) -> None:
    """Delete a saved test event."""
    with api_session(ctx) as client:
        client.delete_test_event(function, name)
    say(f"deleted test event {name!r} of {function}")
