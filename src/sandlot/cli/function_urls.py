"""`sandlot url NAME`: show, set or delete a function's public URL."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import JsonOption, fmt_time, print_json, say


class UrlAuth(StrEnum):
    NONE = "none"
    KEY = "key"


FunctionArg = Annotated[
    str, typer.Argument(help="The function's name, or NAME:ALIAS for the URL of an alias.")
]


def url(
    ctx: typer.Context,
    function: FunctionArg,
    auth: Annotated[
        UrlAuth | None,
        typer.Option(
            "--auth", help="Give the function a URL: `key` (callers send an API key) or `none`."
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="An origin allowed from a browser (repeat), or '*'."),
    ] = None,
    cors_method: Annotated[
        list[str] | None, typer.Option("--cors-method", help="A method allowed (repeat).")
    ] = None,
    cors_header: Annotated[
        list[str] | None, typer.Option("--cors-header", help="A request header allowed (repeat).")
    ] = None,
    cors_expose: Annotated[
        list[str] | None,
        typer.Option("--cors-expose", help="A response header a page may read (repeat)."),
    ] = None,
    cors_credentials: Annotated[
        bool, typer.Option("--cors-credentials", help="Allow cookies (needs explicit origins).")
    ] = False,
    cors_max_age: Annotated[
        int | None, typer.Option("--cors-max-age", help="Seconds a preflight may be cached.")
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Take the URL down.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Show a function's public URL; with --auth (and --cors-*), set it; --delete removes it.
    NAME:ALIAS is the URL of that alias (`/fn/{namespace}/NAME:ALIAS/`)."""
    cors_given = bool(cors_origin or cors_method or cors_header or cors_expose) or (
        cors_credentials or cors_max_age is not None
    )
    if delete and (auth is not None or cors_given):
        raise typer.BadParameter("--delete takes no other settings")
    with api_session(ctx) as client:
        if delete:
            client.delete_function_url(function)
            shown = client.get_function_url(function)
        elif auth is None and not cors_given:
            shown = client.get_function_url(function)
        else:
            if auth is None:  # only CORS given: keep the URL's auth, else the safe default
                auth = UrlAuth(client.get_function_url(function).get("auth") or UrlAuth.KEY)
            cors = {
                "allow_origins": cors_origin or [],
                "allow_methods": cors_method or [],
                "allow_headers": cors_header or [],
                "expose_headers": cors_expose or [],
                "allow_credentials": cors_credentials,
                "max_age": cors_max_age,
            }
            shown = client.set_function_url(function, auth.value, cors)
    if json_output:
        print_json(shown)
        return
    _show(shown)


def _show(shown: dict[str, Any]) -> None:
    called = _called(shown)
    if not shown.get("enabled"):
        say(f"{called} has no URL (give it one: sandlot url {called} --auth key)")
        return
    say(shown["url"], bold=True)
    say(f"auth: {shown['auth']}")
    cors = shown.get("cors") or {}
    origins = cors.get("allow_origins") or []
    say(f"CORS: {', '.join(origins) if origins else 'off'}")
    for label, name in (
        ("methods", "allow_methods"),
        ("headers", "allow_headers"),
        ("exposes", "expose_headers"),
    ):
        if cors.get(name):
            say(f"  {label}: {', '.join(cors[name])}")
    if cors.get("allow_credentials"):
        say("  credentials: allowed")
    if cors.get("max_age") is not None:
        say(f"  max age: {cors['max_age']} s")
    say(f"updated {fmt_time(shown.get('updated_at'))} by {shown.get('updated_by')}")


def _called(shown: dict[str, Any]) -> str:
    alias = shown.get("alias") or "latest"
    return shown["function"] if alias == "latest" else f"{shown['function']}:{alias}"


def register(app: typer.Typer) -> None:
    app.command()(url)
