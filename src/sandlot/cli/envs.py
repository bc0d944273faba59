"""`sandlot envs list|prune`: the dependency environments on the server."""

from __future__ import annotations

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

envs_app = command_group("List and prune dependency environments.")


def _size(size_bytes: int) -> str:
    return f"{size_bytes / (1024 * 1024):.1f} MiB"


@envs_app.command("list")
def list_envs(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Every environment, its size, when it was last used, and whether a version uses it."""
    with api_session(ctx) as client:
        items = client.list_environments()
    if json_output:
        print_json({"items": items})
        return
    rows = (
        [
            fmt(env.get("key"))[:16],
            _size(int(env.get("size_bytes", 0))),
            fmt_time(env.get("last_used_at")),
            "yes" if env.get("in_use") else "no",
        ]
        for env in items
    )
    print_table(["KEY", "SIZE", "LAST USED", "IN USE"], rows)


@envs_app.command("prune")
def prune_envs(
    ctx: typer.Context,
    grace: Annotated[
        float | None,
        typer.Option(help="Seconds unused before removal (default: the server's setting)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Remove environments that no version uses."""
    with api_session(ctx) as client:
        removed = client.prune_environments(grace)
    if json_output:
        print_json({"removed": removed})
        return
    say(f"removed {len(removed)} environment(s)")
