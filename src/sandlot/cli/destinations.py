"""`sandlot destinations show|set` and `sandlot deliveries list|redeliver`: where a
function's async calls go when they end, and what became of each delivery.

A webhook secret is read from stdin (`--secret-from-stdin`), never from an argument:
arguments end up in shell history and in every process listing on the machine.
"""

from __future__ import annotations

import sys
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

destinations_app = command_group("Show and set where a function's async calls go when they end.")
deliveries_app = command_group("List and redeliver a function's deliveries to its destinations.")

NameArg = Annotated[str, typer.Argument(help="The function's name.")]
_TARGET_HELP = "A webhook URL (http or https), fn:NAME (or fn:NAME:ALIAS) for a function, or none."


def parse_target(text: str, option: str) -> dict[str, str] | None:
    """`https://...` a webhook, `fn:NAME` a function, `none` nothing (the server checks the
    rest: the scheme, that the function exists)."""
    if text.lower() == "none":
        return None
    if text.startswith("fn:"):
        return {"type": "function", "function": text[3:]}
    if "://" in text:
        return {"type": "webhook", "url": text}
    raise typer.BadParameter(f"expected a URL, fn:NAME or none, got {text!r}", param_hint=option)


def _describe(destination: dict[str, Any] | None) -> str:
    if destination is None:
        return "-"
    if destination.get("type") == "function":
        return f"fn:{destination.get('function')}"
    return str(destination.get("url"))


def _show(config: dict[str, Any]) -> None:
    say(f"on success: {_describe(config.get('on_success'))}")
    say(f"on failure: {_describe(config.get('on_failure'))}")
    say(f"webhook secret: {'set' if config.get('secret_set') else 'not set'}")


@destinations_app.command("show")
def show(ctx: typer.Context, name: NameArg, json_output: JsonOption = False) -> None:
    """The function's destinations on success and on failure (the secret: only if set)."""
    with api_session(ctx) as client:
        config = client.get_destinations(name)
    if json_output:
        print_json(config)
        return
    _show(config)


@destinations_app.command("set")
def set_destinations(
    ctx: typer.Context,
    name: NameArg,
    on_success: Annotated[str | None, typer.Option(help=_TARGET_HELP)] = None,
    on_failure: Annotated[str | None, typer.Option(help=_TARGET_HELP)] = None,
    secret_from_stdin: Annotated[
        bool, typer.Option(help="Read a new webhook secret (32 bytes or more) from stdin.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Set the destinations; an option left out keeps what is set. Webhooks are signed with
    the function's webhook secret, so the first webhook needs --secret-from-stdin."""
    success = None if on_success is None else parse_target(on_success, "--on-success")
    failure = None if on_failure is None else parse_target(on_failure, "--on-failure")
    secret = _read_secret() if secret_from_stdin else None
    with api_session(ctx) as client:
        current = client.get_destinations(name)
        config = client.set_destinations(
            name,
            on_success=current.get("on_success") if on_success is None else success,
            on_failure=current.get("on_failure") if on_failure is None else failure,
            secret=secret,
        )
    if json_output:
        print_json(config)
        return
    _show(config)


def _read_secret() -> str:
    if sys.stdin.isatty():
        value: str = typer.prompt("Webhook secret", hide_input=True, confirmation_prompt=True)
        return value
    data = sys.stdin.read()
    return data[:-1] if data.endswith("\n") else data


@deliveries_app.command("list")
def list_deliveries(
    ctx: typer.Context,
    name: NameArg,
    state: Annotated[
        str | None, typer.Option(help="Only pending, delivered or failed ones.")
    ] = None,
    invocation: Annotated[str | None, typer.Option(help="Only those of this invocation.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    json_output: JsonOption = False,
) -> None:
    """The function's deliveries, newest first: state, attempts, the last HTTP status."""
    with api_session(ctx) as client:
        items = client.list_deliveries(name, state=state, invocation_id=invocation, limit=limit)
    if json_output:
        print_json({"items": items})
        return
    rows = (
        [
            fmt(item.get("id")),
            fmt(item.get("invocation_id")),
            fmt(item.get("condition")),
            _describe(
                {
                    "type": item.get("type"),
                    "url": item.get("target"),
                    "function": item.get("target"),
                }
            ),
            fmt(item.get("state")),
            f"{item.get('attempts')}/{item.get('max_attempts')}",
            fmt(item.get("last_status")),
            fmt(item.get("last_error")),
            fmt_time(item.get("created_at")),
        ]
        for item in items
    )
    print_table(
        ("ID", "INVOCATION", "ON", "TO", "STATE", "ATTEMPTS", "STATUS", "ERROR", "CREATED"),
        rows,
    )


@deliveries_app.command("redeliver")
def redeliver(
    ctx: typer.Context,
    name: NameArg,
    delivery_id: Annotated[str, typer.Argument(help="The delivery's id.")],
    json_output: JsonOption = False,
) -> None:
    """Send a finished webhook delivery again, as a new delivery (signed anew)."""
    with api_session(ctx) as client:
        again = client.redeliver(name, delivery_id)
    if json_output:
        print_json(again)
        return
    say(f"redelivering as {again['id']} to {again['target']}")
