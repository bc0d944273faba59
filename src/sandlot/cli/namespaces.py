"""`sandlot namespaces create|list|show|rename|delete`: the tenants of a Sandlot."""

from __future__ import annotations

from typing import Annotated, Any

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

namespaces_app = command_group("Create, list, show, rename and delete namespaces.")

NameArgument = Annotated[str, typer.Argument(help="The namespace's name.")]


def _show(namespace: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print_json(namespace)
    else:
        print_record({k: v for k, v in namespace.items() if v is not None})


@namespaces_app.command("create")
def create_namespace(
    ctx: typer.Context,
    name: NameArgument,
    display_name: Annotated[
        str | None, typer.Option("--display-name", "-d", help="A name for people.")
    ] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="A user's login: its first owner.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create a namespace (the platform admin only)."""
    with api_session(ctx) as client:
        created = client.create_namespace(name, display_name=display_name, owner=owner)
    if json_output:
        print_json(created)
        return
    say(f"created namespace {created['name']}" + (f" (owner: {owner})" if owner else ""))


@namespaces_app.command("list")
def list_namespaces(
    ctx: typer.Context,
    deleted: Annotated[
        bool, typer.Option("--deleted", help="Deleted ones too (the platform admin).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Namespaces you can see and your role in each: all of them for the platform admin."""
    with api_session(ctx) as client:
        items = client.list_namespaces(include_deleted=deleted)
    if json_output:
        print_json({"items": items})
        return
    rows = (
        [
            fmt(item.get("name")),
            fmt(item.get("display_name")),
            fmt(item.get("role")),
            fmt_time(item.get("created_at")),
            fmt_time(item.get("deleted_at")) if item.get("deleted_at") else "",
        ]
        for item in items
    )
    print_table(("NAME", "DISPLAY NAME", "YOUR ROLE", "CREATED", "DELETED"), rows)


@namespaces_app.command("show")
def show_namespace(ctx: typer.Context, name: NameArgument, json_output: JsonOption = False) -> None:
    """One namespace: its names, when it was made, your role there."""
    with api_session(ctx) as client:
        _show(client.get_namespace(name), json_output)


@namespaces_app.command("rename")
def rename_namespace(
    ctx: typer.Context,
    name: NameArgument,
    display_name: Annotated[str, typer.Argument(help="The new display name ('' clears it).")],
    json_output: JsonOption = False,
) -> None:
    """Change a namespace's display name (its name, used in paths, never changes)."""
    with api_session(ctx) as client:
        updated = client.rename_namespace(name, display_name or None)
    if json_output:
        print_json(updated)
        return
    say(f"namespace {name} is now shown as {updated.get('display_name') or name!r}")


@namespaces_app.command("delete")
def delete_namespace(
    ctx: typer.Context,
    name: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a namespace: its functions stop, its keys are revoked; its history stays."""
    if not yes:
        typer.confirm(
            f"Delete namespace {name!r}? Its functions stop and its keys stop working.",
            abort=True,
        )
    with api_session(ctx) as client:
        client.delete_namespace(name)
    say(f"deleted namespace {name}")
    note("its history stays readable to the platform admin")
