"""`sandlot keys create|list|revoke`: API keys of this namespace."""

from __future__ import annotations

from enum import StrEnum
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
    print_table,
    say,
)

keys_app = command_group("Create, list and revoke API keys.")


class Role(StrEnum):
    ADMIN = "admin"
    DEVELOPER = "developer"
    INVOKER = "invoker"


@keys_app.command("create")
def create_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="A label for the key.")],
    role: Annotated[Role, typer.Option("--role", "-r", help="What the key may do.")],
    json_output: JsonOption = False,
) -> None:
    """Create a key. Its secret is printed this once only."""
    with api_session(ctx) as client:
        created = client.create_key(name, role.value)
    if json_output:
        print_json(created)
        return
    say(created["key"])
    note(
        f"key {created['id']} ({created['name']}, {created['role']}): store it now, "
        "it will not be shown again."
    )


@keys_app.command("list")
def list_keys(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List keys (their prefixes, never the secrets)."""
    with api_session(ctx) as client:
        items = client.list_keys()
    if json_output:
        print_json({"items": items})
        return
    rows = (
        [
            fmt(key.get("id")),
            fmt(key.get("name")),
            fmt(key.get("role")),
            fmt(key.get("prefix")),
            fmt_time(key.get("created_at")),
        ]
        for key in items
    )
    print_table(("ID", "NAME", "ROLE", "PREFIX", "CREATED"), rows)


@keys_app.command("revoke")
def revoke_key(
    ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="The key's id.")]
) -> None:
    """Revoke a key: it stops working at once."""
    with api_session(ctx) as client:
        client.revoke_key(key_id)
    say(f"revoked {key_id}")
