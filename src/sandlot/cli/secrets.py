"""`sandlot secrets set|list|show|delete|rotate-key`: the namespace's secrets.

A value is read from a hidden prompt or from stdin, never from an argument: arguments end up
in shell history and in every process listing on the machine.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import (
    JsonOption,
    command_group,
    fmt,
    fmt_time,
    note,
    print_json,
    print_record,
    print_table,
    say,
)

secrets_app = command_group("Set, list, show and delete the namespace's secrets.")

SecretNameArg = Annotated[str, typer.Argument(help="The secret's name (an env-var name).")]


@secrets_app.command("set")
def set_secret(
    ctx: typer.Context,
    name: SecretNameArg,
    json_output: JsonOption = False,
) -> None:
    """Set a secret: the value is prompted for (hidden), or read from stdin when piped.

    Functions that name it get the new value on their next call, without a redeploy.
    """
    value = _read_value()
    with api_session(ctx) as client:
        secret = client.set_secret(name, value)
    if json_output:
        print_json(secret)
        return
    say(f"{secret['name']} is at version {secret['version']}")
    if secret.get("used_by"):
        note(f"used by {', '.join(secret['used_by'])}: their next calls start with it")


def _read_value() -> str:
    if sys.stdin.isatty():
        value: str = typer.prompt("Value", hide_input=True, confirmation_prompt=True)
        return value
    data = sys.stdin.read()
    # One trailing newline is the shell's (`echo`, a file's last line), not the value's.
    return data[:-1] if data.endswith("\n") else data


@secrets_app.command("list")
def list_secrets(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List secrets: names, versions, who changed them and when (never a value)."""
    with api_session(ctx) as client:
        items = client.list_secrets()
    if json_output:
        print_json({"items": items})
        return
    rows = (
        [
            fmt(secret.get("name")),
            fmt(secret.get("version")),
            fmt(secret.get("updated_by")),
            fmt_time(secret.get("updated_at")),
            ", ".join(secret.get("used_by") or []) or "-",
        ]
        for secret in items
    )
    print_table(("NAME", "VERSION", "UPDATED BY", "UPDATED", "USED BY"), rows)


@secrets_app.command("show")
def show_secret(ctx: typer.Context, name: SecretNameArg, json_output: JsonOption = False) -> None:
    """One secret's metadata (never its value)."""
    with api_session(ctx) as client:
        secret = client.get_secret(name)
    if json_output:
        print_json(secret)
        return
    print_record(secret)


@secrets_app.command("delete")
def delete_secret(ctx: typer.Context, name: SecretNameArg) -> None:
    """Delete a secret that no function uses (the server names the ones that do)."""
    with api_session(ctx) as client:
        client.delete_secret(name)
    say(f"deleted {name}")


@secrets_app.command("rotate-key")
def rotate_key(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Re-encrypt every secret under a new key while functions keep running (platform admin).

    With the data dir's key file the server makes the new key itself. With
    SANDLOT_SECRET_KEY, first set the new key there and the old one in
    SANDLOT_SECRET_PREVIOUS_KEYS and restart the servers.
    """
    with api_session(ctx) as client:
        rotation = client.rotate_secret_key()
    if json_output:
        print_json(rotation)
        return
    say(f"every secret is sealed with key {rotation['key_id']} ({rotation['resealed']} re-sealed)")
    retired = rotation.get("retired_key_ids") or []
    if retired and rotation.get("source") == "settings":
        note(
            f"keys {', '.join(retired)} are no longer needed: remove them from "
            "SANDLOT_SECRET_PREVIOUS_KEYS"
        )
    elif retired:
        note(f"keys {', '.join(retired)} were dropped from the key file")
