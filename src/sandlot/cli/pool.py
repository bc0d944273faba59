"""`sandlot pool`: what the server's worker pool holds now (platform admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import JsonOption, note, print_json, print_table, say

if TYPE_CHECKING:
    from sandlot.client import JSON


def _summary(found: JSON) -> list[str]:
    instances, memory = found["instances"], found["memory"]
    return [
        f"sandbox     {found['sandbox']}"
        + ("  (functions run WITHOUT isolation)" if found["insecure"] else ""),
        f"instances   {instances['total']} ({instances['busy']} busy, {instances['idle']} idle); "
        f"{instances['charged']} of {instances['max']} charged",
        f"zygotes     {found['zygotes']}",
        f"spares      {found['spares']}",
        f"memory      {memory['reserved_mb']} MB reserved; "
        f"{memory['charged_mb']} of {memory['max_mb']} MB charged",
    ]


def _row(held: JSON) -> list[str]:
    return [
        held["namespace"],
        held["function"],
        str(held["version"]),
        str(held["instances"]),
        str(held["busy"]),
        str(held["idle"]),
        str(held["memory_mb"]),
        "yes" if held["zygote"] else "no",
        str(held["spares"]),
    ]


def pool(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the worker pool: instances, zygotes, spares and memory charged, per version."""
    with api_session(ctx) as client:
        found = client.pool()
    if json_output:
        print_json(found)
        return
    for line in _summary(found):
        say(line)
    if not found["versions"]:
        note("nothing is running")
        return
    say("")
    columns = [
        "NAMESPACE",
        "FUNCTION",
        "VERSION",
        "INSTANCES",
        "BUSY",
        "IDLE",
        "MB",
        "ZYGOTE",
        "SPARES",
    ]
    print_table(columns, [_row(held) for held in found["versions"]])
