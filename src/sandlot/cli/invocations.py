"""`sandlot invocations list|get|logs` and `sandlot logs NAME [--follow]`."""

from __future__ import annotations

import contextlib
import time
from typing import Annotated

import typer

from sandlot.cli.config import api_session
from sandlot.cli.functions import NameArg
from sandlot.cli.output import (
    JsonOption,
    fmt,
    fmt_time,
    print_json,
    print_record,
    print_table,
    stderr,
    stdout,
)
from sandlot.client import JSON, ApiError, SandlotClient
from sandlot.domain.states import FINAL_INVOCATION_STATES, InvocationState

invocations_app = typer.Typer(help="List and inspect invocations.", no_args_is_help=True)

_FINAL = frozenset(state.value for state in FINAL_INVOCATION_STATES)
# How many invocations one --follow request asks for (the server's largest page).
_FOLLOW_PAGE = 200

IdArg = Annotated[str, typer.Argument(help="The invocation id.")]


@invocations_app.command("list")
def list_invocations(
    ctx: typer.Context,
    function: Annotated[
        str | None, typer.Option("--function", "-f", help="Only this function.")
    ] = None,
    state: Annotated[InvocationState | None, typer.Option(help="Only in this state.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.", min=1)] = None,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List invocations, newest first."""
    with api_session(ctx) as client:
        page = client.list_invocations(
            function=function, state=state.value if state else None, limit=limit, cursor=cursor
        )
    if json_output:
        print_json(page)
        return
    columns = ("ID", "FUNCTION", "VERSION", "STATE", "COLD", "MS", "CREATED")
    print_table(columns, (_invocation_row(item) for item in page["items"]))
    if page.get("next_cursor"):
        stderr.print(f"more: --cursor {page['next_cursor']}", style="dim")


def _invocation_row(invocation: JSON) -> list[str]:
    return [
        invocation["id"],
        fmt(invocation.get("function")),
        fmt(invocation.get("version")),
        fmt(invocation.get("state")),
        fmt(invocation.get("cold_start")),
        fmt(invocation.get("duration_ms")),
        fmt_time(invocation.get("created_at")),
    ]


@invocations_app.command("get")
def get_invocation(
    ctx: typer.Context, invocation_id: IdArg, json_output: JsonOption = False
) -> None:
    """Show one invocation: timings, result or error, and the start of its logs."""
    with api_session(ctx) as client:
        invocation = client.get_invocation(invocation_id)
    if json_output:
        print_json(invocation)
    else:
        print_record(invocation)


@invocations_app.command("logs")
def invocation_logs(ctx: typer.Context, invocation_id: IdArg) -> None:
    """Print all captured output of one invocation."""
    with api_session(ctx) as client:
        _echo_raw(client.get_invocation_logs(invocation_id))


def logs(
    ctx: typer.Context,
    name: NameArg,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new invocations until Ctrl-C.")
    ] = False,
    limit: Annotated[int, typer.Option(help="How many recent invocations.", min=1)] = 20,
    interval: Annotated[float, typer.Option(help="Seconds between polls.", hidden=True)] = 1.0,
) -> None:
    """Print the logs of a function's recent invocations, oldest first."""
    with api_session(ctx) as client:
        client.get_function(name)  # so that a typo says FunctionNotFound, not nothing at all
        if not follow:
            recent = client.list_invocations(function=name, limit=limit)["items"]
            for invocation in reversed(recent):
                _print_logs(client, invocation)
            return
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how --follow is meant to end
            _follow(client, name, limit, interval)


def _follow(client: SandlotClient, name: str, limit: int, interval: float) -> None:
    """Print the newest `limit` invocations, then every new one, each once: new ones are read
    by cursor, oldest first (the server lists every call with a smaller id before a larger
    one, a call still running as `running`), and one still running is printed when it ends,
    so that its logs are whole."""
    recent = client.list_invocations(function=name, limit=limit)["items"]  # newest first
    running: list[str] = []
    for invocation in reversed(recent):
        _print_when_ended(client, invocation, running)
    # No history yet: every invocation from the first on is new ("" sorts before any id).
    cursor = recent[0]["id"] if recent else ""
    while True:
        cursor = _print_new(client, name, cursor, running)
        running[:] = [i for i in running if not _printed_if_ended(client, i)]
        time.sleep(interval)


def _print_new(client: SandlotClient, name: str, cursor: str, running: list[str]) -> str:
    """Print what was recorded after `cursor`, page by page; returns the new cursor."""
    while True:
        page = client.list_invocations(function=name, after=cursor, limit=_FOLLOW_PAGE)
        for invocation in page["items"]:
            _print_when_ended(client, invocation, running)
            cursor = invocation["id"]
        if not page.get("next_cursor"):
            return cursor


def _print_when_ended(client: SandlotClient, invocation: JSON, running: list[str]) -> None:
    if invocation["state"] in _FINAL:
        _print_logs(client, invocation)
    else:
        running.append(invocation["id"])


def _printed_if_ended(client: SandlotClient, invocation_id: str) -> bool:
    """Print a call seen running if it has ended; True once it needs no more looking at."""
    try:
        invocation = client.get_invocation(invocation_id)
    except ApiError as exc:
        if exc.status == 404:  # refused before it ran (it waited for a slot, then got 429)
            return True
        raise
    if invocation["state"] not in _FINAL:
        return False
    _print_logs(client, invocation)
    return True


def _print_logs(client: SandlotClient, invocation: JSON) -> None:
    header = (
        f"==> {fmt_time(invocation.get('created_at'))}  {invocation['id']}  "
        f"{invocation.get('state')}  v{fmt(invocation.get('version'))}  "
        f"{fmt(invocation.get('duration_ms'))} ms"
    )
    stdout.print(header, style="bold", soft_wrap=True)
    error = invocation.get("error")
    if isinstance(error, dict) and error.get("message"):
        kind = error.get("exception_type") or error.get("kind") or "error"
        stdout.print(f"{kind}: {error['message']}", style="red", soft_wrap=True)
    excerpt = invocation.get("log_excerpt")
    if invocation.get("logs_truncated") or excerpt is None:
        excerpt = client.get_invocation_logs(invocation["id"])
    _echo_raw(excerpt)


def _echo_raw(text: str) -> None:
    # Log text is printed byte for byte: Rich would wrap long lines and read brackets.
    if text:
        typer.echo(text, nl=not text.endswith("\n"))
