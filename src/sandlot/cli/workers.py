"""`sandlot workers list|drain`: the workers that run functions, and asking one to drain
(platform admin). On one machine the one entry is the server itself, `local`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import JsonOption, command_group, fmt, note, print_json, print_table, say

if TYPE_CHECKING:
    from sandlot.client import JSON

workers_app = command_group("List the workers that run functions; drain one.")

COLUMNS = ["ID", "STATE", "URL", "LOAD", "FREE MB", "WARM", "HEARTBEAT"]


def _warm(worker: JSON) -> str:
    """Each version it holds as function:version, with its idle instances if any."""
    cells = []
    for held in worker["warm"]:
        idle = f" ({held['idle']} idle)" if held["idle"] else ""
        cells.append(f"{held['function']}:{held['version']}{idle}")
    return ", ".join(cells) or "-"


def _age(age_s: float | None) -> str:
    if age_s is None:
        return "never"
    return f"{age_s:.1f}s ago" if age_s < 120 else f"{age_s / 60:.0f}m ago"


def _row(worker: JSON) -> list[str]:
    return [
        worker["id"],
        worker["state"],
        fmt(worker["url"]),
        f"{worker['busy']}/{worker['instances']} (max {worker['max_instances']})",
        f"{worker['free_mb']} of {worker['max_memory_mb']}",
        _warm(worker),
        _age(worker["age_s"]),
    ]


@workers_app.command("list")
def list_workers(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """The workers: state (ready, draining, stale), load (busy/instances), free memory,
    warm versions and how long ago each last heartbeat was."""
    with api_session(ctx) as client:
        found = client.list_workers()
    if json_output:
        print_json(found)
        return
    if found["mode"] == "single":
        note("one process runs everything (no workers registered): its own pool is 'local'")
    if not found["workers"]:
        note("no workers registered")
        return
    print_table(COLUMNS, [_row(worker) for worker in found["workers"]])


@workers_app.command("drain")
def drain_worker(
    ctx: typer.Context,
    worker_id: Annotated[str, typer.Argument(help="The worker's id (`sandlot workers list`).")],
    json_output: JsonOption = False,
) -> None:
    """Ask a worker to drain: at its next heartbeat it stops taking calls, finishes the
    ones it runs, hands back its queued work and exits."""
    with api_session(ctx) as client:
        answer = client.drain_worker(worker_id)
    if json_output:
        print_json(answer)
        return
    say(answer["message"])
