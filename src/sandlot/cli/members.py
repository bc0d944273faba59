"""`sandlot members add|list|set-role|remove`: people and their roles in a namespace."""

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

members_app = command_group("Add, list, change and remove a namespace's members.")

NamespaceArgument = Annotated[str, typer.Argument(help="The namespace's name.")]
LoginArgument = Annotated[str, typer.Argument(help="The user's login.")]
RoleArgument = Annotated[
    str, typer.Argument(help="owner, developer, invoker or viewer (never above your own).")
]


@members_app.command("list")
def list_members(
    ctx: typer.Context, namespace: NamespaceArgument, json_output: JsonOption = False
) -> None:
    """The namespace's members and their roles."""
    with api_session(ctx) as client:
        items = client.list_members(namespace)
    if json_output:
        print_json({"items": items})
        return
    rows = (
        [
            fmt(item.get("login")),
            fmt(item.get("display_name")),
            fmt(item.get("role")),
            fmt_time(item.get("created_at")),
        ]
        for item in items
    )
    print_table(("LOGIN", "NAME", "ROLE", "SINCE"), rows)


@members_app.command("add")
def add_member(
    ctx: typer.Context,
    namespace: NamespaceArgument,
    login: LoginArgument,
    role: RoleArgument,
    json_output: JsonOption = False,
) -> None:
    """Make a user a member of the namespace with a role."""
    with api_session(ctx) as client:
        _print_member(client.add_member(namespace, login, role), namespace, json_output)


@members_app.command("set-role")
def set_role(
    ctx: typer.Context,
    namespace: NamespaceArgument,
    login: LoginArgument,
    role: RoleArgument,
    json_output: JsonOption = False,
) -> None:
    """Change a member's role (a namespace always keeps one owner)."""
    with api_session(ctx) as client:
        _print_member(client.set_member_role(namespace, login, role), namespace, json_output)


def _print_member(member: dict[str, Any], namespace: str, json_output: bool) -> None:
    if json_output:
        print_json(member)
    else:
        say(f"{member['login']} is now {member['role']} in {namespace}")


@members_app.command("remove")
def remove_member(ctx: typer.Context, namespace: NamespaceArgument, login: LoginArgument) -> None:
    """Remove a member (never the namespace's last owner)."""
    with api_session(ctx) as client:
        client.remove_member(namespace, login)
    say(f"{login} is no longer a member of {namespace}")
