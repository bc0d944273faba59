"""`sandlot aliases list|set|delete`, `sandlot rollback` and `sandlot history`."""

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
from sandlot.cli.parsing import check_name

aliases_app = command_group("List, set and delete a function's aliases (call them as NAME:ALIAS).")

NameArg = Annotated[str, typer.Argument(help="The function's name.", callback=check_name)]
AliasArg = Annotated[str, typer.Argument(help="The alias, e.g. prod.")]


def routes_text(routes: list[dict[str, Any]]) -> str:
    if not routes:
        return "-"
    if len(routes) == 1:
        return f"v{routes[0]['version']}"
    return ", ".join(f"v{route['version']} {route['weight']}%" for route in routes)


def parse_routes(given: list[str]) -> list[dict[str, int]]:
    """`4` (one version) or `4=10 3=90` (version=weight, weights summing to 100)."""
    if len(given) == 1 and "=" not in given[0]:
        return [{"version": _number(given[0], "version"), "weight": 100}]
    routes = []
    for item in given:
        version, equals, weight = item.partition("=")
        if not equals:
            raise typer.BadParameter(f"{item!r}: give VERSION=WEIGHT for each version of a split")
        routes.append(
            {
                "version": _number(version, "version"),
                "weight": _number(weight.rstrip("%"), "weight"),
            }
        )
    return routes


def _number(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise typer.BadParameter(f"{text!r} is not a {what} (a whole number)")
    return int(text)


@aliases_app.command("list")
def list_aliases(ctx: typer.Context, function: NameArg, json_output: JsonOption = False) -> None:
    """A function's aliases and where each points (`latest` first)."""
    with api_session(ctx) as client:
        items = client.list_aliases(function)
    if json_output:
        print_json({"items": items})
        return
    print_table(
        ("ALIAS", "ROUTES", "RELEASE", "UPDATED", "BY"),
        (
            (
                item["name"],
                routes_text(item["routes"]),
                fmt(item["release_id"]),
                fmt_time(item["updated_at"]),
                fmt(item["updated_by"]),
            )
            for item in items
        ),
    )


@aliases_app.command("set")
def set_alias(
    ctx: typer.Context,
    function: NameArg,
    alias: AliasArg,
    routes: Annotated[
        list[str],
        typer.Argument(help="A version (4), or VERSION=WEIGHT for each of a split (4=10 3=90)."),
    ],
    json_output: JsonOption = False,
) -> None:
    """Make an alias or point it elsewhere: one version, or a split by weight."""
    parsed = parse_routes(routes)
    with api_session(ctx) as client:
        shown = client.set_alias(function, alias, parsed)
    if json_output:
        print_json(shown)
        return
    say(f"{function}:{shown['name']} -> {routes_text(shown['routes'])}")


@aliases_app.command("delete")
def delete_alias(ctx: typer.Context, function: NameArg, alias: AliasArg) -> None:
    """Delete an alias (refused while a schedule, a URL or a release uses it)."""
    with api_session(ctx) as client:
        client.delete_alias(function, alias)
    say(f"deleted {function}:{alias}")


def rollback(
    ctx: typer.Context,
    function: NameArg,
    alias: Annotated[str, typer.Option("--alias", help="The alias to move back.")] = "latest",
    to: Annotated[
        int | None, typer.Option("--to", help="Point it at this version instead.", min=1)
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Point an alias (default latest) back at what it served before, or at --to N, at once.
    Rolling back again goes back one more change."""
    with api_session(ctx) as client:
        shown = client.rollback(function, alias, to)
    if json_output:
        print_json(shown)
        return
    say(f"{function}:{shown['name']} -> {routes_text(shown['routes'])}")


def history(
    ctx: typer.Context,
    function: NameArg,
    alias: Annotated[str | None, typer.Option("--alias", help="Only this alias's moves.")] = None,
    limit: Annotated[int, typer.Option(help="How many entries.", min=1, max=200)] = 50,
    json_output: JsonOption = False,
) -> None:
    """The deploy history: every move of an alias or of latest, newest first."""
    with api_session(ctx) as client:
        page = client.history(function, alias=alias, limit=limit)
    if json_output:
        print_json(page)
        return
    print_table(
        ("AT", "ALIAS", "FROM", "TO", "REASON", "BY", "RELEASE"),
        (
            (
                fmt_time(item["at"]),
                item["alias"],
                routes_text(item["before"]),
                routes_text(item["after"]),
                item["reason"],
                item["actor"],
                fmt(item["release_id"]),
            )
            for item in page["items"]
        ),
    )
